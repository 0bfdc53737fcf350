"""The package layout: every import points down the layers of docs (README "Package map"), no import cycle (module
level or inside functions), modules under ~450 lines, functions under ~60 lines unless their docstring says why.
Reads the source with `ast`; nothing is imported."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "weakpose"

# The layers, lowest first: a module may import modules of its own layer or below, never above.
LAYERS = {
    0: ["skeleton", "config", "config_parse", "progress"],
    1: ["geometry", "camera", "data.format", "data.checksums", "data.folders", "checkpoints", "clipping", "runlock",
        "predict_checks"],
    2: ["model", "losses", "mirror", "basin", "weak", "metrics", "data.loaders", "data.synth.twins", "data.synth.poses", "data.synth.render",
        "data.synth.crowd", "data.real.prepare", "data.real.h36m", "data.real.h36m_cameras", "data.real.mpi3dhp",
        "data.real.mpii", "data.real.mqc", "data.real.safe_npy", "tracking", "tracklet_inputs", "data.verify",
        "batches", "history"],
    3: ["trainer", "evaluate", "pseudo"],
    4: ["runs", "tracklets"],
    5: ["tables", "viz", "bench", "figures", "data.synth.figure", "predict"],
    6: ["experiments", "data.synth.__main__"],
}
LAYER = {m: k for k, mods in LAYERS.items() for m in mods}


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG).with_suffix("")
        if rel.name == "__init__":
            continue
        out[".".join(rel.parts)] = f
    return out


def _imports(path: Path, modules: set[str]) -> set[str]:
    """weakpose modules imported anywhere in the file (``from weakpose.x import y`` counts y when it is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for n in names:
            if n.startswith("weakpose."):
                m = n[len("weakpose."):]
                if m in modules:
                    found.add(m)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(p, set(mods)) - {m} for m, p in mods.items()}


def test_every_module_has_a_layer():
    assert set(_modules()) == set(LAYER), "add new modules to LAYERS (and to the README package map)"


def test_imports_point_down():
    up = [(m, d) for m, deps in _graph().items() for d in deps if LAYER[d] > LAYER[m]]
    assert not up, f"imports from a lower layer to a higher one: {up}"


def _find_cycle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                c = visit(d)
                if c:
                    return c
        state[n] = 2
        stack.pop()
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def test_no_import_cycle():
    assert _find_cycle(_graph()) is None, f"import cycle: {' -> '.join(_find_cycle(_graph()))}"


def test_cycle_detector_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_sizes():
    long_files = {m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > 450}
    assert not long_files, f"modules over 450 lines: {long_files}"
    long_funcs = []
    for m, p in _modules().items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                if "long because" not in (ast.get_docstring(node) or "").lower():
                    long_funcs.append(f"{m}.{node.name}")
    assert not long_funcs, f"functions over 60 lines without a reason ('long because ...') in the docstring: {long_funcs}"
