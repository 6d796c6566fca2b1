"""The incremental Smart Score: each tick moves scores forward from the pack's state.

Why no tick needs the event log: half-life decay separates. The points p_i a contact
earned at t_i in one half-life class h are worth sum(p_i * 0.5^((T - t_i)/h)) at T,
which is V * 0.5^((T - L)/h) with V their worth at the last tick L. So a tick multiplies
every part of a class by one factor (one UPDATE per class), adds the engagements
recorded since the last tick at their worth now (read by sequence number, from an index),
and takes the points whose date has come from ``leadklozer_score_due`` by a range scan
of its ``(tenant_id, due_at)`` index: expiring points leave, points of an engagement
dated after the tick that took it in start to decay.

How scores compose: the stored score holds every contribution, this pack's engagement
and status points, another pack's ``score:`` points, a hand edit. The tick moves it
only by the change of the engagement share (``applied`` becomes ``value``), with an
``AddScore``, so nothing anyone else gave is erased.

Pure decay is written once it reaches :data:`SCORE_STEP` for a contact: an hour's decay
of a few points changes nothing anyone reads, and writing it would cost a transition per
contact per tick. Expiries are written at once; the exact value stays in ``value``.

A tenant without a clock row (its first tick, or a database scored before the state
existed: see :func:`_unkept_share`), a tick earlier than the last one, or a changed
``scoring.yaml`` rebuilds the state from the log once (:func:`rebuild`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, func

from crmkit.plugin_api import (
    ROWS_PER_ROUND,
    Base,
    BulkWriter,
    EventRow,
    TenantScope,
    one_of,
)
from crmkit_leadklozer.scoring import Scoring
from crmkit_leadklozer.tables import ScoreClockRow, ScoreDueRow, ScorePartRow

# A contact's stored score follows pure decay in steps of at least this much.
SCORE_STEP = 0.01
# A part worth less than this is dropped (after about twenty half-lives).
NEGLIGIBLE = 1e-6
# The rule the tick's score moves are recorded under.
AGING_RULE = "smart score aging"

_C = ScoreClockRow.__table__.c
_P = ScorePartRow.__table__.c
_D = ScoreDueRow.__table__.c
_E = EventRow.__table__.c


class Clock(NamedTuple):
    at: datetime
    seq: int
    scoring: str


@dataclass
class Taken:
    """What a run of events or due rows adds to the state."""

    # (contact, aging entry) -> [worth now, full points the stored score holds]
    parts: dict[tuple[int, str], list[float]] = field(
        default_factory=lambda: defaultdict(lambda: [0.0, 0.0])
    )
    # contact -> points that left the stored score's engagement share (expired)
    left: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    due: list[dict[str, Any]] = field(default_factory=list)


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


def read_clock(conn: Connection, scope: TenantScope) -> Clock | None:
    row = conn.execute(scope.select(_C.at, _C.seq, _C.scoring)).first()
    return Clock(row[0], row[1], row[2]) if row is not None else None


def last_event_seq(conn: Connection, scope: TenantScope) -> int:
    """The newest event's sequence number (the tick's own run holds the counter, so no
    event with a lower one can still be on its way)."""
    return int(conn.scalar(scope.select(func.max(_E.seq))) or 0)


def engagements(
    conn: Connection, scope: TenantScope, after: int, upto: int, contact: int | None = None
) -> Iterator[tuple[int, int, dict[str, Any], datetime]]:
    """The applied engagements with ``after < seq <= upto`` (of one ``contact``, or all),
    in log order: (seq, contact, data, time)."""
    stmt = scope.select(_E.seq, _E.contact_id, _E.data, _E.occurred_at).where(
        _E.seq > after, _E.seq <= upto, _E.kind == "engagement", _E.status == "applied"
    )
    if contact is not None:
        stmt = stmt.where(_E.contact_id == contact)
    stmt = stmt.order_by(_E.seq).execution_options(yield_per=ROWS_PER_ROUND)
    for row in conn.execute(stmt):
        yield row[0], row[1], row[2] or {}, row[3]


def take_in(
    table: Scoring, taken: Taken, seq: int, contact: int, data: Any, at: datetime, now: datetime
) -> float:
    """Add one engagement, recorded with its full points, to ``taken`` as of ``now``;
    returns its full points."""
    points, key = table.classify(data)
    if not points:
        return 0.0
    aging = table.aging[key]
    if aging.expire_after_days is not None:
        ends = at + timedelta(days=aging.expire_after_days)
        if ends <= now:
            taken.left[contact] += points
        else:
            taken.due.append(_due(seq, contact, ends, "expire", key, points, at))
    elif at <= now:
        assert aging.half_life_days is not None
        part = taken.parts[(contact, key)]
        part[0] += points * 0.5 ** (_days(now - at) / aging.half_life_days)
        part[1] += points
    else:  # full points until its date, then it decays
        taken.due.append(_due(seq, contact, at, "start", key, points, at))
    return points


def _due(
    seq: int, contact: int, due_at: datetime, kind: str, key: str, points: float, at: datetime
) -> dict[str, Any]:
    return {
        "event_seq": seq,
        "contact_id": contact,
        "due_at": due_at,
        "kind": kind,
        "aging": key,
        "points": points,
        "occurred_at": at,
    }


def advance(
    conn: Connection, scope: TenantScope, table: Scoring, now: datetime
) -> dict[int, float]:
    """Bring the tenant's score state to ``now``; returns how much each contact's stored
    score must move (the caller applies it, with transitions)."""
    clock = read_clock(conn, scope)
    upto = last_event_seq(conn, scope)
    if clock is None or now < clock.at or clock.scoring != table.fingerprint():
        moves = rebuild(conn, scope, table, now, upto, clock)
    else:
        moves = _forward(conn, scope, table, clock, now, upto)
    _save_clock(conn, scope, Clock(now, upto, table.fingerprint()), clock is not None)
    return moves


def _forward(
    conn: Connection, scope: TenantScope, table: Scoring, clock: Clock, now: datetime, upto: int
) -> dict[int, float]:
    """The incremental tick (see the module docstring)."""
    elapsed = _days(now - clock.at)
    if elapsed > 0:
        for key, half_life in table.half_lives().items():
            factor = 0.5 ** (elapsed / half_life)
            conn.execute(
                scope.update(ScorePartRow).where(_P.aging == key).values(value=_P.value * factor)
            )
    taken = Taken()
    due = conn.execute(
        scope.select(_D.contact_id, _D.kind, _D.aging, _D.points, _D.occurred_at).where(
            _D.due_at <= now
        )
    ).all()
    for contact, kind, key, points, at in due:
        if kind == "expire":
            taken.left[contact] += points
        else:
            days = table.aging[key].half_life_days
            assert days is not None  # the fingerprint guards against another table
            part = taken.parts[(contact, key)]
            part[0] += points * 0.5 ** (_days(now - at) / days)
            part[1] += points
    if due:
        conn.execute(scope.delete(ScoreDueRow).where(_D.due_at <= now))
    for seq, contact, data, at in engagements(conn, scope, clock.seq, upto):
        take_in(table, taken, seq, contact, data, at, now)
    _add_parts(conn, scope, taken.parts)
    BulkWriter(conn).insert(ScoreDueRow, *_due_rows(scope, taken.due))
    return _settle(conn, scope, taken.left)


def _due_rows(
    scope: TenantScope, due: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    columns = [
        "tenant_id",
        "event_seq",
        "contact_id",
        "due_at",
        "kind",
        "aging",
        "points",
        "occurred_at",
    ]
    return columns, [(scope.tenant_id, *(row[c] for c in columns[1:])) for row in due]


def _add_parts(
    conn: Connection, scope: TenantScope, parts: dict[tuple[int, str], list[float]]
) -> None:
    """Add worth and held points to the parts, inserting the ones that are new."""
    if not parts:
        return
    contacts = sorted({contact for contact, _ in parts})
    existing: set[tuple[int, str]] = set()
    for start in range(0, len(contacts), ROWS_PER_ROUND):
        chunk = contacts[start : start + ROWS_PER_ROUND]
        existing.update(
            (row[0], row[1])
            for row in conn.execute(
                scope.select(_P.contact_id, _P.aging).where(one_of(conn, _P.contact_id, chunk))
            )
        )
    updates = [
        (v, a, scope.tenant_id, c, k) for (c, k), (v, a) in parts.items() if (c, k) in existing
    ]
    inserts = [
        (scope.tenant_id, c, k, v, a) for (c, k), (v, a) in parts.items() if (c, k) not in existing
    ]
    if updates:
        _increment_parts(conn, updates)
    BulkWriter(conn).insert(
        ScorePartRow, ("tenant_id", "contact_id", "aging", "value", "applied"), inserts
    )


def _increment_parts(conn: Connection, updates: list[tuple[Any, ...]]) -> None:
    """``value += v, applied += a`` per row (BulkWriter's updates set, they do not add)."""
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = (
        f"UPDATE leadklozer_score_parts SET value = value + {mark}, applied = applied + {mark} "
        f"WHERE tenant_id = {mark} AND contact_id = {mark} AND aging = {mark}"
    )
    conn.exec_driver_sql(sql, updates)


def _settle(conn: Connection, scope: TenantScope, left: dict[int, float]) -> dict[int, float]:
    """The moves of the stored scores: every contact whose engagement share drifted by
    :data:`SCORE_STEP` or more, and every contact some points left; their parts are then
    held in full."""
    conn.execute(
        scope.update(ScorePartRow)
        .where(_P.value != 0, func.abs(_P.value) < NEGLIGIBLE)
        .values(value=0.0)
    )
    drift = func.sum(_P.value - _P.applied)
    moves: dict[int, float] = {
        contact: float(amount)
        for contact, amount in conn.execute(
            scope.select(_P.contact_id, drift)
            .group_by(_P.contact_id)
            .having(func.abs(drift) >= SCORE_STEP)
        )
    }
    rest = sorted(set(left) - set(moves))
    for start in range(0, len(rest), ROWS_PER_ROUND):
        chunk = rest[start : start + ROWS_PER_ROUND]
        for contact, amount in conn.execute(
            scope.select(_P.contact_id, drift)
            .where(one_of(conn, _P.contact_id, chunk))
            .group_by(_P.contact_id)
        ):
            moves[contact] = float(amount)
    for contact, points in left.items():
        moves[contact] = moves.get(contact, 0.0) - points
    settled = sorted(moves)
    for start in range(0, len(settled), ROWS_PER_ROUND):
        chunk = settled[start : start + ROWS_PER_ROUND]
        conn.execute(
            scope.update(ScorePartRow)
            .where(one_of(conn, _P.contact_id, chunk))
            .values(applied=_P.value)
        )
    conn.execute(scope.delete(ScorePartRow).where(_P.value == 0, _P.applied == 0))
    return {contact: amount for contact, amount in moves.items() if amount}


def held(
    conn: Connection,
    scope: TenantScope,
    table: Scoring,
    clock: Clock | None,
    upto: int,
    contact: int | None = None,
) -> dict[int, float]:
    """How much of each contact's stored score is engagement points, by the state (and
    the engagements recorded since it was last advanced, which hold their full points);
    ``contact``: only that one."""
    share: dict[int, float] = defaultdict(float)
    after = 0
    if clock is not None:
        after = clock.seq
        for column, amount in ((_P.contact_id, _P.applied), (_D.contact_id, _D.points)):
            stmt = scope.select(column, func.sum(amount)).group_by(column)
            if contact is not None:
                stmt = stmt.where(column == contact)
            for found, total in conn.execute(stmt):
                share[found] += total
    for _, found, data, _ in engagements(conn, scope, after, upto, contact):
        share[found] += table.classify(data)[0]
    return share


def _previous_tick(conn: Connection, scope: TenantScope) -> tuple[datetime, int] | None:
    """The moment and place of the tick before the one running (which has recorded its
    run already), or None when this is the tenant's first."""
    runs = Base.metadata.tables["tick_runs"]
    row = conn.execute(
        scope.select(runs.c.at, runs.c.seq).order_by(runs.c.seq.desc()).offset(1).limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else None


def _unkept_share(
    conn: Connection, scope: TenantScope, table: Scoring, upto: int
) -> dict[int, float]:
    """The engagement share of the stored scores of a tenant without a clock row. Before
    the state existed, each tick set every score to its full recomputation at the tick,
    so the share is the engagements' worth at the last tick, plus the full points of
    the ones recorded since (with no tick before: the full points of all)."""
    share: dict[int, float] = defaultdict(float)
    last = _previous_tick(conn, scope)
    if last is not None:
        at, seq = last
        for _, contact, data, occurred in engagements(conn, scope, 0, min(seq, upto)):
            share[contact] += table.worth(data, occurred, at)
        after = seq
    else:
        after = 0
    for _, contact, data, _ in engagements(conn, scope, after, upto):
        share[contact] += table.classify(data)[0]
    return share


def rebuild(
    conn: Connection,
    scope: TenantScope,
    table: Scoring,
    now: datetime,
    upto: int,
    clock: Clock | None,
) -> dict[int, float]:
    """Make the state anew from the event log, valued at ``now``; returns the moves that
    bring each stored score's engagement share to its exact value."""
    if clock is None:
        before = _unkept_share(conn, scope, table, upto)
    else:
        before = held(conn, scope, table, clock, upto)
    taken = Taken()
    for seq, contact, data, at in engagements(conn, scope, 0, upto):
        take_in(table, taken, seq, contact, data, at, now)
    conn.execute(scope.delete(ScorePartRow))
    conn.execute(scope.delete(ScoreDueRow))
    after: dict[int, float] = defaultdict(float)
    rows = []
    for (contact, key), (value, _) in taken.parts.items():
        if abs(value) >= NEGLIGIBLE:
            rows.append((scope.tenant_id, contact, key, value, value))
            after[contact] += value
    BulkWriter(conn).insert(
        ScorePartRow, ("tenant_id", "contact_id", "aging", "value", "applied"), rows
    )
    BulkWriter(conn).insert(ScoreDueRow, *_due_rows(scope, taken.due))
    for row in taken.due:
        after[row["contact_id"]] += row["points"]
    moves = {}
    for contact in set(before) | set(after):
        amount = after.get(contact, 0.0) - before.get(contact, 0.0)
        if amount:
            moves[contact] = amount
    return moves


def _save_clock(conn: Connection, scope: TenantScope, clock: Clock, exists: bool) -> None:
    values = {"at": clock.at, "seq": clock.seq, "scoring": clock.scoring}
    if exists:
        conn.execute(scope.update(ScoreClockRow).values(**values))
    else:
        conn.execute(scope.insert(ScoreClockRow), scope.rows([values]))
