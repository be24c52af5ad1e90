"""lifgen's folders are the pipeline's stages: each imports only earlier stages, and no module
imports itself back through others. Every import counts, those inside functions too."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "lifgen"
# The stages in pipeline order: a module may import its own stage and earlier ones.
STAGES = ("ir", "frontend", "numerics", "codegen", "targets", "results", "runtime", "interop",
          "tools")
BASE = {"lifgen.errors", "lifgen.version"}  # what every stage may import
TOP = {"lifgen", "lifgen.__main__", "lifgen.cli"}  # the doors: they may import any stage


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The lifgen modules `path` imports, anywhere in it (a package's __init__ resolves to the
    package, `from . import x` to the module x where x is one)."""
    name = module_name(path)
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "lifgen"}
        elif isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if target.split(".")[0] != "lifgen":
                continue
            found |= {f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target
                      for a in node.names}
    return {m for m in found if m in modules} - {name}


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports(path, set(paths)) for name, path in paths.items()}


def stage(name: str) -> int | None:
    """The index of a module's stage; None for the base modules and the doors."""
    if name in BASE or name in TOP:
        return None
    parts = name.split(".")
    assert len(parts) >= 2 and parts[1] in STAGES, f"{name} lies in no stage folder"
    return STAGES.index(parts[1])


def test_every_module_lies_in_a_stage_folder():
    for name in graph():
        stage(name)


def test_each_stage_imports_only_earlier_stages():
    wrong = []
    for name, targets in graph().items():
        if name in TOP:
            continue
        for target in targets:
            if target in TOP or (stage(name) is None and target not in BASE) or (
                    stage(name) is not None and stage(target) is not None
                    and stage(target) > stage(name)):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
