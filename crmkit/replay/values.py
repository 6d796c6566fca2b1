"""A contact's values by the names transitions use, read and written on a
:class:`~crmkit.pipeline.ContactState`; and a transition turned back or forward.

Transitions store their values as text (JSON for anything but a string), so a value is
decoded by what its name holds: yes/no attributes and numeric or yes/no fields are JSON,
everything else is text.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import orjson

from crmkit.contact_fields import PROFILE_FIELDS
from crmkit.editing import TRANSITION_TEXT_LIMIT
from crmkit.pipeline import ContactState

_JSON_FIELD_TYPES = frozenset({"integer", "number", "percent", "bool"})
_FLAGS = frozenset({"archived", "ok_to_sms"})


def decode(name: str, text: str | None, field_types: Mapping[str, str]) -> Any:
    """The value a field transition's text stands for."""
    if text is None:
        return None
    if name in _FLAGS:
        return bool(orjson.loads(text))
    if name.startswith("fields."):
        kind = field_types.get(name.removeprefix("fields."))
        if kind in _JSON_FIELD_TYPES:
            return orjson.loads(text)
        if kind is None:  # a field no longer declared: take the text as it reads
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                return text
    return text


def cut(text: str | None) -> bool:
    """Whether a transition text was shortened when stored (its value is lost)."""
    return text is not None and len(text) == TRANSITION_TEXT_LIMIT and text.endswith("…")


def get_value(state: ContactState, name: str) -> Any:
    if name.startswith("fields."):
        return state.fields.get(name.removeprefix("fields."))
    if name == "account":
        return state.account
    return state.attribute(name)


def put_value(state: ContactState, name: str, value: Any, accounts: Mapping[str, int]) -> str:
    """Set one value; return the contact column it lives in."""
    if name.startswith("fields."):
        key = name.removeprefix("fields.")
        if value is None:
            state.fields.pop(key, None)
        else:
            state.fields[key] = value
        return "fields"
    if name == "account":
        state.account = value
        state.account_id = accounts.get(value) if value is not None else None
        return "account_id"
    if name in PROFILE_FIELDS:
        state.profile[name] = value
    else:
        setattr(state, name, value)
    return name


def column_value(state: ContactState, column: str) -> Any:
    if column == "fields":
        return dict(state.fields)
    if column == "account_id":
        return state.account_id
    return get_value(state, column)


def undo(
    state: ContactState,
    transition: Mapping[str, Any],
    field_types: Mapping[str, str],
    accounts: Mapping[str, int],
) -> None:
    """Turn ``state`` back to before ``transition``."""
    target, name, old, new = (transition[k] for k in ("target", "name", "old", "new"))
    if target == "facet":
        if old is None:
            state.facets.pop(name, None)
        else:
            state.facets[name] = old
    elif target == "tag":
        if new is not None:
            state.tags.discard(new)
        if old is not None:
            state.tags.add(old)
    elif target == "score":
        state.score = float(old) if old is not None else 0.0
    else:
        put_value(state, name, decode(name, old, field_types), accounts)
    state.version -= 1


def flatten(state: ContactState, facets: Collection[str] | None = None) -> dict[str, Any]:
    """Every compared value under one key (``facets.NAME``, ``tags.TAG``,
    ``fields.NAME``, ``score``, profile names); a cleared field counts as absent.
    ``facets`` limits the facets compared."""
    out: dict[str, Any] = {
        "first_name": state.first_name,
        "last_name": state.last_name,
        **{name: state.profile.get(name) for name in PROFILE_FIELDS},
        "account": state.account,
        "archived": bool(state.archived),
        "ok_to_sms": bool(state.ok_to_sms),
        "score": float(state.score),
    }
    for key, value in state.fields.items():
        if value is not None:
            out[f"fields.{key}"] = value
    for facet, value in state.facets.items():
        if facets is None or facet in facets:
            out[f"facets.{facet}"] = value
    for tag in state.tags:
        out[f"tags.{tag}"] = True
    return out


def touches(transition: Mapping[str, Any], key: str) -> bool:
    """Whether ``transition`` changed the value :func:`flatten` names ``key``."""
    target: str = transition["target"]
    name: str = transition["name"]
    if key.startswith("facets."):
        return target == "facet" and name == key.removeprefix("facets.")
    if key.startswith("tags."):
        tag = key.removeprefix("tags.")
        return target == "tag" and (transition["old"] == tag or transition["new"] == tag)
    if key == "score":
        return target == "score"
    return target == "field" and name == key
