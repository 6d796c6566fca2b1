"""Rendering pack templates in Jinja2's sandbox.

A pack template is code from whoever wrote the pack, so it runs in the sandbox: no
attribute starting with ``_``, no unsafe methods, no globals beyond Jinja's own. The
sandbox alone still lets a template exhaust the machine (``{{ 'x' * 10**10 }}``,
``{{ 9 ** (9 ** 9) }}``), so multiplication and powers are bounded here too, and every
way a render can fail becomes one clear error naming the template.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from crmkit.errors import ConfigError
from crmkit.packs import Pack

# The longest string or list a template may build by multiplication, and the largest
# exponent it may use: far beyond any message, far below what would hurt.
MAX_REPEATED_LENGTH = 100_000
MAX_EXPONENT = 100


class BoundedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox with ``*`` and ``**`` bounded (Jinja then also stops folding
    them at compile time, where an unbounded power would hang the compiler)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"an exponent above {MAX_EXPONENT} is not allowed")
            return left**right
        for sequence, count in ((left, right), (right, left)):
            repeats = isinstance(sequence, str | list | tuple) and isinstance(count, int)
            if repeats and len(sequence) * count > MAX_REPEATED_LENGTH:
                raise SecurityError(
                    f"a repeated value longer than {MAX_REPEATED_LENGTH} is not allowed"
                )
        return operator.mul(left, right)


def sandboxed_environment(**options: Any) -> SandboxedEnvironment:
    """The environment every crmkit template renders in (strict about undefined names)."""
    options.setdefault("undefined", StrictUndefined)
    options.setdefault("autoescape", False)
    return BoundedSandbox(**options)


def render_safely(render: Callable[[], str], what: str) -> str:
    """Run ``render``; any failure of the template is a :class:`ConfigError` naming it.

    Besides Jinja's own errors, a template can raise Python's (``range(10**9)`` is an
    OverflowError in the sandbox, a bad filter argument a TypeError): all are the
    template's fault, none may escape as a crash.
    """
    try:
        return render()
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise ConfigError(f"{what} failed: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{what} failed: it recurses too deeply") from None


def render_pack_template(pack: Pack, name: str, **context: Any) -> str:
    """Render ``name`` from the pack's templates; errors name the pack and template."""
    if pack.templates is None:
        raise ConfigError(f"pack {pack.ref} ships no templates")
    resource = pack.templates.joinpath(name)
    if not resource.is_file():
        raise ConfigError(f"pack {pack.ref} has no template {name!r}")
    source = resource.read_text("utf-8")
    return render_safely(
        lambda: sandboxed_environment().from_string(source).render(**context),
        f"template {name!r} of pack {pack.ref}",
    )


def resolve_template(packs: Sequence[Pack], ref: str, default_pack: str | None = None) -> Pack:
    """The tenant pack a template reference ``PACK:NAME`` (or a bare ``NAME`` of
    ``default_pack``) points into; the template must exist."""
    pack_name, sep, name = ref.partition(":")
    if not sep:
        pack_name, name = default_pack or "", ref
    if not pack_name or not name:
        raise ConfigError(f"template {ref!r}: use PACK:NAME")
    pack = next((p for p in packs if p.name == pack_name), None)
    if pack is None:
        raise ConfigError(
            f"template {ref!r}: pack {pack_name!r} is not one of the tenant's packs "
            f"({', '.join(p.name for p in packs) or 'none'})"
        )
    if pack.templates is None or not pack.templates.joinpath(name).is_file():
        raise ConfigError(f"pack {pack.ref} has no template {name!r}")
    return pack


def render_ref(
    packs: Sequence[Pack], ref: str, context: Mapping[str, Any], default_pack: str | None = None
) -> str:
    """Render a template reference (see :func:`resolve_template`) in the sandbox."""
    pack = resolve_template(packs, ref, default_pack)
    return render_pack_template(pack, ref.rpartition(":")[2], **context)
