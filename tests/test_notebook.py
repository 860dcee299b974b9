"""The notebook story: the tour notebook run through a real Jupyter kernel, the magics,
the HTML displays, and the live training view.

The kernel is this interpreter (a kernelspec written to a temporary JUPYTER_PATH), so
the test sees the kgraph under test, in a venv or not.
"""
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "examples" / "notebooks" / "tour.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    kernels = tmp_path_factory.mktemp("jupyter")
    spec = kernels / "kernels" / "kgraph-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "kgraph test", "language": "python"}))
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(kernels))
    mp.setenv("NO_COLOR", "1")
    try:
        nb = nbformat.read(TOUR, as_version=4)
        NotebookClient(nb, timeout=180, kernel_name="kgraph-test",
                       resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        mp.undo()
    return nb


def _cell(nb, startswith: str):
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(startswith):
            return cell
    raise AssertionError(f"no cell starts with {startswith!r}")


def _html(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


def _text(cell) -> str:
    parts = []
    for o in cell.outputs:
        parts.append(o.get("text", ""))
        parts.append(o.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_the_tour_is_in_sync_with_its_generator():
    sys.path.insert(0, str(TOUR.parent))
    try:
        import make_tour
    finally:
        sys.path.pop(0)
    assert [c.source for c in make_tour.notebook().cells] == \
           [c.source for c in nbformat.read(TOUR, as_version=4).cells]


@pytest.mark.slow
def test_every_op_cell_shows_its_outputs_as_a_table(executed):
    cell = _cell(executed, "%%kgraph\nplaceholder x: float32[None, 4]\noutput x * 2")
    html = _html(cell)
    assert "<table" in html and "float32" in html and "[2, 4]" in html
    assert "14." in html  # x * 2 of arange(8): the last value is 14
    ops = [c for c in executed.cells if c.cell_type == "code" and c.source.startswith("%%kgraph")]
    assert len(ops) >= 18
    for c in ops:
        if "raises-exception" not in c.metadata.get("tags", []) and "--no-run" not in c.source:
            assert "<table" in _html(c), c.source


@pytest.mark.slow
def test_values_in_the_tour_are_right(executed):
    assert "row sums: [ 6. 22.]" in _text(_cell(executed, "%%kgraph\nplaceholder x: float32[None, 4]\ny = print_tensor"))
    assert "float64" in _html(_cell(executed, "%%kgraph --floatx float64"))
    assert "[[1., 2.],\n       [3., 4.]]" in _text(_cell(executed, "v = K.variable"))
    assert ">12<" in _html(_cell(executed, "%%kgraph\nvariable W = zeros((4, 3))\noutput count_params"))


@pytest.mark.slow
def test_the_feed_option_and_the_ops_magic(executed):
    assert ">10.<" in _html(_cell(executed, "%%kgraph --feed x="))  # 1 + 2 + 3 + 4
    html = _html(_cell(executed, "%kgraph_ops repeat_elements"))
    assert "repeat_elements(x, rep, axis)" in html and "result:" in html


@pytest.mark.slow
def test_a_program_displays_its_signature_and_graph(executed):
    html = _html(_cell(executed, "%%kgraph --name logreg --no-run"))
    assert "kgraph program" in html
    for leaf in ("placeholder", "variable", "output"):
        assert leaf in html
    # The kernel has this process's PATH. The -O2 graph has no softmax node: the loss reads the
    # logits (categorical_crossentropy[from_logits=True]), in the picture and in the IR alike.
    if shutil.which("dot") is not None:  # the graph drawn, inline
        svg = html[html.index("<svg"):html.index("</svg>")]
        assert "categorical_crossentropy" in svg and "grad" in svg and "softmax" not in svg
    else:  # no picture: the IR as text, and how to get the picture
        assert "<svg" not in html
        assert "IR (install Graphviz's <code>dot</code> for a picture)" in html
        assert "categorical_crossentropy" in html and "from_logits" in html and "softmax" not in html


@pytest.mark.slow
def test_an_error_cell_shows_the_place_and_caret_without_a_traceback(executed):
    cell = _cell(executed, "%%kgraph\nplaceholder x: float32[None, 4]\nW = ones((5, 3))")
    html = _html(cell)
    assert "&lt;cell" in html and ":4:" in html and "error:" in html and "^" in html
    assert "dot" in html
    for o in cell.outputs:
        if o.output_type == "error":
            assert o.traceback == []  # the custom hook replaces the traceback
    assert "Traceback" not in html


@pytest.mark.slow
def test_training_shows_a_live_bar_and_curve(executed):
    cell = _cell(executed, "from kgraph.train import")
    html = _html(cell)
    assert "<progress value='80' max='80'" in html
    assert "<svg" in html and "loss" in html
    assert "80" in _text(cell)
