"""The Python examples of the README and the tutorial run as written, on SQLite.

Each page's fenced blocks are taken in order: a block with a ``title="PATH"`` is
written to that file, and the ``python`` blocks run one after another in one
namespace, in a scratch folder. A comment right under a ``print`` (or at the end of
its line) is output the example promises; it must appear in what the block printed.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from crmkit import CRM

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.M | re.S)
TITLE = re.compile(r'title="([^"]+)"')
PAGES = ["README.md", "docs/getting-started.md", "docs/actions.md"]


def promised_output(code: str) -> list[str]:
    """The output comments of a block: ``print(x)  # out`` and ``# out`` lines that
    follow a line printing something."""
    promised: list[str] = []
    printing = False
    for line in code.splitlines():
        stripped = line.strip()
        if stripped.startswith("# ") and printing:
            promised.append(stripped[2:])
            continue
        printing = "print(" in line
        if printing and "  # " in line:
            promised.append(line.split("  # ", 1)[1])
    return promised


@pytest.mark.parametrize("page", PAGES)
def test_the_examples_run_as_written(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    blocks = FENCE.findall(text)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    ran = 0
    for language, info, code in blocks:
        title = TITLE.search(info)
        if title:
            target = tmp_path / title.group(1)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(code, encoding="utf-8")
        if language != "python":
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{page} (python block {ran + 1})", "exec"), namespace)
        for promise in promised_output(code):
            assert promise in out.getvalue(), f"{page}: {promise!r} not printed"
        ran += 1
    assert ran >= 2, f"{page} has fewer Python examples than expected"
    for value in namespace.values():
        if isinstance(value, CRM):
            value.close()
