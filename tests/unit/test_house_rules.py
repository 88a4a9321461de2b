"""The house rules, checked on the library's source with ``ast`` (nothing here imports it).

No import cycle among the modules' module-level imports; no module over 400 lines; no function over
80 lines; streamlit only in ``resnet_explain/ui/``; no ``inplace=True``; no page over 150 lines
(the standing rule: pages under ~150); a function-level import says why, in a comment (in the files
of ``IMPORTS_SAY_WHY`` so far). Every message lists every violator.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections import deque
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "resnet_explain"
PAGES = ROOT / "app_pages"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
MAX_PAGE_LINES = 150
INPLACE_BY_POSITION = {"ReLU", "ReLU6", "SELU", "CELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the library by dotted name; a package's ``__init__`` is the package."""
    return {module_name(p): p for p in sorted(LIB.rglob("*.py"))}


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def module_level_imports(node: ast.AST):
    """Import statements run when the module is imported: not inside a function (nor a lambda),
    nor under ``if TYPE_CHECKING:`` (its ``else`` does run); class bodies do run at import."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child):
            yield from module_level_imports(ast.Module(body=child.orelse, type_ignores=[]))
        else:
            yield from module_level_imports(child)


def imported_modules(name: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The library modules one import statement in module ``name`` imports (relative ones
    resolved; ``from pkg import sub`` is the submodule ``pkg.sub`` when there is one)."""
    known = modules()
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in known]
    if node.level:
        package = name if modules()[name].name == "__init__.py" else name.rpartition(".")[0]
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    out = []
    for a in node.names:
        sub = f"{target}.{a.name}"
        if sub in known:
            out.append(sub)
        elif target in known:
            out.append(target)
    return sorted(set(out))


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in modules().items():
        graph[name] = {t for node in module_level_imports(tree(path))
                       for t in imported_modules(name, node) if t != name}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module (iterative: no recursion limit)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(root):
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def shortest_cycle(graph: dict[str, set[str]], comp: list[str]) -> list[str]:
    """A shortest cycle through the first module of a component: a -> b -> ... -> a."""
    start, members = comp[0], set(comp)
    parent, queue = {start: None}, deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(graph[v] & members):
            if w == start:
                path = [v]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, v, start]
            if w not in parent:
                parent[w] = v
                queue.append(w)
    return comp


def import_cycles() -> list[str]:
    graph = import_graph()
    return [" -> ".join(shortest_cycle(graph, c)) + f"  (component of {len(c)}: {', '.join(c)})"
            for c in strongly_connected(graph)]


def functions(node: ast.AST, prefix: str = ""):
    """(qualified name, node) of every function and method, nested ones included."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + child.name, child
            yield from functions(child, prefix + child.name + ".")
        elif isinstance(child, ast.ClassDef):
            yield from functions(child, prefix + child.name + ".")
        else:
            yield from functions(child, prefix)


def long_functions() -> list[str]:
    out = []
    for path in modules().values():
        for qual, fn in functions(tree(path)):
            n = fn.end_lineno - fn.lineno + 1
            if n > MAX_FUNCTION_LINES:
                out.append(f"{rel(path)}:{fn.lineno} {qual} ({n} lines)")
    return out


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines())


# ---------------------------------------------------------------------------------------------


def test_the_checker_sees_the_library():
    names = modules()
    assert "resnet_explain" in names and "resnet_explain.cli" in names and len(names) > 50
    graph = import_graph()
    assert "resnet_explain.probe" in graph["resnet_explain"]  # from .probe import ... (relative)
    assert "resnet_explain.cli" in graph["resnet_explain.__main__"]
    code = ast.parse("import a\nif TYPE_CHECKING:\n    import b\nelse:\n    import c\n"
                     "def f():\n    import d\nclass K:\n    import e\n")
    assert [n.names[0].name for n in module_level_imports(code)] == ["a", "c", "e"]


def test_the_cycle_finder_reports_the_path():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert strongly_connected(g) == [["a", "b", "c"]]
    assert shortest_cycle(g, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert shortest_cycle({"a": {"b"}, "b": {"a"}}, ["a", "b"]) == ["a", "b", "a"]


def test_no_import_cycle_among_module_level_imports():
    cycles = import_cycles()
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(cycles)


def test_no_module_over_400_lines():
    big = [f"{rel(p)} ({n} lines)" for p in modules().values() if (n := line_count(p)) > MAX_MODULE_LINES]
    assert not big, f"{len(big)} module(s) over {MAX_MODULE_LINES} lines:\n" + "\n".join(big)


def test_no_function_over_80_lines():
    long = long_functions()
    assert not long, f"{len(long)} function(s) over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_only_ui_imports_streamlit():
    ui = LIB / "ui"
    found = []
    for path in modules().values():
        if ui in path.parents:
            continue
        for node in ast.walk(tree(path)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                found.append(f"{rel(path)}:{node.lineno}")
    assert not found, "streamlit imported outside resnet_explain/ui/:\n" + "\n".join(found)


def _inplace(node: ast.Call) -> bool:
    if any(k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
           for k in node.keywords):
        return True
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    return (name in INPLACE_BY_POSITION and bool(node.args) and isinstance(node.args[0], ast.Constant)
            and node.args[0].value is True)  # nn.ReLU(True) is nn.ReLU(inplace=True)


def test_no_inplace_true():
    found = [f"{rel(p)}:{n.lineno}" for p in modules().values() for n in ast.walk(tree(p))
             if isinstance(n, ast.Call) and _inplace(n)]
    assert not found, "inplace=True in the library:\n" + "\n".join(found)


def test_the_inplace_check_sees_both_spellings():
    calls = [n for n in ast.walk(ast.parse("nn.ReLU(inplace=True); ReLU(True); nn.ReLU(); f(True)"))
             if isinstance(n, ast.Call)]
    assert [_inplace(c) for c in calls] == [True, True, False, False]


# Function-level imports: each says why it is not at module level (start-up time: a heavy module
# only one function needs; or a cycle it breaks). The files checked so far: cli/ and the files the
# imports pass cleaned (issue 21); a folder ends with "/". Widen it as more files are cleaned, until
# it is the whole package.
IMPORTS_SAY_WHY = (
    "cli/", "spec/", "model/", "ui/", "device.py", "magnitude.py", "data/upload.py",
    "train/runs.py", "train/estimate.py", "train/snapshots.py", "train/checkpoints.py",
    "train/shipped.py", "train/benchmark.py",
    "charts/export.py", "charts/gradflow.py", "charts/grad_history.py", "charts/architectures.py",
    "charts/axes.py", "charts/overlay.py", "charts/real_models.py", "charts/theory.py",
    "charts/lr_sweep.py", "charts/attribution.py",
    "content/job_status.py", "content/verdict.py", "content/your_network.py",
    "content/architectures.py", "content/shattered.py", "content/misconceptions.py",
    "content/training_lr.py",
    "experiments/architectures.py", "experiments/attribution.py", "experiments/landscape_store.py",
    "experiments/misconceptions.py", "experiments/real_models.py", "experiments/shattered.py",
    "experiments/your_network.py", "experiments/lr_sweep.py", "experiments/quiz.py",
    "experiments/theory.py",
)


def function_level_imports(module: ast.Module):
    """(function, import statements) for every function with imports in its body, in runs: the
    import statements that follow one another in one block (an import in a nested function
    counts for the nested one only)."""
    def runs(node):
        run = []
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                run.append(child)
                continue
            if run:
                yield run
                run = []
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                      ast.Lambda)):
                yield from runs(child)
        if run:
            yield run

    for qual, fn in functions(module):
        for run in runs(fn):
            yield qual, run


def comment_lines(source: str) -> set[int]:
    """The lines that carry a ``#`` comment (not a ``#`` inside a string)."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.start[0] for t in tokens if t.type == tokenize.COMMENT}


def silent_imports(source: str) -> list[tuple[int, str]]:
    """(line, function) of each function-level import with no comment saying why: a comment on
    the statement's lines or the line above it; one on the first of a run of imports covers the
    run (the function's import block)."""
    said, silent = comment_lines(source), []
    for qual, run in function_level_imports(ast.parse(source)):
        def says(node):
            return any(n in said for n in range(node.lineno - 1, node.end_lineno + 1))
        silent += [(node.lineno, qual) for node in run if not (says(node) or says(run[0]))]
    return silent


def files_whose_imports_say_why() -> list[Path]:
    out = []
    for entry in IMPORTS_SAY_WHY:
        found = sorted((LIB / entry).rglob("*.py")) if entry.endswith("/") else [LIB / entry]
        assert found and all(p.is_file() for p in found), f"IMPORTS_SAY_WHY names no file: {entry}"
        out += found
    return out


def test_the_import_check_reads_comments_not_strings():
    source = (
        "def a():\n"
        "    # lazy: heavy\n"
        "    import x\n"
        "    import y\n"  # the same run: covered by the comment above its first import
        "    z = 1\n"
        "    import w\n"  # a new run, no comment
        "def b():\n"
        "    s = '# not a comment'\n"
        "    import v\n"
        "def c():\n"
        "    import u  # lazy: on the line\n"
        "    def inner():\n"
        "        import t\n"
        "    if True:\n"
        "        # breaks a cycle\n"
        "        from . import r\n")
    assert silent_imports(source) == [(6, "a"), (9, "b"), (13, "c.inner")]


def test_a_function_level_import_says_why():
    """A function-level import (start-up time: a heavy module only one function needs; or a cycle
    it breaks) carries a comment saying so, on or above it, or above its function's import block.
    Checked in :data:`IMPORTS_SAY_WHY` (cli/ and the files cleaned so far)."""
    silent = [f"{rel(path)}:{line} {qual}" for path in files_whose_imports_say_why()
              for line, qual in silent_imports(path.read_text())]
    assert not silent, "function-level imports without a comment saying why:\n" + "\n".join(silent)


def test_no_page_over_150_lines():
    pages = sorted(PAGES.glob("*.py"))
    assert pages
    big = [f"{rel(p)} ({n} lines)" for p in pages if (n := line_count(p)) > MAX_PAGE_LINES]
    assert not big, f"{len(big)} page(s) over {MAX_PAGE_LINES} lines:\n" + "\n".join(big)


def test_no_page_relies_on_streamlit_magic():
    """.streamlit/config.toml turns magic off: no page may show a bare value on its own line (a
    statement that is a name, a literal or an expression other than a call), docstrings aside."""
    import tomllib

    assert tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["runner"]["magicEnabled"] is False
    found = []
    for path in [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py"))]:
        tree = ast.parse(path.read_text())
        docs = {id(n.body[0]) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body}
        found += [f"{path.name}:{n.lineno}" for n in ast.walk(tree)
                  if isinstance(n, ast.Expr) and id(n) not in docs
                  and not isinstance(n.value, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom))]
    assert not found, found
