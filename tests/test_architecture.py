"""Dependencies point one way (DESIGN.md, "Layout"), checked on the source so a wrong-way import fails the build.

`fundfill/` (the project package: settings, urls, wsgi) imports the apps and nothing
imports it; `base` and `pagecache` import only Django and Wagtail; the apps import them;
`demo` builds the whole site and may import every app, but no app imports it. No two
top-level packages import each other, and no modules import one another, directly or
round a longer cycle.

Imports are read with `ast` from every module, including the ones inside functions: an
import moved into a function to dodge a cycle is still a dependency.
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "fundfill"
# The top-level packages of this project and what each may import of the others.
MAY_IMPORT = {
    "base": set(),
    "pagecache": set(),
    "accounts": {"base"},
    "bounties": {"base", "pagecache", "accounts"},
    "home": {"base", "pagecache", "bounties"},
    "content": {"base", "pagecache"},
    "search": {"base", "pagecache", "bounties", "content"},
    # Issue 15's operations apps: each reads the bounty models and services, nothing imports them.
    "monitoring": {"base", "pagecache", "bounties"},
    "finance": {"base", "pagecache", "bounties"},
    "feedback": {"base", "pagecache", "bounties"},
    "demo": {"base", "pagecache", "accounts", "bounties", "home", "content", "search"},
    PROJECT: {
        "base",
        "pagecache",
        "accounts",
        "bounties",
        "home",
        "content",
        "search",
        "demo",
        "monitoring",
        "finance",
        "feedback",
    },
}
PACKAGES = set(MAY_IMPORT)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    """Every module of the project's packages (migrations too: they import models and helpers)."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "__pycache__" not in path.parts:
                modules[module_name(path)] = path
    return modules


def imported_names(path: Path, module: str) -> set[str]:
    """Dotted names this module imports anywhere in it (relative imports resolved)."""
    is_package = path.name == "__init__.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names.add(target)
            # `from package import module` imports that module too.
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports (names that are not modules, such as classes, dropped)."""
    graph = {}
    for module, path in modules.items():
        graph[module] = {name for name in imported_names(path, module) if name in modules and name != module}
    return graph


def top(module: str) -> str:
    return module.split(".")[0]


def package_edges(graph) -> dict[tuple[str, str], list[str]]:
    """(from package, to package) -> the imports that make it, as "module -> module"."""
    edges = defaultdict(list)
    for module, targets in graph.items():
        for target in targets:
            if top(module) != top(target):
                edges[(top(module), top(target))].append(f"{module} -> {target}")
    return edges


def wrong_way_imports(graph) -> list[str]:
    return sorted(
        line
        for (source, target), lines in package_edges(graph).items()
        if target not in MAY_IMPORT[source]
        for line in lines
    )


def mutual_packages(graph) -> list[tuple[str, str]]:
    edges = package_edges(graph)
    return sorted((a, b) for (a, b) in edges if a < b and (b, a) in edges)


def mutual_modules(graph) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in graph.items() for b in targets if a < b and a in graph.get(b, ()))


def import_cycles(graph) -> list[list[str]]:
    """Every set of modules that import one another round a cycle (Tarjan's strongly connected components)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(cycles)


def test_the_checker_sees_a_cycle_of_three():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert mutual_modules(graph) == []
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path):
    module = tmp_path / "views.py"
    module.write_text("from . import models\n\ndef view():\n    from fundfill.views import signup\n")
    assert {"bounties.models", "fundfill.views", "fundfill.views.signup"} <= imported_names(
        module, "bounties.views"
    )


def test_every_import_points_the_way_the_layout_allows():
    graph = import_graph(source_modules())
    assert wrong_way_imports(graph) == []


def test_nothing_imports_the_project_package():
    graph = import_graph(source_modules())
    into_project = [
        line
        for (source, target), lines in package_edges(graph).items()
        if target == PROJECT
        for line in lines
    ]
    assert into_project == []


def test_no_two_packages_import_each_other():
    assert mutual_packages(import_graph(source_modules())) == []


def test_no_two_modules_import_each_other():
    assert mutual_modules(import_graph(source_modules())) == []


def test_no_modules_import_one_another_round_a_cycle():
    assert import_cycles(import_graph(source_modules())) == []
