"""Import benchmark: a large CSV through ``crmkit import`` vs a bare csv + executemany load.

Run:  python bench/import_csv.py [--rows 1000000] [--packs contacts,17hats] [--workers N]
                                [--no-phone] [--postgres URL]

The file has what a real contact export has: first and last name, email, a phone in a
mix of formats, company (20,000 distinct), city, state, lead source and tags. crmkit
checks every row (email, phone with line type, facets), creates accounts, sets facet
defaults and records tag transitions. The anchor reads the same file with csv.reader
and inserts its rows unchecked into a table of the same columns with executemany,
2,000 per transaction, on the same disk in the same run. Each side runs in its own
child process so its peak memory (resident set, workers included) is its own.

With ``--postgres URL`` (default: $CRMKIT_BENCH_POSTGRES_URL, else
$CRMKIT_TEST_POSTGRES_URL) the same import also runs on PostgreSQL, in a new schema
dropped afterwards, and its line shows its ratio against the same SQLite anchor.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = ["First Name", "Last Name", "Email", "Phone", "Company", "City", "State", "Source", "Tags"]
FIRST = ["Ann", "Bob", "Cara", "Dan", "Eve", "Finn", "Gia", "Hugo", "Ida", "Jon", "Kim", "Leo"]
LAST = ["Lee", "Stone", "Park", "Diaz", "Khan", "Novak", "Moreau", "Silva", "Berg", "Rossi"]
CITIES = [("Austin", "TX"), ("Boston", "MA"), ("Denver", "CO"), ("Miami", "FL"), ("Reno", "NV")]
SOURCES = ["Facebook", "Google", "Referral", "Website", ""]
TAGS = ["", "", "vip", "newsletter", "vip, newsletter", "trade show"]
AREAS = ["201", "212", "305", "415", "512", "617", "702", "720", "303", "646"]


def write_file(path: Path, rows: int, seed: int = 11, phones: bool = True) -> None:
    """The benchmark file; without ``phones`` the Phone column stays empty (to show
    what checking phone numbers costs)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            area = rng.choice(AREAS)
            exchange = 200 + (i // 10000) % 800
            if exchange % 100 == 11:  # N11 codes are not valid exchanges
                exchange += 1
            line = f"{exchange}{i % 10000:04d}"
            phone = rng.choice(
                [
                    f"({area}) {line[:3]}-{line[3:]}",
                    f"+1 {area} {line[:3]} {line[3:]}",
                    f"{area}.{line[:3]}.{line[3:]}",
                ]
            )
            city, state = rng.choice(CITIES)
            writer.writerow(
                [
                    first,
                    last,
                    f"{first.lower()}.{last.lower()}.{i}@example{i % 50}.com",
                    phone if phones else "",
                    f"Company {rng.randrange(20000)}",
                    city,
                    state,
                    rng.choice(SOURCES),
                    rng.choice(TAGS),
                ]
            )


def peak_mb() -> float:
    """Peak resident set of this process and of its finished children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def run_crmkit(file: Path, url: str, packs: str, workers: int | None) -> dict[str, float]:
    from crmkit import CRM

    crm = CRM(url)
    crm.migrate()
    tenant = crm.configure_tenant("bench", [p for p in packs.split(",") if p])
    started = time.perf_counter()
    summary = tenant.import_contacts(file, match="none", workers=workers)
    seconds = time.perf_counter() - started
    assert summary.failed == 0, summary.errors[:3]
    crm.close()
    return {"rows": summary.created, "seconds": seconds, "peak_mb": peak_mb()}


def run_crmkit_postgres(
    file: Path, base_url: str, packs: str, workers: int | None
) -> dict[str, float]:
    from crmkit.testing.databases import postgres_schema

    with postgres_schema(base_url) as url:
        return run_crmkit(file, url, packs, workers)


def run_anchor(file: Path, db: Path) -> dict[str, float]:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE contacts (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, "
        "email TEXT, phone TEXT, company TEXT, city TEXT, state TEXT, source TEXT, tags TEXT)"
    )
    conn.execute("CREATE INDEX contacts_email ON contacts (email)")
    started = time.perf_counter()
    count = 0
    with file.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        batch: list[list[str]] = []
        for row in reader:
            batch.append(row)
            if len(batch) == 2000:
                with conn:
                    conn.executemany("INSERT INTO contacts VALUES (NULL,?,?,?,?,?,?,?,?,?)", batch)
                count += len(batch)
                batch = []
        with conn:
            conn.executemany("INSERT INTO contacts VALUES (NULL,?,?,?,?,?,?,?,?,?)", batch)
        count += len(batch)
    seconds = time.perf_counter() - started
    return {"rows": count, "seconds": seconds, "peak_mb": peak_mb()}


def child(args: argparse.Namespace) -> None:
    if args.child == "anchor":
        result = run_anchor(Path(args.file), Path(args.db))
    elif args.child == "crmkit-postgres":
        result = run_crmkit_postgres(Path(args.file), args.db, args.packs, args.workers)
    else:
        result = run_crmkit(Path(args.file), f"sqlite:///{args.db}", args.packs, args.workers)
    print(json.dumps(result))


def measure(which: str, args: argparse.Namespace, file: Path, folder: Path) -> dict[str, float]:
    db = args.postgres if which == "crmkit-postgres" else str(folder / f"{which}.db")
    command = [sys.executable, __file__, "--child", which, "--file", str(file), "--db", db]
    command += ["--packs", args.packs]
    if args.workers is not None:
        command += ["--workers", str(args.workers)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--packs", default="contacts,17hats")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--no-phone", action="store_true", help="leave the Phone column empty")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CRMKIT_BENCH_POSTGRES_URL")
        or os.environ.get("CRMKIT_TEST_POSTGRES_URL"),
        help="also import into a new schema on this PostgreSQL server",
    )
    parser.add_argument("--child", choices=["anchor", "crmkit", "crmkit-postgres"])
    parser.add_argument("--file")
    parser.add_argument("--db")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        file = folder / "contacts.csv"
        write_file(file, args.rows, phones=not args.no_phone)
        size = file.stat().st_size / 1e6
        phones = "no phones" if args.no_phone else "a phone on every row"
        print(f"{args.rows:,} rows, {size:.0f} MB CSV, {phones}; packs {args.packs}")
        anchor = measure("anchor", args, file, folder)
        ours = measure("crmkit", args, file, folder)
        postgres = measure("crmkit-postgres", args, file, folder) if args.postgres else None
    a_rate = anchor["rows"] / anchor["seconds"]
    c_rate = ours["rows"] / ours["seconds"]
    print(f"{'':26}{'rows/s':>12}{'seconds':>10}{'peak MB':>10}{'ratio':>9}")
    lines = [
        ("anchor csv+executemany", anchor),
        ("crmkit import", ours),
        *([("crmkit import PostgreSQL", postgres)] if postgres else []),
    ]
    for label, result in lines:
        rate = result["rows"] / result["seconds"]
        print(
            f"{label:26}{rate:>12,.0f}{result['seconds']:>10.1f}{result['peak_mb']:>10.0f}"
            f"{rate / a_rate:>8.3f}x"
        )
    print(f"ratio crmkit / anchor: {c_rate / a_rate:.3f}x  (targets: >= 30,000 rows/s, <= 300 MB)")


if __name__ == "__main__":
    main()
