"""The layout the docs promise: no import cycles, a core that names no pack, a thin facade.

import-linter (the lint env) enforces the layers; these tests pin what it does not see:
cycles through function-level imports and between a package and its own modules,
first-party packs importing crmkit only through :mod:`crmkit.plugin_api`, pack names in
the core, and logic in :class:`crmkit.Tenant`.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

import crmkit

FIRST_PARTY = (
    "crmkit_17hats",
    "crmkit_funnel",
    "crmkit_contacts",
    "crmkit_leadklozer",
    "crmkit_clienttether",
)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, name
    return Path(next(iter(spec.submodule_search_locations)))


def _modules(package: str) -> dict[str, Path]:
    """Every module of an installed package, by dotted name (tests and migration
    scripts left out: they are not imported by the package)."""
    root = _package_dir(package)
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if "tests" in parts or "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((package, *parts))] = path
    return found


ALL_MODULES = {
    name: path for package in ("crmkit", *FIRST_PARTY) for name, path in _modules(package).items()
}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for inner in ast.walk(node))
    return skipped


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported project module, line) for every import the module runs, wherever it
    stands (module level or in a function), but for ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            # ``from package import module`` depends on that module; the package itself
            # only when a name is not a module of it.
            targets = [f"{base}.{alias.name}" for alias in node.names]
            if any(target not in ALL_MODULES for target in targets):
                targets.append(base)
        else:
            continue
        for target in targets:
            if target in ALL_MODULES and target != module:
                yield target, node.lineno


def _cycles() -> list[list[str]]:
    graph = {
        name: sorted({t for t, _ in _imports(name, path)}) for name, path in ALL_MODULES.items()
    }
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            for j in range(i, len(graph[node])):
                succ = graph[node][j]
                if succ not in index:
                    work.append((node, j + 1))
                    work.append((succ, 0))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return components


def test_no_module_of_crmkit_or_its_packs_is_part_of_an_import_cycle() -> None:
    """Counted with function-level imports and package-to-module imports: an import
    hidden in a function to dodge a cycle is still a cycle."""
    assert _cycles() == []


def test_the_cycle_check_sees_an_import_hidden_in_a_function(tmp_path: Path) -> None:
    """The checker itself: a function-level import back into a module is an edge."""
    first = tmp_path / "first.py"
    first.write_text("def f():\n    from crmkit.errors import CRMError\n")
    assert [t for t, _ in _imports("crmkit.clock", first)] == ["crmkit.errors"]


@pytest.mark.parametrize("package", FIRST_PARTY)
def test_a_first_party_pack_imports_crmkit_only_through_the_plugin_api(package: str) -> None:
    wrong = [
        f"{name}:{line} imports {target}"
        for name, path in ALL_MODULES.items()
        if name.split(".")[0] == package
        for target, line in _imports(name, path)
        if target.split(".")[0] == "crmkit" and target != "crmkit.plugin_api"
    ]
    assert wrong == []


def _code_strings(path: Path) -> Iterator[tuple[str, int]]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.value, node.lineno


# Words the packs share with the core's own vocabulary: the core's ``contacts`` table,
# the ``status`` column of events and messages, a related contact's ``role`` on a project.
CORE_WORDS = frozenset({"contacts", "status", "role"})


def test_no_module_of_the_core_names_a_first_party_pack_or_its_facets() -> None:
    crm = crmkit.CRM("sqlite://")
    try:
        names = {pack.name for pack in crm.packs.all()} | {facet.name for facet in crm.facets}
        names |= set(FIRST_PARTY)
    finally:
        crm.close()
    assert {"funnel", "17hats", "leadklozer", "contact_type", "lead_status"} <= names
    names -= CORE_WORDS
    # crmkit.moved keeps this release's old import paths of moved names (a table of
    # strings, imported only when an old name is used).
    found = [
        f"{name}:{line} says {text!r}"
        for name, path in ALL_MODULES.items()
        if name.split(".")[0] == "crmkit" and name != "crmkit.moved"
        for text, line in _code_strings(path)
        if text in names
    ]
    found += [
        f"{name}:{line} imports {target}"
        for name, path in ALL_MODULES.items()
        if name.split(".")[0] == "crmkit"
        for target, line in _imports(name, path)
        if target.split(".")[0] in FIRST_PARTY
    ]
    assert found == []


def test_every_tenant_method_is_a_one_line_delegation() -> None:
    tree = ast.parse(ALL_MODULES["crmkit.tenant"].read_text(encoding="utf-8"))
    (tenant,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tenant"]
    methods = [n for n in tenant.body if isinstance(n, ast.FunctionDef)]
    assert len(methods) > 50
    thick = []
    for method in methods:
        body = method.body
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        if method.name == "__init__":
            continue
        if len(body) != 1 or not isinstance(body[0], (ast.Return, ast.Expr)):
            thick.append(f"{method.name} (line {method.lineno})")
    assert thick == []
