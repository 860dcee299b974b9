"""A trained model out: `kgraph export --state`, the initial-values warning, `prog.export`."""
import warnings

import numpy as np
import pytest

import kgraph
from forkserver import run_script
from kgraph.cli import main as cli_main

# One SGD step of a linear regression; `predict.kg` shares its variables.
TRAIN = """\
placeholder x: float32[None, 3]
placeholder y: float32[None, 1]
variable w = zeros((3, 1))
variable b = zeros((1,))
p = dot(x, w) + b
loss = mean(square(p - y))
dw, db = gradients(loss, [w, b])
update w = w - 0.1 * dw
update b = b - 0.1 * db
output loss
"""
PREDICT = """\
placeholder x: float32[None, 3]
variable w = zeros((3, 1))
variable b = zeros((1,))
output dot(x, w) + b as p
"""
TRUE_W = np.array([[1.0], [-2.0], [0.5]], np.float32)


def data(rows: int, seed: int = 0):
    x = np.random.default_rng(seed).normal(size=(rows, 3)).astype(np.float32)
    return x, x @ TRUE_W + 0.25


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """train.kg run for 30 epochs by `kgraph run --state`: the checkpoint and the folder."""
    folder = tmp_path_factory.mktemp("trained")
    (folder / "train.kg").write_text(TRAIN)
    (folder / "predict.kg").write_text(PREDICT)
    x, y = data(64)
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", y)
    code = cli_main(["run", str(folder / "train.kg"), "--feed", f"x={folder / 'x.npy'}", "--feed",
                     f"y={folder / 'y.npy'}", "--batch-size", "16", "--epochs", "30", "--state",
                     str(folder / "ckpt.npz"), "--quiet"])
    assert code == 0
    return folder


def test_export_with_state_bakes_the_trained_values_in(trained, tmp_path):
    with np.load(trained / "ckpt.npz") as ckpt:
        w = ckpt["w"]
    assert np.abs(w - TRUE_W).max() < 0.05  # it did train
    kgx = tmp_path / "model.kgx"
    assert cli_main(["export", str(trained / "predict.kg"), "-o", str(kgx), "--state",
                     str(trained / "ckpt.npz"), "--platform", "cpu"]) == 0
    script = ("import sys, numpy as np, kgraph\nm = kgraph.load(sys.argv[1])\n"
              "for n in (1, 5, 33):\n    x = np.load(sys.argv[2])[:n]\n"
              "    np.save(f'p{n}.npy', m.run(x=x)['p'])\n")
    x, y = data(40, seed=1)
    np.save(tmp_path / "x.npy", x)
    code, _, err = run_script(script, kgx, tmp_path / "x.npy", cwd=tmp_path)  # a new process
    assert code == 0, err
    for n in (1, 5, 33):
        p = np.load(tmp_path / f"p{n}.npy")
        assert p.shape == (n, 1)
        np.testing.assert_allclose(p, y[:n], atol=0.1)  # the trained values, not zeros
        np.testing.assert_allclose(p, x[:n] @ w + np.load(trained / "ckpt.npz")["b"], rtol=1e-5, atol=1e-5)


def test_export_of_a_training_program_without_state_warns_and_names_the_flag(trained, tmp_path, capsys):
    assert cli_main(["export", str(trained / "train.kg"), "-o", str(tmp_path / "t.kgx"),
                     "--platform", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "initial values" in err and "--state" in err


def test_export_of_a_program_without_updates_does_not_warn(trained, tmp_path, capsys):
    assert cli_main(["export", str(trained / "predict.kg"), "-o", str(tmp_path / "p.kgx"),
                     "--platform", "cpu"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_export_with_a_missing_or_mismatched_state_is_an_error(trained, tmp_path, capsys):
    out = str(tmp_path / "m.kgx")
    assert cli_main(["export", str(trained / "predict.kg"), "-o", out, "--state", str(tmp_path / "no.npz")]) == 1
    assert "no such state file" in capsys.readouterr().err
    np.savez(tmp_path / "other.npz", w=np.zeros((4, 1), np.float32), b=np.zeros(1, np.float32))
    assert cli_main(["export", str(trained / "predict.kg"), "-o", out, "--state", str(tmp_path / "other.npz")]) == 1
    assert "variable 'w' is float32[3, 1] in the program but float32[4, 1] in the file" in capsys.readouterr().err
    assert not (tmp_path / "m.kgx").exists()


def test_python_path_load_state_then_export(trained, tmp_path):
    prog = kgraph.load(trained / "train.kg")
    with warnings.catch_warnings():
        warnings.simplefilter("error", kgraph.KGraphWarning)
        prog.load_state(trained / "ckpt.npz")
        path = prog.export(tmp_path / "train.kgx", platforms=("cpu",))
    loaded = kgraph.load(path)
    with np.load(trained / "ckpt.npz") as ckpt:
        for name in ("w", "b"):
            np.testing.assert_array_equal(loaded.variables[name], ckpt[name])
    x, y = data(8, seed=2)
    assert loaded.run(x=x, y=y)["loss"] < 1e-2
    fresh = kgraph.load(trained / "train.kg")
    with pytest.warns(kgraph.KGraphWarning, match="initial values.*--state"):
        fresh.export(tmp_path / "fresh.kgx", platforms=("cpu",))
    fresh.run(x=x, y=y)  # a run changes the values: exporting them is intended
    with warnings.catch_warnings():
        warnings.simplefilter("error", kgraph.KGraphWarning)
        fresh.export(tmp_path / "fresh.kgx", platforms=("cpu",))


def test_the_learning_phase_stays_a_run_time_argument_of_the_artifact(tmp_path):
    # Dropout and the batch statistics of a 4-d batch norm (its count is the symbolic batch).
    prog = kgraph.compile("placeholder x: float32[None, 2, 2, 3]\n"
                          "normed, mean, var = normalize_batch_in_training(x, None, None, [0, 1, 2])\n"
                          "h = in_train_phase(dropout(normed, 0.5), x)\n"
                          "output h, var", filename="phase.kg")
    path = prog.export(tmp_path / "phase.kgx", platforms=("cpu",))
    loaded = kgraph.load(path)
    assert loaded.manifest["learning_phase"] is True and loaded.manifest["version"] == 2
    x = np.random.default_rng(0).normal(size=(5, 2, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.run(x=x)["h"], x)
    trained = loaded.run(x=x, training=True)
    assert (trained["h"] == 0).mean() > 0.2  # dropped
    np.testing.assert_allclose(trained["var"], x.reshape(-1, 3).var(axis=0, ddof=1), rtol=1e-5)
    loaded.training = True  # what `kgraph run model.kgx --learning-phase 1` sets
    assert (loaded.run(x=x[:2])["h"] == 0).any()
    plain = kgraph.compile("placeholder x: float32[None, 2]\noutput x * 2 as y")
    assert kgraph.load(plain.export(tmp_path / "plain.kgx", platforms=("cpu",))).manifest["version"] == 1
