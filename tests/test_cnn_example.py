"""examples/digits/cnn.kg trains with `kgraph run` (a short run here, 150 steps, enough for batch
norm's moving statistics to follow: the test loss falls), and
evaluate_cnn.kg reads its state file. The full run's figures are in the README."""
import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

import kgraph
from kgraph.cli import main

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
DATA = DIGITS / "digits.npz"


def kgraph_main(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def test_cnn_shapes():
    prog = kgraph.load(DIGITS / "cnn.kg")
    assert prog.placeholders == {"x": ("float32", ("batch", 64)), "y": ("int32", ("batch",))}
    assert prog.variables["K2"].shape == (3, 3, 16, 32) and prog.variables["W"].shape == (128, 10)


@pytest.mark.slow
def test_a_short_training_run_lowers_the_test_loss(tmp_path):
    state = tmp_path / "cnn.npz"
    kgraph.load(DIGITS / "cnn.kg").save_state(state)  # the seeded initial values
    data = np.load(DATA)
    evaluate = kgraph.load(DIGITS / "evaluate_cnn.kg")
    evaluate.load_state(state)
    before = evaluate.run(x=data["x_test"], y=data["y_test"])
    code, _, err = kgraph_main("run", DIGITS / "cnn.kg", "--feed", f"x={DATA}:x_train",
                               "--feed", f"y={DATA}:y_train", "--batch-size", "32", "--shuffle",
                               "--steps", "150", "--state", state)
    assert code == 0, err
    evaluate.load_state(state)
    after = evaluate.run(x=data["x_test"], y=data["y_test"])
    assert before["loss"] > 2.0 and before["accuracy"] < 0.3, before
    assert after["loss"] < 0.5 * before["loss"] and after["accuracy"] > 0.75, after
