"""The model of durable_rules' tables (crmkit.rules.durable_limits) against durable_rules
itself, on both sides of every limit: where the model says a ruleset fits, durable_rules
builds it and answers as the compiled backend does; where it says it does not,
durable_rules fails, hangs or answers wrongly. Each case runs in its own process (a
full table makes durable_rules loop forever)."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys

import pytest

from crmkit.rules.engine import durable_import_error

pytestmark = pytest.mark.skipif(
    durable_import_error() is not None, reason="durable_rules does not import on this Python"
)

# A ruleset family (Python building conditions from i) and facts that reach its limit.
SHAPES = {
    "rules": ("_k(f'k{i % 50}')", "[{'event.kind#s': 'k1'}]"),
    "tests after one": ("_k(f'k{i}')", "[{'event.kind#s': f'k{j}'} for j in range(n)]"),
    "rules ending at one": ("_k('deal')", "[{'event.kind#s': 'deal'}]"),
    "thresholds": (
        "And((_k('s'), Compare('event.data.n', '>', i)))",
        "[{'event.kind#s': 's', 'event.data.n#n': 10**6}]",
    ),
    "or-groups at one": (
        "Or((_k('deal'), Compare('event.data.n', '==', i)))",
        # (which tests wait on durable_rules' stack depends on the order of the keys)
        "[{'event.kind#s': 'deal', 'event.data.n#n': 5},"
        " {'event.data.n#n': 5, 'event.kind#s': 'deal'}]",
    ),
    "in-lists at the root": (
        "In('event.kind', (f'a{i}', f'b{i}'), False)",
        "[{'event.kind#s': f'a{j}'} for j in range(n)]",
    ),
}
# (shape, rule count) just inside and just outside each limit.
CASES = [
    ("rules", 4095),
    ("rules", 4096),
    ("tests after one", 510),
    ("tests after one", 511),
    ("rules ending at one", 256),
    ("rules ending at one", 257),
    ("thresholds", 64),
    ("thresholds", 65),
    ("or-groups at one", 63),
    ("or-groups at one", 64),
    ("in-lists at the root", 255),
    ("in-lists at the root", 256),
]

SCRIPT = """
import os, sys
from crmkit.conditions.ast import And, Compare, In, Or
from crmkit.rules.compiler import CompiledRule, CompiledRuleset
from crmkit.rules.durable_limits import durable_overflows
from crmkit.rules.engine import DurableEngine
from crmkit.rules.python_engine import CompiledEngine
def _k(kind): return Compare("event.kind", "==", kind)
n = int(sys.argv[1])
conditions = [CONDITION for i in range(n)]
rules = tuple(CompiledRule(order=i, name=f"r{i}", source="gen", priority=0, condition=c,
              actions=()) for i, c in enumerate(conditions))
ruleset = CompiledRuleset(pack="gen", version="1", key="gen@1", rules=rules,
                          tags=frozenset(), tick_rules=(), kinds=None)
facts = FACTS
print("fits" if not durable_overflows(ruleset) else "overflows", flush=True)
engine = DurableEngine()
engine._elsewhere[ruleset.key] = None  # straight to durable_rules, whatever the model says
try:
    same = engine._match(ruleset, facts) == CompiledEngine().match(ruleset, facts)
    print("right" if same else "wrong", flush=True)
except Exception as exc:
    print("error", exc, flush=True)
os._exit(0)  # durable_rules' timers and a hung ruleset must not hold the process
"""


# A ruleset durable_rules cannot hold makes it loop forever once its tables are full, busy
# on the processor. A case that fits needs under two seconds of processor time, imports
# included (1.7 s at most, measured on every case), so a child is stopped when it has used
# five times that (SIGXCPU). Counting processor time, not wall time, is what lets a busy
# machine run these cases: a wall-clock limit had to be a minute there, and could still
# have called a slow case a hang.
CPU_LIMIT = 10
# A child that waits without working is caught by this one.
WALL_LIMIT = 600


def _limit_processor_time() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT, CPU_LIMIT + 5))


def _run_case(script: str, count: int) -> list[str]:
    """The lines the case's child printed, with "hangs" after them if it hung."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, str(count)],
            capture_output=True,
            text=True,
            timeout=WALL_LIMIT,
            preexec_fn=_limit_processor_time,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return [*out.split("\n")[:1], "hangs"]
    if done.returncode == -signal.SIGXCPU:
        return [*done.stdout.split("\n")[:1], "hangs"]
    return done.stdout.split("\n")


@pytest.mark.parametrize(("shape", "count"), CASES)
def test_the_model_of_durable_rules_tables_is_exact(shape: str, count: int) -> None:
    condition, facts = SHAPES[shape]
    script = SCRIPT.replace("CONDITION", condition).replace("FACTS", facts)
    lines = _run_case(script, count)
    verdict, outcome = lines[0], lines[1] if len(lines) > 1 else "crashed"
    assert verdict in ("fits", "overflows"), lines
    assert (verdict == "fits") == (outcome == "right"), (shape, count, lines)
