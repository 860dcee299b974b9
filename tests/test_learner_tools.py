"""The learner's tools outside the notebook: the Pygments lexer, highlighted output, the
training metrics log (`--log`) and `kgraph plot`, and the HTML displays."""
import csv
import io
import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error

import kgraph
from kgraph.diagnostics import paint, print_code
from kgraph.display import Outputs, error_html, outputs_html, program_html
from kgraph.lexer import KGraphIRLexer, KGraphLexer
from kgraph.metrics import read_metrics

from test_cli import kgraph as run_cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_FILES = sorted(ROOT.glob("examples/**/*.kg"))
DIGITS = ROOT / "examples" / "digits"
TRAIN = [DIGITS / "train.kg", "--feed", f"x={DIGITS / 'digits.npz'}:x_train",
         "--feed", f"y={DIGITS / 'digits.npz'}:y_train", "--batch-size", "128"]


# ---- the lexer ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_lexes_without_error_tokens(path):
    errors = [v for t, v in KGraphLexer().get_tokens(path.read_text()) if t in Error]
    assert errors == []


def test_the_lexer_marks_what_is_not_kgraph():
    errors = [v for t, v in KGraphLexer().get_tokens("x = a $ b ? c\n") if t in Error]
    assert errors == ["$", "?"]


def test_pygments_finds_the_lexer_through_its_entry_point():
    assert isinstance(get_lexer_by_name("kgraph"), KGraphLexer)
    assert isinstance(get_lexer_for_filename("model.kg"), KGraphLexer)


def test_the_ir_lexer_reads_the_ir_of_every_example():
    for path in EXAMPLE_FILES[:4]:
        ir = kgraph.load(path).ir()
        assert not [v for t, v in KGraphIRLexer().get_tokens(ir) if t in Error], path


def test_error_source_lines_are_highlighted_and_plain_without_colour(monkeypatch):
    with pytest.raises(kgraph.KGraphError) as e:
        kgraph.compile("placeholder x: float32[None, 4]\noutput dot(x, ones((5, 3)))")
    painted = paint(e.value.render())
    styles = {str(span.style) for span in painted.spans}
    assert "blue" in styles  # `dot` in the source line, coloured as an op
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    print_code("x = dot(a, b)", out)
    assert out.getvalue() == "x = dot(a, b)\n"  # not a terminal: plain text


# ---- the metrics log and kgraph plot -----------------------------------------------------------

@pytest.fixture(scope="module")
def metrics_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("log") / "metrics.csv"
    code, out, err = run_cli("run", *TRAIN, "--epochs", "2", "--log", path, "--quiet")
    assert code == 0, err
    return path


def test_the_log_has_a_row_per_step_with_every_scalar_output(metrics_csv):
    rows = list(csv.DictReader(metrics_csv.open()))
    per_epoch = -(-1437 // 128)  # digits' x_train has 1437 rows
    assert [int(r["step"]) for r in rows] == list(range(1, 2 * per_epoch + 1))
    assert list(rows[0]) == ["step", "epoch", "loss", "accuracy", "steps_per_second", "time"]
    assert {r["epoch"] for r in rows} == {"1", "2"}
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    times = [float(r["time"]) for r in rows]
    assert times == sorted(times)


def test_the_log_as_json_lines_and_its_cadence(tmp_path):
    path = tmp_path / "m.jsonl"
    code, _, err = run_cli("run", *TRAIN, "--steps", "9", "--log", path, "--log-interval", "4", "--quiet")
    assert code == 0, err
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["step"] for r in rows] == [4, 8, 9]  # every 4 steps, and the last
    assert read_metrics(path)[0]["loss"] == rows[0]["loss"]


@pytest.mark.parametrize("args, message", [
    (["--steps", "2", "--log", "m.txt"], "suffix"),
    (["--log", "m.csv"], "--log records the training loop"),
    (["--steps", "2", "--log-interval", "3"], "--log-interval needs --log"),
])
def test_log_mistakes_are_usage_errors(tmp_path, args, message):
    code, _, err = run_cli("run", *TRAIN, *args, cwd=tmp_path)
    assert code == 2 and message in err


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_plot_draws_a_png_of_the_expected_size(metrics_csv, tmp_path):
    png = tmp_path / "loss.png"
    code, out, err = run_cli("plot", metrics_csv, "-o", png, "--width", "640", "--height", "480")
    assert code == 0, err
    assert _png_size(png) == (640, 480)
    assert "loss, accuracy" in out
    code, _, _ = run_cli("plot", metrics_csv, "-o", tmp_path / "one.png", "--y", "loss", "--x", "epoch")
    assert code == 0 and _png_size(tmp_path / "one.png") == (800, 260)


def test_plot_errors_name_the_problem(metrics_csv, tmp_path, monkeypatch):
    code, _, err = run_cli("plot", metrics_csv, "-o", tmp_path / "a.png", "--y", "nope")
    assert code == 1 and "no output 'nope'" in err and "loss, accuracy" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("step,loss\n1,abc\n")
    code, _, err = run_cli("plot", bad, "-o", tmp_path / "b.png")
    assert code == 1 and "not a number" in err
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the extra were not installed
    code, _, err = run_cli("plot", metrics_csv, "-o", tmp_path / "c.png")
    assert code == 1 and "pip install 'kgraph[plot]'" in err


# ---- HTML displays --------------------------------------------------------------------------

def test_outputs_display_as_a_table_with_long_values_cut():
    html = outputs_html({"big": np.arange(100000.0), "s": np.float32(2.5)})
    assert html.count("<tr>") == 3 and "[100000]" in html and "..." in html
    assert len(html) < 3000
    out = kgraph.compile("output ones((2,))").run()
    assert isinstance(out, Outputs) and isinstance(out, dict) and "<table" in out._repr_html_()


def test_a_program_displays_as_text_ir_without_graphviz(monkeypatch):
    prog = kgraph.load(ROOT / "examples" / "logreg.kg")
    monkeypatch.setattr("kgraph.display.shutil.which", lambda name: None)
    html = program_html(prog)
    assert "placeholder" in html and "float32" in html and "[None, 4]" in html
    assert "<svg" not in html and "categorical_crossentropy" in html and "Graphviz" in html


def test_an_error_displays_its_place_line_and_caret():
    with pytest.raises(kgraph.KGraphError) as e:
        kgraph.compile("y = nope + 1\noutput y", filename="m.kg")
    html = error_html(e.value)
    assert "m.kg:1:5: " in html and "error:" in html and "^" in html and "nope" in html
