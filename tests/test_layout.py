"""The package's shape, read from its source: the CLI sits on top (nothing imports it),
imports form no cycle (imports inside functions included), and the family names are
compared only by the family modules and their registry."""
import ast
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gluonfashion")
PACKAGE = "gluonfashion"


def _modules():
    """``{dotted name: (path, is_package)}`` of every module of the package."""
    found = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            parts = [PACKAGE] + os.path.relpath(path, ROOT)[:-3].split(os.sep)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _resolve(module, is_package, node):
    """Dotted names of package modules an import statement loads (submodules named in a
    ``from X import name`` count when ``X.name`` is a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == PACKAGE]
    base = module if is_package else module.rsplit(".", 1)[0]
    if node.level:
        for _ in range(node.level - 1):
            base = base.rsplit(".", 1)[0]
        target = f"{base}.{node.module}" if node.module else base
    elif node.module and node.module.split(".")[0] == PACKAGE:
        target = node.module
    else:
        return []
    named = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    return [target] + named


def _imports(module):
    path, is_package = MODULES[module]
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _resolve(module, is_package, node):
                # Loading a.b.c also runs the __init__ of a.b (unless we are inside a.b).
                parts = target.split(".")
                for i in range(2, len(parts) + 1):
                    name = ".".join(parts[:i])
                    inside = module == name or module.startswith(name + ".")
                    if name in MODULES and name != module and not inside:
                        targets.add(name)
    return targets


GRAPH = {m: _imports(m) for m in MODULES}


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_function_level_and_relative_imports():
    # guards the checks below against a reader that sees nothing
    assert "gluonfashion.engine" in GRAPH["gluonfashion.families.base"]
    assert "gluonfashion.families" in GRAPH["gluonfashion.cli.run_verbs"]
    assert "gluonfashion.training_curves" in GRAPH["gluonfashion.engine"]   # imported inside a function


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_a_cycle_is_found_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_nothing_below_the_cli_imports_it():
    above = (f"{PACKAGE}.cli", f"{PACKAGE}.__main__")   # the entry point calls the CLI
    offenders = sorted(m for m, targets in GRAPH.items()
                       if not m.startswith(above) and any(t.startswith(f"{PACKAGE}.cli") for t in targets))
    assert offenders == []


# A family name compared or looked up as a string: `== "jd"`, `!= 'fashionai'`,
# `in ("fashionai", ...)`, `cfg["family"] ==`.
FAMILY_TEST = re.compile(r"""(==|!=)\s*["'](fashionai|jd)["']|["'](fashionai|jd)["']\s*(==|!=)"""
                         r"""|\bin\s*\(\s*["'](fashionai|jd)["']|\[["']family["']\]\s*(==|!=)""")


@pytest.mark.parametrize("text, hit", [('if cfg["family"] == "jd":', True), ("x = 'jd' != y", True),
                                       ('if args.family in ("fashionai", "all"):', True),
                                       ('get_family("jd")', False), ('name = "fashionai"', False)])
def test_family_comparison_pattern(text, hit):
    assert bool(FAMILY_TEST.search(text)) == hit


def test_family_names_are_compared_only_by_the_families():
    offenders = []
    for module, (path, _) in MODULES.items():
        if module.startswith(f"{PACKAGE}.families"):
            continue
        with open(path, encoding="utf-8") as f:
            offenders += [f"{path}:{n}: {line.strip()}" for n, line in enumerate(f, 1) if FAMILY_TEST.search(line)]
    assert offenders == []
