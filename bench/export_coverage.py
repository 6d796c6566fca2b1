"""How much of other products' exports an import places with no mapping given.

Run:  python bench/export_coverage.py [--before CHECKOUT] [FILE...]

For each file (by default the samples tests/data/exports/build.py writes, one or more
per product, plus any FILE given), a fresh SQLite tenant with the contacts pack imports
it with no mapping, and the line shows: the product named, the columns placed among the
columns a user expects imported (those holding a value in some row, less those the
vocabulary knows and leaves out on purpose: photos, phonetic names, Outlook's
``Title``...), and the people created among the file's rows. ``--before CHECKOUT``
runs the same import with the crmkit of another checkout (an older release) in a child
process, so both figures come from the same files in the same run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "data" / "exports"))


def measure(files: list[Path]) -> dict[str, dict[str, object]]:
    """Import each file into its own tenant; file name to mapping and counts."""
    from crmkit import CRM

    out: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as folder:
        crm = CRM(f"sqlite:///{folder}/coverage.sqlite")
        crm.migrate()
        for number, path in enumerate(files):
            tenant = crm.configure_tenant(f"t{number}", ["contacts"])
            try:
                summary = tenant.import_contacts(
                    path, match="none", errors_path=Path(folder) / "errors.csv"
                )
            except Exception as exc:  # an older release may refuse a file outright
                out[path.name] = {"error": str(exc), "mapping": {}, "created": 0}
                continue
            out[path.name] = {
                "mapping": summary.mapping,
                "created": summary.created,
                "product": getattr(summary, "product", None),
            }
        crm.close()
    return out


def expected_columns(path: Path) -> tuple[list[str], int]:
    """The columns holding a value in some row, less those left out on purpose, and
    how many people (data rows) the file has, as this checkout reads it."""
    from crmkit.transfer.importer import prepare
    from crmkit.transfer.vocabulary import target_for

    with tempfile.TemporaryDirectory() as folder:
        from crmkit import CRM

        crm = CRM(f"sqlite:///{folder}/read.sqlite")
        crm.migrate()
        tenant = crm.configure_tenant("t", ["contacts"])
        table, _, _ = prepare(tenant.context, path)
        filled: set[int] = set()
        rows = 0
        with table:
            for _, cells in table.rows():
                if any(str(c).strip() for c in cells if c is not None):
                    rows += 1
                filled.update(i for i, c in enumerate(cells) if c is not None and str(c).strip())
            header = table.header
        crm.close()
    names = [h for i, h in enumerate(header) if i in filled and target_for(h, None) != "-"]
    return names, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--before", type=Path, help="a checkout of an older crmkit")
    parser.add_argument("--measure-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_json:
        print(json.dumps(measure(args.files)))
        return
    import build

    folder = Path(tempfile.mkdtemp())
    files = [sample.path for sample in build.build(folder).values()] + list(args.files)
    after = measure(files)
    before: dict[str, dict[str, object]] = {}
    if args.before:
        env = dict(os.environ, PYTHONPATH=str(args.before.resolve()))
        done = subprocess.run(
            [sys.executable, __file__, "--measure-json", *map(str, files)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        before = json.loads(done.stdout.strip().splitlines()[-1])
    totals = {"expected": 0, "rows": 0, "placed": 0, "created": 0, "placed0": 0, "created0": 0}
    writer = csv.writer(sys.stdout, delimiter="\t")
    writer.writerow(["file", "product", "placed", "created", "placed before", "created before"])
    for path in files:
        expected, rows = expected_columns(path)

        def placed(result: dict[str, object], names: list[str] = expected) -> int:
            mapping = result.get("mapping") or {}
            assert isinstance(mapping, dict)
            return sum(1 for name in names if mapping.get(name, "-") != "-")

        now, old = after[path.name], before.get(path.name, {})
        for key, value in (
            ("expected", len(expected)),
            ("rows", rows),
            ("placed", placed(now)),
            ("created", int(str(now["created"]))),
            ("placed0", placed(old) if old else 0),
            ("created0", int(str(old.get("created", 0)))),
        ):
            totals[key] += value
        writer.writerow(
            [
                path.name,
                now.get("product") or "-",
                f"{placed(now)}/{len(expected)}",
                f"{now['created']}/{rows}",
                f"{placed(old)}/{len(expected)}" if old else "",
                f"{old.get('created', 0)}/{rows}" if old else "",
            ]
        )
    share = lambda part, whole: f"{100 * part / whole:.0f}%" if whole else "-"  # noqa: E731
    print(
        f"\ncolumns placed: {share(totals['placed'], totals['expected'])} "
        f"(before: {share(totals['placed0'], totals['expected'])}); "
        f"people created: {share(totals['created'], totals['rows'])} "
        f"(before: {share(totals['created0'], totals['rows'])})"
    )


if __name__ == "__main__":
    main()
