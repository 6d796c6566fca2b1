"""The leadklozer pack: statuses, the Smart Score, the Top 10%.

* Facet ``status``: new (blue), neutral (green, the default), warm (orange), hot (red),
  cold (grey). A first engagement makes a contact ``new`` and its second makes it
  ``neutral`` (rules in ``pack/status.yaml``); ``new`` is only set by
  rules, the others can be set by hand.
* Facet ``top_10`` (no, yes): rules only; refreshed at each tick (:mod:`.ranking`).
* Engagements are events of kind ``engagement`` with ``channel`` and ``kind`` in their
  data; the Smart Score is declared in ``pack/scoring.yaml`` (:mod:`.scoring`).
* Searches may use ``engaged(...) within N days``: a condition macro meaning
  ``had_event(event.kind == engagement and ...)``.
* Tables (:mod:`.tables`, Alembic branch ``leadklozer``): the score state each tick
  advances (:mod:`.score_state`); ``crmkit leadklozer verify-scores`` checks it
  against the event log.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import click

from crmkit.plugin_api import (
    ActionSpec,
    AddScore,
    Change,
    ChangeContext,
    Facet,
    FacetValue,
    Pack,
    RuleContext,
    Schema,
    hookimpl,
    load_pack,
)
from crmkit_leadklozer.commands import leadklozer
from crmkit_leadklozer.ranking import refresh_scores, refresh_top_ten
from crmkit_leadklozer.scoring import scoring
from crmkit_leadklozer.tables import ScoreClockRow, ScoreDueRow, ScorePartRow

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:
    from importlib.abc import Traversable

STATUS = Facet(
    name="status",
    label="Status",
    values=(
        FacetValue("new", "New", "blue", auto_only=True),
        FacetValue("neutral", "Neutral", "green"),
        FacetValue("warm", "Warm", "orange"),
        FacetValue("hot", "Hot", "red"),
        FacetValue("cold", "Cold", "grey"),
    ),
    default="neutral",
    description="How engaged a contact is (LeadKlozer).",
)
TOP_10 = Facet(
    name="top_10",
    label="Top 10%",
    values=(FacetValue("no", "No", "grey"), FacetValue("yes", "Yes", "purple")),
    default="no",
    manual_allowed=False,
    description="Whether the contact's Smart Score is in the tenant's top ten percent.",
)


def _parse_smart_score(args: Any, schema: Schema) -> str:
    if args != "engagement":
        raise ValueError("smart_score takes 'engagement'")

    scoring()  # a broken scoring.yaml is reported when the ruleset loads
    return "engagement"


def _run_smart_score(args: str, context: RuleContext) -> list[Change]:

    # Full points when recorded; the tick ages them (see crmkit_leadklozer.scoring).
    return [AddScore(scoring().points(context.event.get("data") or {}))]


# What a transition's cause is made of: changes of one cause are applied together.
CAUSE_KEYS = ("cause_type", "pack", "pack_version", "rule", "actor", "event_id")


@hookimpl
def crmkit_register_facets(register: Callable[[Facet], None]) -> None:
    register(STATUS)
    register(TOP_10)


@hookimpl
def crmkit_register_actions(register: Callable[[str, ActionSpec], None]) -> None:
    register(
        "smart_score",
        ActionSpec(
            _parse_smart_score,
            _run_smart_score,
            "add an engagement's Smart Score points",
            reads_contact=False,
        ),
    )


@hookimpl
def crmkit_register_condition_macros(register: Callable[[str, str], None]) -> None:
    register("engaged", "event.kind == engagement")


@hookimpl
def crmkit_register_packs(register: Callable[[Pack], None]) -> None:
    register(load_pack(files("crmkit_leadklozer").joinpath("pack")))


@hookimpl
def crmkit_register_migrations(register: Callable[[Traversable | str], None]) -> None:
    register(files("crmkit_leadklozer").joinpath("migrations"))


@hookimpl
def crmkit_on_changes(
    tenant: str, transitions: list[dict[str, Any]], context: ChangeContext
) -> None:
    if "status" not in context.runtime.facets:
        return

    # One pass: every status change's points, applied together per cause (one write for
    # an import's or a wave's worth of status changes, not one per change).
    table = scoring()
    by_cause: dict[tuple[Any, ...], tuple[dict[str, Any], dict[int, list[Change]]]] = {}
    for t in transitions:
        if t["name"] == "status":
            delta = table.status_points(t["new"]) - table.status_points(t["old"])
            if delta:
                key = tuple(t[k] for k in CAUSE_KEYS)
                like, changes = by_cause.setdefault(key, (t, {}))
                changes.setdefault(t["contact_id"], []).append(AddScore(delta))
    for like, changes in by_cause.values():
        context.apply_each(changes, like=like)


@hookimpl
def crmkit_on_tick(tenant: str, context: ChangeContext) -> None:
    if "status" not in context.runtime.facets:
        return

    refresh_scores(context)
    refresh_top_ten(context)


@hookimpl
def crmkit_register_commands(cli: click.Group) -> None:

    cli.add_command(leadklozer)


# The pack's tables, in crmkit's metadata once the plugin is imported.
TABLES = (ScoreClockRow, ScorePartRow, ScoreDueRow)
