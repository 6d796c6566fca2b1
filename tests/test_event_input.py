"""Ingest's direct check of plain items agrees with the EventIn model it stands in for."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from crmkit.event_input import plain_event
from crmkit.schemas import EventIn
from crmkit.storage.types import INT64_MAX
from crmkit.testing.properties import examples


def mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid values seven times in eight, so that both paths are well exercised."""
    return st.integers(0, 7).flatmap(lambda n: odd if n == 0 else valid)


KINDS = mostly(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{0,12}", fullmatch=True)
    | st.sampled_from(["A" * 100, "A" * 101]),
    st.sampled_from([" won", "won ", "won\n", "1won", "w on", "", "wön", "won\x00"])
    | st.text(max_size=12),
)
CONTACTS = mostly(
    st.integers(min_value=1, max_value=INT64_MAX),
    st.integers(min_value=-3, max_value=0)
    | st.sampled_from([INT64_MAX + 1, True, False, 2.0, 2.5, "7", None]),
)
JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([float("nan"), float("inf")]),
        st.text(max_size=6),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
DATA = mostly(
    st.dictionaries(st.text(max_size=5), JSON, max_size=4),
    st.sampled_from([{1: "x"}, {"t": (1, 2)}, {"s": {1, 2}}, [], "text", None]),
)
IDS = mostly(
    st.none()
    | st.from_regex(r"[!-~]([ -~]{0,10}[!-~])?", fullmatch=True)
    | st.text(min_size=1, max_size=8),
    st.sampled_from(["e1", " e1", "e1 ", "e\u00a0", "\u2003e", "e\x1f", "", "x" * 200, "x" * 201])
    | st.integers(),
)
TIMES = mostly(
    st.none()
    | st.datetimes()
    | st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-5))])),
    st.sampled_from(["2026-01-02T03:04:05Z", "not a time", 0]),
)


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for key, values in (
        ("contact", CONTACTS),
        ("kind", KINDS),
        ("data", DATA),
        ("id", IDS),
        ("at", TIMES),
    ):
        # Each key is sometimes left out (contact and kind are required by the model).
        if draw(st.integers(0, 7)):
            item[key] = draw(values)
    if draw(st.integers(0, 9)) == 0:
        item["extra"] = 1
    return item


@settings(max_examples=examples(3000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items())
def test_a_plain_item_is_accepted_only_as_the_model_accepts_it(item: dict[str, Any]) -> None:
    plain = plain_event(item)
    event("taken directly" if plain else "sent to the model")
    if plain is None:
        return  # the model decides (and words the error)
    try:
        model = EventIn.model_validate(dict(item))
    except pydantic.ValidationError as exc:  # pragma: no cover - the failure being tested
        pytest.fail(f"accepted {item!r}, which the model refuses: {exc}")
    assert (plain.contact, plain.kind, plain.data, plain.id, plain.at) == (
        model.contact,
        model.kind,
        model.data,
        model.id,
        model.at,
    )
    assert plain.at is None or plain.at.tzinfo is timezone.utc


def test_the_plain_shape_takes_the_direct_path() -> None:
    at = datetime(2026, 3, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    data = {"n": 1, "tags": ["a"]}
    plain = plain_event({"id": "e1", "contact": 5, "kind": "won", "data": data, "at": at})
    assert plain is not None
    assert plain.at == datetime(2026, 3, 1, 10, tzinfo=timezone.utc)
    assert plain.data == data and plain.data is not data  # the caller's dict is not kept
    assert plain_event({"contact": 5, "kind": "won"}) == (5, "won", {}, None, None)


@pytest.mark.parametrize(
    "item",
    [
        {"contact": 5, "kind": " won "},  # stripped by the model
        {"contact": "5", "kind": "won"},  # coerced by the model
        {"contact": 5, "kind": "won", "at": "2026-01-02T03:04:05Z"},  # parsed by the model
        {"contact": 5, "kind": "won", "id": " e1"},
    ],
)
def test_items_the_model_reshapes_go_to_the_model(item: dict[str, Any]) -> None:
    assert plain_event(item) is None
    EventIn.model_validate(item)  # and the model takes them


def test_event_data_keys_are_kept_as_given() -> None:
    item = {"contact": 5, "kind": "won", "data": {" note ": " x ", "\r": 1}}
    assert EventIn.model_validate(item).data == {" note ": " x ", "\r": 1}
    plain = plain_event(item)
    assert plain is not None and plain.data == item["data"]
