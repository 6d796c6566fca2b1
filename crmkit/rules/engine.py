"""The rule-engine interface and its durable_rules backend.

An engine answers one question: for each fact, which rules of a compiled ruleset match?
crmkit applies the changes itself, in a deterministic order, inside its own transaction;
durable_rules would otherwise swallow action exceptions into its session state.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from crmkit.errors import ConfigError
from crmkit.rules import durable_limits
from crmkit.rules.compiler import CompiledRuleset
from crmkit.rules.python_engine import CompiledEngine

Fact = dict[str, Any]


class RuleEngine(Protocol):
    """Matches facts against compiled rulesets."""

    name: str

    def match(self, ruleset: CompiledRuleset, facts: Sequence[Fact]) -> list[list[int]]:
        """Return, for each fact, the ``order`` of every rule whose condition holds."""
        ...


# The name of the hidden rule, fact key and session that make a new ruleset safe.
_WARM_UP = "crmkit_warm_up"


class _Registry:
    """The process's single durable_rules Host, created on first use.

    Each Host starts two timer threads that never stop, and a ruleset name can only be
    registered once, so one Host serves every tenant and each compiled pack version is
    registered once, under a name that includes its content hash.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.host: Any = None
        self.registered: set[str] = set()
        # Filled by the action callbacks during one match() call: (fact index, rule order).
        self.fired: list[tuple[int, int]] = []

    def ensure(self, ruleset: CompiledRuleset) -> Any:
        from durable import engine

        if self.host is None:
            registry = self

            class _Host(engine.Host):  # type: ignore[misc]
                def _run(self) -> None:
                    """Start no dispatch threads. crmkit asserts each fact and runs its
                    actions on the calling thread; durable_rules' dispatch timer, every
                    0.2 s, would take pending actions off the host on its own thread, so
                    a fact matching many rules lost some of them (seen under load)."""

                def get_action(self, action_name: str) -> Any:
                    if action_name == _WARM_UP:
                        return lambda c: None
                    order = int(action_name.rsplit(":", 1)[1])

                    def collect(c: Any) -> None:
                        registry.fired.append((c.m["_n"], order))

                    return collect

            self.host = _Host()
        if ruleset.key not in self.registered:
            # set_rulesets mutates its argument (it pops "run"), hence the copy.
            definition = copy.deepcopy(ruleset.durable_definition())
            rules = definition[ruleset.key]
            rules[_WARM_UP] = {"all": [{"m": {_WARM_UP: 1}}], "run": _WARM_UP}
            self.host.set_rulesets(definition)
            # durable_rules crashes the process (double free) when the first session a
            # ruleset ever deletes is one in which no fact matched. Deleting one in
            # which a fact matched first makes later deletes safe.
            self.host.assert_fact(ruleset.key, {"sid": _WARM_UP, "id": _WARM_UP, _WARM_UP: 1})
            self.host.delete_state(ruleset.key, _WARM_UP)
            self.registered.add(ruleset.key)
        return self.host

    def stop(self) -> None:
        """Forget the host; the next match starts a new one and registers the rulesets
        again. (The host runs no threads: see ``_Host._run``.)"""
        with self.lock:
            host, self.host = self.host, None
            self.registered.clear()
            if host is not None:
                _STOPPED.append(host)  # never collected: durable_rules frees it badly


_REGISTRY = _Registry()
_STOPPED: list[Any] = []


def shutdown() -> None:
    """Let go of durable_rules' host before the interpreter exits (the CLI and the
    pytest plugin call it; a long-running service should too). The next match starts a
    new one."""
    _REGISTRY.stop()


class DurableEngine:
    """Runs compiled rulesets on durable_rules, one ``assert_fact`` per fact.

    Facts are asserted (not posted) so every matching rule fires, not only the first.
    All facts of one call share a session that is deleted afterwards, which keeps
    durable_rules' 1024-session limit out of reach.

    A ruleset bigger than durable_rules' fixed tables (:mod:`crmkit.rules.durable_limits`)
    never reaches it, and one it fails on anyway is not given to it again: both run on
    the compiled backend, with a one-line notice on stderr, rather than hang the process,
    answer wrongly or fail every event.
    """

    name = "durable_rules"
    _sessions = itertools.count(1)

    def __init__(self) -> None:
        self._compiled = CompiledEngine()
        # Why each ruleset seen runs on the compiled backend (None: it runs here).
        self._elsewhere: dict[str, str | None] = {}

    def match(self, ruleset: CompiledRuleset, facts: Sequence[Fact]) -> list[list[int]]:
        if not facts or not ruleset.rules:
            return [[] for _ in facts]
        reason = self._why_not(ruleset, facts)
        if reason is None:
            try:
                return self._match(ruleset, facts)
            except _durable_error() as exc:
                reason = self._elsewhere[ruleset.key] = f"durable_rules failed on it ({exc})"
        _notice(ruleset, reason)
        return self._compiled.match(ruleset, facts)

    def _why_not(self, ruleset: CompiledRuleset, facts: Sequence[Fact]) -> str | None:
        if ruleset.key not in self._elsewhere:
            overflows = durable_limits.durable_overflows(ruleset)
            self._elsewhere[ruleset.key] = overflows[0].message if overflows else None
        reason = self._elsewhere[ruleset.key]
        if reason is None and any(len(fact) > durable_limits.MAX_FACT_VALUES for fact in facts):
            reason = (
                f"a fact holds {max(map(len, facts))} values; durable_rules takes at most "
                f"{durable_limits.MAX_FACT_VALUES} (error code 302)"
            )
        return reason

    def _match(self, ruleset: CompiledRuleset, facts: Sequence[Fact]) -> list[list[int]]:
        from durable import engine

        results: list[list[int]] = [[] for _ in facts]
        with _REGISTRY.lock:
            host = _REGISTRY.ensure(ruleset)
            sid = f"s{next(self._sessions)}"
            _REGISTRY.fired = []
            try:
                for index, fact in enumerate(facts):
                    message = dict(fact)
                    message["sid"] = sid
                    message["id"] = f"{sid}.{index}"
                    message["_n"] = index
                    # No rule matched: normal, not an error.
                    with contextlib.suppress(engine.MessageNotHandledException):
                        host.assert_fact(ruleset.key, message)
                fired = _REGISTRY.fired
            finally:
                _REGISTRY.fired = []
                # After a failed assert the session may be gone; that error is not the news.
                with contextlib.suppress(_durable_error()):
                    host.delete_state(ruleset.key, sid)
        for index, order in fired:
            # durable_rules fires a rule once per alternative of an ``or`` that holds;
            # a rule matches (and its actions run) once.
            if order not in results[index]:
                results[index].append(order)
        return results


def _durable_error() -> type[Exception]:
    """The exception durable_rules' C core raises (its codes: ``rules.h``)."""
    from durable import engine

    error: type[Exception] = engine.durable_rules_engine.error
    return error


_noticed: set[str] = set()


def _notice(ruleset: CompiledRuleset, reason: str) -> None:
    """Say once per pack version and process why it runs on the compiled backend."""
    if ruleset.key in _noticed:
        return
    _noticed.add(ruleset.key)
    text = f"pack {ruleset.pack}@{ruleset.version} runs on the compiled backend: {reason}"
    # A pack's name comes from its manifest: what it holds is shown, never obeyed.
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in " ".join(text.split()))
    sys.stderr.write(f"crmkit: {shown}\n")


class MemoizingEngine:
    """Matches each distinct fact once and reuses the answer.

    crmkit rules test one fact at a time and facts hold only the paths the rules read,
    so the rules that match are a pure function of the fact's content. Events in a batch
    mostly share a few shapes (say, four kinds times four contact types): the inner
    engine then sees a handful of facts instead of thousands. Answers are kept across
    calls in a bounded cache per ruleset.
    """

    def __init__(self, inner: RuleEngine, max_entries: int = 50_000) -> None:
        self.inner = inner
        self.name = f"{inner.name} (memoized)"
        self.max_entries = max_entries
        self._cache: dict[str, dict[tuple[tuple[str, Any], ...], list[int]]] = {}
        self._lock = threading.Lock()

    def match(self, ruleset: CompiledRuleset, facts: Sequence[Fact]) -> list[list[int]]:
        keys = [tuple(fact.items()) for fact in facts]
        with self._lock:
            cache = self._cache.setdefault(ruleset.key, {})
            missing: dict[tuple[tuple[str, Any], ...], Fact] = {}
            for key, fact in zip(keys, facts, strict=True):
                if key not in cache and key not in missing:
                    missing[key] = fact
            if missing:
                answers = self.inner.match(ruleset, list(missing.values()))
                if len(cache) + len(missing) > self.max_entries:
                    cache.clear()
                cache.update(zip(missing, answers, strict=True))
            # Shared lists: callers read the answers and never change them.
            return [cache[key] for key in keys]


ENGINE_ENV = "CRMKIT_ENGINE"
ENGINES = ("durable", "compiled")
_notice_given = False


def durable_import_error() -> str | None:
    """Why durable_rules cannot be imported here (it fails on Python 3.13), or None."""
    try:
        import durable.engine  # noqa: F401
    except Exception as exc:  # an ImportError, or a missing symbol in its extension
        return f"{type(exc).__name__}: {exc}"
    return None


def make_rule_engine(
    name: str | None = None, *, memoize: bool = True, env: Mapping[str, str] | None = None
) -> RuleEngine:
    """The backend called ``name``: ``durable`` (durable_rules, behind the memoizing
    layer unless ``memoize`` is False) or ``compiled`` (Python functions). Without a
    name, the setting ``CRMKIT_ENGINE`` decides; without that, durable_rules where it
    imports, else the compiled backend with a one-line notice on stderr."""
    global _notice_given
    wanted = name or (env if env is not None else os.environ).get(ENGINE_ENV) or None
    if wanted is not None and wanted not in ENGINES:
        raise ConfigError(
            f"unknown rules engine {wanted!r} (from {'the CRM' if name else ENGINE_ENV}); "
            f"use {' or '.join(ENGINES)}"
        )
    if wanted == "compiled":
        return CompiledEngine()
    problem = durable_import_error()
    if problem is not None:
        if wanted == "durable":
            raise ConfigError(f"the durable rules engine cannot be used here: {problem}")
        if not _notice_given:
            _notice_given = True
            sys.stderr.write(
                f"crmkit: durable_rules does not import here ({problem}); "
                "rules run on the compiled backend\n"
            )
        return CompiledEngine()
    engine: RuleEngine = DurableEngine()
    return MemoizingEngine(engine) if memoize else engine


def default_engine(memoize: bool = True) -> RuleEngine:
    """The engine a CRM gets when none is given (see :func:`make_rule_engine`)."""
    return make_rule_engine(memoize=memoize)
