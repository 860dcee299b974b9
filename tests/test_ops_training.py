"""The learning phase, dropout and batch normalization (LANGUAGE.md §9), against tf_keras's values.

Batch-norm references come from tf_keras itself (tests/reference/make_nn_reference.py,
committed as tests/reference/nn_reference.npz): one case per input rank and per code
path of `normalize_batch_in_training` (regular, broadcast, fused).
"""
import json
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.test_util import check_grads

import kgraph
from kgraph.errors import KGraphError

from conftest import run_both
from test_cli import kgraph as kgraph_cli

COVERS = {"learning_phase", "in_train_phase", "in_test_phase", "dropout", "batch_normalization",
          "normalize_batch_in_training", "moving_average_update"}

REFERENCE = np.load(Path(__file__).parent / "reference" / "nn_reference.npz", allow_pickle=False)


def ref(case: str) -> dict:
    prefix = case + "/"
    return {k[len(prefix):]: REFERENCE[k] for k in REFERENCE.files if k.startswith(prefix)}


def decl(name: str, array: np.ndarray, dtype: str = "float32") -> str:
    return f"placeholder {name}: {dtype}[{', '.join(map(str, array.shape))}]\n"


# ---- the learning phase --------------------------------------------------------------

PHASE = """\
placeholder x: float32[None, 3]
output learning_phase() as phase, in_train_phase(x * 2, x) as y, in_test_phase(x * 2, x) as z
output learning_phase() == 1 as is_one
"""


@pytest.fixture(scope="module")
def phase_prog():
    return kgraph.compile(PHASE)


def test_learning_phase_is_false_for_a_run_and_set_by_training(phase_prog):
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    test = phase_prog.run(x=x)
    assert test["phase"].dtype == np.bool_ and not test["phase"] and not test["is_one"]
    np.testing.assert_array_equal(test["y"], x)
    np.testing.assert_array_equal(test["z"], 2 * x)
    train = phase_prog.run(x=x, training=True)
    assert train["phase"] and train["is_one"]
    np.testing.assert_array_equal(train["y"], 2 * x)
    np.testing.assert_array_equal(train["z"], x)
    assert not phase_prog.run(x=x, training=0)["phase"]
    with pytest.raises(KGraphError, match="must be True, False, 1 or 0"):
        phase_prog.run(x=x, training="yes")


def test_a_program_without_the_learning_phase_takes_no_phase_argument():
    plain = kgraph.compile("placeholder x: float32[None, 3]\noutput x * 2")
    phased = kgraph.compile("placeholder x: float32[None, 3]\noutput in_train_phase(x * 2, x)")
    x = np.ones((2, 3), np.float32)
    assert len(plain.arguments({"x": x})) == 1
    assert len(phased.arguments({"x": x})) == 2
    # A Python value chooses at compile time: no learning_phase node is left.
    static = kgraph.compile("placeholder x: float32[None, 3]\noutput in_train_phase(x * 2, x, training=True)")
    assert "learning_phase" not in static.ir()
    np.testing.assert_array_equal(static.run(x=x)["out0"], 2 * x)


def test_training_cannot_name_a_placeholder():
    with pytest.raises(KGraphError, match="cannot be named 'training'") as e:
        kgraph.compile("placeholder training: float32[3]\noutput training")
    assert e.value.line == 1


def test_a_variable_cannot_start_from_the_learning_phase():
    with pytest.raises(KGraphError, match="learning_phase"):
        kgraph.compile("variable v = cast(learning_phase(), 'float32')\noutput v")


def test_command_line_learning_phase_and_training_loop(tmp_path):
    path = tmp_path / "phase.kg"
    path.write_text(PHASE)
    feed = ["--feed", "x=[[1, 2, 3]]", "--format", "json"]
    code, out, _ = kgraph_cli("run", path, *feed)
    assert code == 0 and json.loads(out)["phase"]["data"] is False
    code, out, _ = kgraph_cli("run", path, *feed, "--learning-phase", "1")
    assert code == 0 and json.loads(out)["phase"]["data"] is True
    code, out, _ = kgraph_cli("run", path, *feed, "--steps", "2", "--quiet")
    code, out, _ = kgraph_cli("run", path, *feed, "--steps", "2", "--log-every", "1")
    assert code == 0 and json.loads(out)["phase"]["data"] is True
    code, out, _ = kgraph_cli("run", path, *feed, "--steps", "2", "--log-every", "1", "--learning-phase", "0")
    assert code == 0 and json.loads(out)["phase"]["data"] is False
    code, _, err = kgraph_cli("run", path, *feed, "--learning-phase", "2")
    assert code == 2 and "learning-phase" in err


# ---- dropout ---------------------------------------------------------------------------

DROPOUT = """\
placeholder x: float32[None, 200]
output dropout(x, 0.2) as fresh, dropout(x, 0.2, seed=7) as seeded
output dropout(x, 0.2, noise_shape=(None, 1), seed=3) as rows
"""


@pytest.fixture(scope="module")
def dropout_prog():
    return kgraph.compile(DROPOUT)


def test_dropout_drops_and_scales_as_keras(dropout_prog):
    """tf_keras's test_dropout: 200 x 200 ones at 0.2 keep about 32000 entries."""
    out = dropout_prog.run(x=np.ones((200, 200), np.float32))
    for name in ("fresh", "seeded"):
        values = out[name]
        assert set(np.unique(values)) == {0.0, np.float32(1 / 0.8)}
        assert abs(np.count_nonzero(values) - 32000) <= 1000
    rows = out["rows"]
    np.testing.assert_array_equal(rows.min(axis=1), rows.max(axis=1))  # one mask value per row
    assert 0 < np.count_nonzero(rows[:, 0]) < 200


@pytest.mark.slow
def test_seeded_dropout_is_one_mask_and_unseeded_is_fresh_but_reproducible(dropout_prog):
    x = np.ones((8, 200), np.float32)
    dropout_prog.reset()  # the run counter back to 0, as a fresh program's
    first, second = dropout_prog.run(x=x), dropout_prog.run(x=x)
    np.testing.assert_array_equal(first["seeded"], second["seeded"])
    assert not np.array_equal(first["fresh"], second["fresh"])
    again = kgraph.compile(DROPOUT)
    np.testing.assert_array_equal(again.run(x=x)["fresh"], first["fresh"])  # the same --seed
    other = kgraph.compile(DROPOUT, seed=1)
    assert not np.array_equal(other.run(x=x)["fresh"], first["fresh"])
    np.testing.assert_array_equal(other.run(x=x)["seeded"], first["seeded"])
    # A None batch: the mask follows the fed size.
    assert dropout_prog.run(x=np.ones((3, 200), np.float32))["fresh"].shape == (3, 200)


def test_dropout_gradient_is_the_mask_over_keep():
    prog = kgraph.compile("placeholder x: float32[None, 50]\ny = dropout(x, 0.5, seed=2)\n"
                          "output y, gradients(sum(y), [x]) as g")
    out = prog.run(x=np.ones((4, 50), np.float32))
    np.testing.assert_array_equal(out["g_0"], out["y"])  # x is ones: y is the scaled mask


@pytest.mark.slow
def test_dropout_and_in_train_phase_gradients_check_grads():
    prog = kgraph.compile("placeholder x: float64[3, 5]\n"
                          "output sum(square(in_train_phase(dropout(x, 0.4, seed=5), x * 3))) as y",
                          floatx="float64")
    f = prog.as_jax_function()
    x = np.random.default_rng(2).normal(size=(3, 5))
    with jax.enable_x64(True):
        for training in (True, False):
            check_grads(jax.jit(lambda v: f({}, x=v, training=training)["y"]), (x,), order=2, modes=["rev"])


def test_dropout_errors():
    with pytest.raises(KGraphError, match="level must be a number in"):
        kgraph.compile("placeholder x: float32[None, 4]\noutput dropout(x, 1.0)")
    with pytest.raises(KGraphError, match="noise_shape"):
        kgraph.compile("placeholder x: float32[None, 4]\noutput dropout(x, 0.5, noise_shape=(1, 3))")


# ---- batch normalization ------------------------------------------------------------------

@pytest.mark.parametrize("case", ["norm2", "norm3", "norm3b", "norm4", "norm4b", "norm4c", "norm5"])
def test_normalize_batch_in_training_matches_tf_keras(case):
    r = ref(case)
    axes = tuple(int(a) for a in r["axes"])
    source = (decl("x", r["x"]) + decl("gamma", r["gamma"]) + decl("beta", r["beta"])
              + f"normed, mean, var = normalize_batch_in_training(x, gamma, beta, {list(axes)})\n"
              f"plain, m2, v2 = normalize_batch_in_training(x, None, None, {list(axes)})\n"
              "output normed, mean, var, plain")
    out = run_both(source, x=r["x"], gamma=r["gamma"], beta=r["beta"])
    for name in ("normed", "mean", "var"):
        np.testing.assert_allclose(out[name], r[name], rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(out["plain"], r["normed_plain"], rtol=1e-4, atol=1e-5)


def test_4d_fused_normalize_returns_the_unbiased_variance():
    r = ref("norm4")
    n = r["x"].shape[0] * r["x"].shape[1] * r["x"].shape[2]
    biased = r["x"].var(axis=(0, 1, 2))
    np.testing.assert_allclose(r["var"], biased * n / (n - 1), rtol=1e-4)  # what tf_keras returns
    source = ("placeholder x: float32[None, 3, 2, 5]\n"
              "normed, mean, var = normalize_batch_in_training(x, None, None, [0, 1, 2])\noutput var")
    np.testing.assert_allclose(kgraph.compile(source).run(x=r["x"])["var"], r["var"], rtol=1e-4)


@pytest.mark.parametrize("case", ["bn2", "bn3", "bn4", "bn4first"])
def test_batch_normalization_matches_tf_keras(case):
    r = ref(case)
    source = "".join(decl(k, r[k]) for k in ("x", "mean", "var", "beta", "gamma"))
    source += (f"output batch_normalization(x, mean, var, beta, gamma, axis={int(r['axis'])}, "
               f"epsilon={float(r['epsilon'])!r}) as y")
    out = run_both(source, **{k: r[k] for k in ("x", "mean", "var", "beta", "gamma")})
    np.testing.assert_allclose(out["y"], r["y"], rtol=1e-5, atol=1e-5)


def test_batch_normalization_numpy_reference_and_none_params():
    """tf_keras's formula with gamma and beta left out, on a None batch."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    mean, var = x.mean(0), x.var(0)
    prog = kgraph.compile("placeholder x: float32[None, 3]\nplaceholder m: float32[3]\n"
                          "placeholder v: float32[3]\noutput batch_normalization(x, m, v, None, None)")
    np.testing.assert_allclose(prog.run(x=x, m=mean, v=var)["out0"], (x - mean) / np.sqrt(var + 1e-3),
                               rtol=1e-5, atol=1e-6)


def _jax_function(source: str, wrt: list[str], feeds: dict):
    prog = kgraph.compile(source, floatx="float64")
    f = prog.as_jax_function()

    def g(*values):
        return f({}, **feeds, **dict(zip(wrt, values)))["y"]

    return jax.jit(g)  # check_grads calls it hundreds of times: compiled, not op by op


@pytest.mark.slow
@pytest.mark.parametrize("axes", [[0, 1, 2], [0, 2, 3], [0]])
def test_normalize_batch_gradients_check_grads(axes):
    """Each result separately: summed, their second-order finite differences lose the precision."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3, 2, 3))
    shape = {(0, 1, 2): (3,), (0, 2, 3): (3, 1, 1), (0,): (3, 2, 3)}[tuple(axes)]
    gamma, beta = rng.uniform(0.5, 1.5, shape), rng.normal(size=shape)
    dims = ", ".join(map(str, shape))
    with jax.enable_x64(True):
        for result in ("sum(normed * normed * x)", "sum(var)", "sum(mean)"):
            source = (f"placeholder x: float64[4, 3, 2, 3]\nplaceholder gamma: float64[{dims}]\n"
                      f"placeholder beta: float64[{dims}]\n"
                      f"normed, mean, var = normalize_batch_in_training(x, gamma, beta, {axes})\n"
                      f"y = {result}\noutput y")
            check_grads(_jax_function(source, ["x", "gamma", "beta"], {}), (x, gamma, beta), order=2,
                        modes=["rev"], atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_batch_normalization_gradients_check_grads():
    rng = np.random.default_rng(1)
    source = ("placeholder x: float64[5, 3]\nplaceholder m: float64[3]\nplaceholder v: float64[3]\n"
              "placeholder b: float64[3]\nplaceholder g: float64[3]\n"
              "y = sum(square(batch_normalization(x, m, v, b, g)))\noutput y")
    args = (rng.normal(size=(5, 3)), rng.normal(size=3), rng.uniform(0.5, 2, 3), rng.normal(size=3),
            rng.uniform(0.5, 2, 3))
    with jax.enable_x64(True):
        check_grads(_jax_function(source, ["x", "m", "v", "b", "g"], {}), args, order=2, modes=["rev"])


def test_moving_average_update():
    prog = kgraph.compile("variable m = [0.0, 10.0]\nplaceholder v: float32[2]\n"
                          "update m = moving_average_update(m, v, 0.9)\noutput m")
    prog.run(v=np.array([2.0, 0.0], np.float32))
    np.testing.assert_allclose(prog.variables["m"], [0.2, 9.0], rtol=1e-6)
    prog.run(v=np.array([2.0, 0.0], np.float32))
    np.testing.assert_allclose(prog.variables["m"], [0.2 * 0.9 + 0.2, 8.1], rtol=1e-6)
