"""The committed notebooks: stripped of outputs, kernel python3, one flat `parameters` cell, the test hook right
after it, and parameters that match what `weakpose.experiments` passes to them. (Their execution is tested by
`pytest --nbval-lax`, see notebooks/conftest.py.)"""
import ast
import io
import tokenize
from pathlib import Path

import nbformat
import pytest

from weakpose import experiments, tables

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
EXPECTED = {"ablation.ipynb", "sota_h36m.ipynb", "sota_3dhp.ipynb", "results.ipynb", "explore.ipynb"}


def _read(path):
    return nbformat.read(path, as_version=4)


def _parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected exactly one cell tagged 'parameters', found {len(cells)}"
    assert cells[0].cell_type == "code"
    return cells[0]


def parameters(nb) -> dict:
    """{name: default value} of a notebook's parameters cell."""
    tree = ast.parse(_parameters_cell(nb).source)
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}


def test_all_notebooks_present():
    assert {p.name for p in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_infers_every_parameter(path):
    """papermill must parse each parameter line (a stray '=' in a comment makes it drop the parameter)."""
    import papermill

    names = {n.targets[0].id for n in ast.parse(_parameters_cell(_read(path)).source).body}
    assert set(papermill.inspect_notebook(str(path))) == names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stripped_and_python3(path):
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs: strip the notebook"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_is_flat_and_commented(path):
    src = _parameters_cell(_read(path)).source
    tree = ast.parse(src)
    assert tree.body, "empty parameters cell"
    for node in tree.body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name), \
            f"only simple assignments allowed, got: {ast.unparse(node)}"
        value = node.value.operand if isinstance(node.value, ast.UnaryOp) else node.value
        assert isinstance(value, ast.Constant) and isinstance(value.value, (str, int, float, bool)), \
            f"only scalars and strings allowed, got: {ast.unparse(node)}"
    commented = {t.start[0] for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type == tokenize.COMMENT}
    for node in tree.body:
        assert node.lineno in commented, f"parameter {node.targets[0].id} needs a comment naming its allowed values"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_hook_follows_parameters(path):
    nb = _read(path)
    i = nb.cells.index(_parameters_cell(nb))
    hook = nb.cells[i + 1]
    assert hook.cell_type == "code" and 'os.environ.get("WEAKPOSE_RESULTS", results_root)' in hook.source
    if "profile" in parameters(nb):
        assert 'os.environ.get("WEAKPOSE_NOTEBOOK_PROFILE", profile)' in hook.source


def test_defaults():
    p = {path.name: parameters(_read(path)) for path in NOTEBOOKS}
    assert p["ablation.ipynb"] == dict(sup2d="M", sup3d="", mv="H", known_R=False, use_heatmap_loss=True,
                                       source="synthetic", data_root="", profile="cpu", device="auto", seed=0,
                                       results_root="runs", reuse=True, formulation="ours")
    for name in ("sota_h36m.ipynb", "sota_3dhp.ipynb"):
        assert p[name]["profile"] == "cpu" and p[name]["source"] == "synthetic" and p[name]["formulation"] == "ours"
        assert p[name]["results_root"] == "runs"
    assert p["sota_h36m.ipynb"]["row"] in tables.TABLE2
    assert p["sota_3dhp.ipynb"]["row"] in tables.TABLE3


@pytest.mark.parametrize("table", tables.TABLES)
def test_runner_passes_exactly_the_notebook_parameters(table):
    path = experiments.NOTEBOOK_DIR / experiments.NOTEBOOKS[table]
    names = set(parameters(_read(path)))
    for row in tables.ROWS[table]:
        assert set(experiments.notebook_params(table, row, "smoke", "/tmp/r")) == names, row
