"""Data printed by the CLI is shown, never obeyed: rich markup and emoji codes in names,
tags, messages and errors come out literally, and control characters (ESC with its CSI
and OSC 8 hyperlink sequences, BEL, backspace, carriage return, C1 controls) come out
escaped. Before, ``[bold red]ADMIN[/bold red]`` as a name printed a bold red ADMIN and
an OSC 8 sequence made a hidden hyperlink."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import invoker

from crmkit.cli import output
from crmkit.cli.output import printable
from crmkit.testing.properties import examples

PAYLOADS = [
    "[bold red]ADMIN[/bold red]",
    "[link=https://evil.example]x[/link]",
    "\x1b[31mred\x1b[0m",
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",
    "bell\x07",
    "back\x08space",
    "over\rwrite",
    "one-byte csi \x9b2J",
    "bidi \u202eevil",
    "smile :smile:",
]
# Bytes a terminal acts on; a newline is the one control a line of output may hold.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def wide() -> Iterator[None]:
    """A wide console, so each payload is printed unbroken."""
    widths = [(c, c._width) for c in (output.console, output.errors)]
    for c, _ in widths:
        c._width = 500
    yield
    for c, width in widths:
        c._width = width


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch, wide: None) -> Callable[..., str]:
    invoke = invoker(db_url, monkeypatch, "acme")
    invoke("init", "--packs", "17hats,contacts")
    return invoke


def shown_safely(out: str, payload: str) -> None:
    assert not CONTROL.search(out), repr(out)
    assert printable(payload) in out, (payload, out)


def add(run: Callable[..., str], payload: str, *more: str) -> int:
    added = run(
        "contact", "add", "--first-name", payload, "--last-name", payload,
        "--account", payload, "--city", payload, "--tag", payload[:100], *more, "--json",
    )  # fmt: skip
    contact_id: int = json.loads(added)["id"]
    return contact_id


@pytest.mark.parametrize("payload", PAYLOADS)
def test_data_is_printed_literally(run: Callable[..., str], payload: str) -> None:
    contact = add(run, payload, "--email", "ada@example.com")
    run("message", "receive", "--channel", "email", "--from", "ada@example.com",
        "--subject", payload, "--body", payload)  # fmt: skip
    run("group", "create", payload)
    for command in (
        ["contact", "list"],
        ["contact", "show", str(contact)],
        ["tags"],
        ["account", "list"],
        ["group", "list"],
        ["message", "list", str(contact)],
        ["explain", str(contact)],
        ["17hats", "contacts"],
    ):
        shown_safely(run(*command), payload)
    # JSON escapes what it must; the value comes back intact.
    listed = json.loads(run("contact", "list", "--json"))
    assert listed[0]["first_name"] == payload and not CONTROL.search(json.dumps(listed))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_errors_that_quote_input_are_printed_literally(
    run: Callable[..., str], payload: str
) -> None:
    option = payload.partition("=")[0]  # click reads --NAME=VALUE
    for code, args, quoted in (
        (1, ["--tenant", payload, "contact", "list"], payload),
        (1, ["group", "members", payload], payload),
        (1, ["contact", "list", "--facet", f"contact_type={payload}"], payload),
        (2, [payload], payload),
        (2, ["contact", "list", f"--{payload}"], option),
        (2, ["contact", "list", payload], payload),
    ):
        err = run(*args, code=code)
        assert not CONTROL.search(err), repr(err)
        # The input is quoted on the error's own line, which it cannot break or add to.
        last = err.rstrip("\n").splitlines()[-1]
        assert last.lower().startswith("error: "), err
        visible = printable(quoted, one_line=True)
        assert visible in last or repr(quoted)[1:-1] in last, (quoted, err)


# Any text but NUL, which crmkit refuses in names (with a one-line error).
NAMES = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() and "=" not in s)


@settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.sampled_from(["[", "]", "/", "link=", "\x1b", "\x07", "\r", "\x9b"]), max_size=6
    ).map("".join),
    NAMES,
)
def test_any_name_is_printed_as_it_is(run: Callable[..., str], noise: str, name: str) -> None:
    """Generated names mixing markup and control characters with any text."""
    payload = (noise + name).strip() or "x"
    contact = add(run, payload)
    for command in (["contact", "list"], ["contact", "show", str(contact)]):
        out = run(*command)
        assert not CONTROL.search(out), repr(out)
        # A newline is kept: a table shows the name on two lines of its cell.
        assert all(part.strip() in out for part in printable(payload).split("\n"))
