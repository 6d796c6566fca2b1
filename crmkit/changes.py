"""What in-transaction hooks get: :class:`ChangeContext`, and the notices they queue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from crmkit.errors import NotFoundError
from crmkit.facets import CauseType
from crmkit.rules.actions import AddScore, Change
from crmkit.runtime import TenantRuntime
from crmkit.storage.scope import TenantScope


@dataclass(frozen=True)
class Notice:
    """Something to deliver to a contact once the transaction has committed."""

    contact_id: int
    kind: str
    data: dict[str, Any]


@dataclass
class ChangeContext:
    """The transaction a ``crmkit_on_changes`` hook runs in.

    ``connection`` and ``scope`` let a plugin read and write its own records in the same
    transaction (always through ``scope``, which keeps them in the tenant). ``created``
    lists the contacts this write created (they may have no transition). ``apply``
    changes other contacts under the same policies, with transitions; ``notify`` queues
    a notice that is delivered through ``crmkit_on_notice`` after commit.
    """

    tenant: str
    runtime: TenantRuntime
    connection: Connection
    scope: TenantScope
    now: datetime
    settings: dict[str, Any]
    created: list[int]
    _apply: Callable[
        [Mapping[int, Sequence[Change]], CauseType, dict[str, Any]], list[dict[str, Any]]
    ]
    outbox: list[Notice] = field(default_factory=list)
    # Score moves written set-wise (see ``move_scores``); None: through ``_apply``.
    _move_scores: (
        Callable[[Mapping[int, float], CauseType, dict[str, Any]], list[dict[str, Any]] | None]
        | None
    ) = None
    # Transitions made through ``apply``, by cause ("pack@version:rule"), for summaries.
    tally: Counter[str] = field(default_factory=Counter)

    def notify(self, contact_id: int, kind: str, data: dict[str, Any]) -> None:
        self.outbox.append(Notice(contact_id, kind, dict(data)))

    def apply(
        self,
        contact_ids: Iterable[int],
        changes: Sequence[Change],
        *,
        like: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """Apply ``changes`` to each contact, with the cause of the transition ``like``.

        Facet policies and guard hooks apply as usual; a refusal raises and aborts the
        whole transaction. Returns the new transitions (which reach the hooks in turn).
        """
        return self.apply_each({i: changes for i in contact_ids}, like=like)

    def apply_each(
        self, changes: Mapping[int, Sequence[Change]], *, like: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Like :meth:`apply`, with each contact's own changes (for example a new score
        per contact): one pass over many contacts instead of one call each."""
        if not changes:
            return []
        cause: CauseType = like["cause_type"]
        made = self._apply(changes, cause, like)
        for transition in made:
            self.tally[cause_label(transition)] += 1
        return made

    def move_scores(
        self, moves: Mapping[int, float], *, like: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Add ``moves[contact]`` to each contact's score, with the cause of the
        transition ``like``: the same transitions and scores as
        ``apply_each({contact: [AddScore(amount)]})``, written set-wise (one UPDATE and
        one INSERT per round of contacts) unless a ``crmkit_guard_change`` hook must
        be asked about each change, in which case it takes the change path."""
        if not moves:
            return []
        cause: CauseType = like["cause_type"]
        made = None
        if self._move_scores is not None:
            made = self._move_scores(moves, cause, like)
        if made is None:
            changes = {contact: [AddScore(amount)] for contact, amount in moves.items()}
            return self.apply_each(changes, like=like)
        for transition in made:
            self.tally[cause_label(transition)] += 1
        return made


def cause_label(transition: dict[str, Any]) -> str:
    """``pack@version:rule`` for a rule's transition, else its cause type."""
    if transition.get("rule"):
        return f"{transition['pack']}@{transition['pack_version']}:{transition['rule']}"
    return str(transition["cause_type"])


def missing_contacts(found: Iterable[int], wanted: Iterable[int], tenant: str) -> None:
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise NotFoundError(f"contact {missing[0]} does not exist in tenant {tenant!r}")
