"""The project's layers import only downwards, and no modules import each other in a cycle.

    0 algorithms.errors
    1 algorithms.core.*, algorithms.envs.*     tensors, networks, the batched env interface, the env registry
    2 algorithm families                       algorithms.base, mappo, value_decomposition, maddpg, ...
    3 algorithms.registry, algorithms          ids -> classes, make, load
    4 algorithms.training.*                    run directories, evaluation, competitive evaluation
    5 advisor.*                                rules, questionnaire, scaffolder, the CLI

Every import counts, including the ones inside functions (not those under `if TYPE_CHECKING:`). docs/architecture.md draws the same map."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def layer(module: str) -> int:
    if module == "algorithms.errors":
        return 0
    if module.startswith(("algorithms.core", "algorithms.envs")):
        return 1
    if module in ("algorithms", "algorithms.registry"):
        return 3
    if module.startswith("algorithms.training"):
        return 4
    if module.startswith("algorithms."):
        return 2
    if module == "advisor" or module.startswith("advisor."):
        return 5
    raise AssertionError(f"no layer for {module}")


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in ("algorithms", "advisor"):
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `path` imports: `from a.b import c` is a.b.c when that is a module, else a.b."""
    found = set()
    tree = ast.parse(path.read_text())
    type_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                 and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                 for stmt in block.body for n in ast.walk(stmt)}  # annotations only: never run
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in modules else node.module)
    return {name for name in found if name in modules}


MODULES = project_modules()
GRAPH = {name: imports(path, MODULES) for name, path in MODULES.items()}


def test_every_import_goes_down_or_across():
    upward = [f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
              for m, targets in sorted(GRAPH.items()) for t in sorted(targets) if layer(t) > layer(m)]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_library_never_imports_the_advisor():
    assert not [m for m, targets in GRAPH.items() if layer(m) < 5 and any(layer(t) == 5 for t in targets)]


def test_no_import_cycles():
    seen: dict[str, int] = {}  # 1 on the current path, 2 done
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        seen[module] = 1
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if seen.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in seen and (cycle := visit(target)):
                return cycle
        stack.pop()
        seen[module] = 2
        return None

    for module in sorted(GRAPH):
        if module not in seen and (cycle := visit(module)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def test_layer_test_sees_the_whole_project():
    assert {"algorithms.registry", "algorithms.training.run", "algorithms.core.env_registry",
            "advisor.cli"} <= set(MODULES)
    assert "algorithms.core.vec_env" in GRAPH["algorithms.mappo"]


def test_no_module_over_400_lines():
    """Small modules whose names say what they hold: a file past 400 lines does more than one job."""
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > 400}
    assert not long, long
