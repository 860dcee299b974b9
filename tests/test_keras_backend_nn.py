"""tf_keras's backend_test.py, ported for issue 12's functions (part B) and the backend's call forms.

Each ported test keeps tf_keras's inputs, NumPy reference and tolerance (named after
the test it comes from). Where NumPy is awkward (CTC decoding, focal losses), the
values come from tf_keras itself: tests/reference/make_nn_reference.py wrote
tests/reference/nn_reference.npz.
"""
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.test_util import check_grads

import kgraph
from kgraph import backend as K
from kgraph.errors import KGraphError

COVERS = {"in_top_k", "binary_focal_crossentropy", "categorical_focal_crossentropy", "ctc_batch_cost",
          "ctc_decode", "truncated_normal", "random_bernoulli", "random_binomial"}

REFERENCE = np.load(Path(__file__).parent / "reference" / "nn_reference.npz", allow_pickle=False)


def ref(case: str) -> dict:
    prefix = case + "/"
    return {k[len(prefix):]: REFERENCE[k] for k in REFERENCE.files if k.startswith(prefix)}


@pytest.fixture(autouse=True)
def _fresh_session():
    K.clear_session()
    yield
    K.clear_session()


# ---- BackendUtilsTest: the learning phase -------------------------------------------------

def test_learning_phase():
    with pytest.raises(KGraphError, match="0 or 1"):
        K.set_learning_phase(2)


def test_learning_phase_name():
    assert K.symbolic_learning_phase().name == "keras_learning_phase"


def test_learning_phase_scope():
    initial_learning_phase = K.learning_phase()
    with K.learning_phase_scope(1):
        assert K.learning_phase() == 1
    assert K.learning_phase() is initial_learning_phase
    with K.learning_phase_scope(0):
        assert K.learning_phase() == 0
    assert K.learning_phase() is initial_learning_phase
    with pytest.raises(KGraphError):
        with K.learning_phase_scope(None):
            pass
    assert K.learning_phase() is initial_learning_phase
    try:
        K.set_learning_phase(0)
        assert K.learning_phase() == 0
        with K.learning_phase_scope(1):
            assert K.learning_phase() == 1
        assert K.learning_phase() == 0
    finally:
        from kgraph.backend import phase

        phase._SET[0] = None


def test_in_train_phase():
    y1 = K.variable(1)
    y2 = K.variable(2)
    y = K.in_train_phase(y1, y2)
    f = K.function([K.learning_phase()], [y])
    y_val_test = f([0])[0]
    y_val_train = f([1])[0]
    np.testing.assert_allclose(y_val_test, 2)
    np.testing.assert_allclose(y_val_train, 1)
    # Callables are called (as Keras does), and a scope chooses at build time.
    with K.learning_phase_scope(1):
        assert K.in_train_phase(lambda: y1, lambda: y2) is y1
    assert K.eval(K.in_test_phase(lambda: y1 * 3, y2, training=0)) == 3


def test_function_tf_feed_symbols():
    """BackendGraphTests.test_function_tf_feed_symbols: variables and the phase as inputs."""
    x1 = K.placeholder(shape=())
    x2 = K.placeholder(shape=())
    lr = K.learning_phase()
    y1 = K.variable(10.0)
    y2 = 3
    f = K.function(inputs=[x1, x2, lr], outputs=[x1 + 1, K.in_train_phase(x2 + 2, x2 - 1)])
    assert [float(v) for v in f([y1, y2, None])] == [11.0, 2.0]
    assert [float(v) for v in f([y1, y2, 1])] == [11.0, 5.0]
    assert [float(v) for v in f([K.constant(20.0), y2, None])] == [21.0, 2.0]
    assert [float(v) for v in f([4, y2, None])] == [5.0, 2.0]


# ---- BackendNNOpsTest ---------------------------------------------------------------------

def test_dropout():
    inputs = K.ones((200, 200))
    outputs = K.dropout(inputs, 0.2)
    outputs_val = K.eval(outputs)
    assert np.min(outputs_val) == 0
    np.testing.assert_allclose(np.count_nonzero(outputs_val), 32000, atol=1000)
    outputs = K.dropout(inputs, 0.2, noise_shape=(200, 1))
    outputs_val = K.eval(outputs)
    assert np.min(outputs_val[0, :]) == np.max(outputs_val[0, :])


def test_batch_normalization():
    g_val = np.random.random((3,))
    b_val = np.random.random((3,))
    gamma = K.variable(g_val)
    beta = K.variable(b_val)
    for shape, axes, axis in [((10, 5, 3), (0, 1), -1), ((10, 5, 5, 3), (0, 1, 2), -1),
                              ((10, 3, 5, 5), (0, 2, 3), 1)]:
        val = np.random.random(shape)
        x = K.variable(val)
        mean, var = K.mean(x, axis=axes), K.var(x, axis=axes)
        normed = K.batch_normalization(x, mean, var, beta, gamma, axis=axis, epsilon=1e-3)
        assert normed.shape == shape
        c = (1,) * (len(shape) - 1) + (3,) if axis == -1 else (1, 3, 1, 1)
        expected = ((val - val.mean(axes).reshape(c)) / np.sqrt(val.var(axes).reshape(c) + 1e-3)
                    * g_val.reshape(c) + b_val.reshape(c))
        np.testing.assert_allclose(K.eval(normed), expected, rtol=1e-4, atol=1e-5)


def test_normalize_batch_in_training():
    val = np.random.random((10, 3, 10, 10))
    x = K.variable(val)
    reduction_axes = (0, 2, 3)
    g_val = np.random.random((3,))
    b_val = np.random.random((3,))
    gamma = K.variable(g_val)
    beta = K.variable(b_val)
    for gamma, beta in [(gamma, beta), (None, beta), (None, None)]:
        normed, mean, var = K.normalize_batch_in_training(x, gamma, beta, reduction_axes, epsilon=1e-3)
        assert normed.shape == (10, 3, 10, 10)
        assert mean.shape == (3,)
        assert var.shape == (3,)
    np.testing.assert_allclose(K.eval(var), val.var(axis=reduction_axes), rtol=1e-4)


def test_moving_average_update_in_k_function_updates():
    x = K.variable(0.0)
    f = K.function([], [], updates=[K.moving_average_update(x, 2.0, 0.9)])
    f([])
    np.testing.assert_allclose(K.get_value(x), 0.2, rtol=1e-6)


# ---- BackendCrossEntropyLossesTest: the focal losses -------------------------------------

def _logits():
    return K.constant([[0, 1, 0]]), K.constant([[8.0, 1.0, 1.0]])


def test_binary_focal_crossentropy_with_sigmoid():
    t, logits = _logits()
    p = K.sigmoid(logits)
    result = K.eval(K.binary_focal_crossentropy(t, p, gamma=2.0))
    np.testing.assert_allclose(result[0], [7.995, 0.022, 0.701], atol=1e-3)


def test_categorical_focal_crossentropy_with_softmax():
    t, logits = _logits()
    p = K.softmax(logits)
    result = K.eval(K.categorical_focal_crossentropy(t, p, gamma=2.0))
    np.testing.assert_allclose(result, [1.747], atol=1e-3)


def test_binary_focal_crossentropy_from_logits():
    t, logits = _logits()
    result = K.eval(K.binary_focal_crossentropy(target=t, output=logits, gamma=2.0, from_logits=True))
    np.testing.assert_allclose(result[0], [7.995, 0.022, 0.701], atol=1e-3)


def test_categorical_focal_crossentropy_from_logits():
    t, logits = _logits()
    result = K.eval(K.categorical_focal_crossentropy(target=t, output=logits, from_logits=True))
    np.testing.assert_allclose(result, [1.7472], atol=1e-3)


def test_binary_focal_crossentropy_no_focal_effect_with_zero_gamma():
    t, logits = _logits()
    p = K.sigmoid(logits)
    focal_result = K.eval(K.binary_focal_crossentropy(target=t, output=p, gamma=0))
    non_focal_result = K.eval(K.binary_crossentropy(t, p))
    np.testing.assert_allclose(focal_result[0], non_focal_result[0], atol=1e-3)


def test_categorical_focal_crossentropy_no_focal_effect():
    t, logits = _logits()
    p = K.softmax(logits)
    focal_result = K.eval(K.categorical_focal_crossentropy(target=t, output=p, gamma=0.0, alpha=1.0))
    non_focal_result = K.eval(K.categorical_crossentropy(t, p))
    np.testing.assert_allclose(focal_result, non_focal_result, atol=1e-3)


def test_binary_weighted_focal_crossentropy_with_sigmoid():
    t, logits = _logits()
    p = K.sigmoid(logits)
    result = K.eval(K.binary_focal_crossentropy(target=t, output=p, apply_class_balancing=True))
    np.testing.assert_allclose(result[0], [5.996, 0.006, 0.526], atol=1e-3)


def test_binary_weighted_focal_crossentropy_from_logits():
    t, logits = _logits()
    result = K.eval(K.binary_focal_crossentropy(target=t, output=logits, apply_class_balancing=True,
                                                from_logits=True))
    np.testing.assert_allclose(result[0], [5.996, 0.006, 0.526], atol=1e-3)


@pytest.mark.parametrize("name", ["plain", "gamma3", "balanced", "logits", "sigmoid"])
def test_binary_focal_matches_tf_keras(name):
    r = ref("bfocal")
    t, p = K.constant(r["t"]), K.constant(r["z"] if name in ("logits", "sigmoid") else r["p"])
    kwargs = {"plain": {}, "gamma3": {"gamma": 3.0}, "balanced": {"apply_class_balancing": True, "alpha": 0.3},
              "logits": {"from_logits": True}, "sigmoid": {}}[name]
    if name == "sigmoid":
        p = K.sigmoid(p)
    np.testing.assert_allclose(K.eval(K.binary_focal_crossentropy(t, p, **kwargs)), r[name], rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("name", ["plain", "tuned", "logits", "softmax", "axis0"])
def test_categorical_focal_matches_tf_keras(name):
    r = ref("cfocal")
    t, p = r["t"], r["z"] if name in ("logits", "softmax") else r["p"]
    if name == "axis0":
        t, p = t.T, p.T
    t, p = K.constant(t), K.constant(p)
    kwargs = {"plain": {}, "tuned": {"alpha": 0.5, "gamma": 1.0}, "logits": {"from_logits": True},
              "softmax": {}, "axis0": {"axis": 0}}[name]
    if name == "softmax":
        p = K.softmax(p)
    np.testing.assert_allclose(K.eval(K.categorical_focal_crossentropy(t, p, **kwargs)), r[name],
                               rtol=1e-5, atol=1e-6)


def test_from_logits_warning_in_keras_wording():
    t, logits = _logits()
    with pytest.warns(UserWarning, match=r"`categorical_crossentropy` received `from_logits=True`, but the "
                                         r"`output` argument was produced by a Softmax activation and thus "
                                         r"does not represent logits. Was this intended\?"):
        K.categorical_crossentropy(t, K.softmax(logits), from_logits=True)
    with pytest.warns(UserWarning, match="produced by a Sigmoid activation"):
        K.binary_focal_crossentropy(t, K.sigmoid(logits), from_logits=True)


@pytest.mark.slow
def test_focal_gradients_check_grads():
    rng = np.random.default_rng(0)
    t = (rng.uniform(size=(3, 4)) > 0.5).astype(np.float64)
    z = rng.normal(size=(3, 4))
    for loss in ("binary_focal_crossentropy(t, z, from_logits=True, apply_class_balancing=True)",
                 "categorical_focal_crossentropy(t, softmax(z))"):
        prog = kgraph.compile(f"placeholder t: float64[3, 4]\nplaceholder z: float64[3, 4]\n"
                              f"output sum({loss}) as y", floatx="float64")
        f = prog.as_jax_function()
        with jax.enable_x64(True):
            check_grads(jax.jit(lambda z_: f({}, t=t, z=z_)["y"]), (z,), order=2, modes=["rev"])


# ---- in_top_k ---------------------------------------------------------------------------------

def test_in_top_k_matches_tf_with_ties():
    r = ref("topk")
    for k in (1, 2, 3):
        got = K.eval(K.in_top_k(K.constant(r["pred"]), K.constant(r["targets"], dtype="int32"), k))
        np.testing.assert_array_equal(got, r[f"k{k}"], err_msg=f"k={k}")


# ---- TestCTC ----------------------------------------------------------------------------------

CTC_DECODE_PROBS = np.asarray([
    [0.30999, 0.309938, 0.0679938, 0.0673362, 0.0708352, 0.173908],
    [0.215136, 0.439699, 0.0370931, 0.0393967, 0.0381581, 0.230517],
    [0.199959, 0.489485, 0.0233221, 0.0251417, 0.0233289, 0.238763],
    [0.279611, 0.452966, 0.0204795, 0.0209126, 0.0194803, 0.20655],
    [0.51286, 0.288951, 0.0243026, 0.0220788, 0.0219297, 0.129878],
    [0.155251, 0.164444, 0.173517, 0.176138, 0.169979, 0.160671]], dtype=np.float32)


def test_ctc_decode():
    depth, seq_len_0 = 6, 5
    inputs = [CTC_DECODE_PROBS[t, :][np.newaxis, :] for t in range(seq_len_0)] + 2 * [
        np.zeros((1, depth), dtype=np.float32)]
    inputs = K.variable(np.asarray(inputs).transpose((1, 0, 2)))
    input_length = K.variable(np.array([seq_len_0], dtype=np.int32), dtype="int32")
    log_prob_truth = np.array([-3.5821197, -3.777835], np.float32)[np.newaxis, :]
    decode_truth = [np.array([1, 0, -1, -1, -1, -1, -1]), np.array([0, 1, 0, -1, -1, -1, -1])]
    beam_width, top_paths = 2, 2
    decode_pred_tf, log_prob_pred_tf = K.ctc_decode(inputs, input_length, greedy=False,
                                                    beam_width=beam_width, top_paths=top_paths)
    assert len(decode_pred_tf) == top_paths
    log_prob_pred = K.eval(log_prob_pred_tf)
    for i in range(top_paths):
        assert np.all(decode_truth[i] == K.eval(decode_pred_tf[i]))
        assert K.eval(decode_pred_tf[i]).dtype == np.int64
    np.testing.assert_allclose(log_prob_truth, log_prob_pred, rtol=1e-6, atol=1e-6)


CTC_COST_INPUTS = np.asarray([
    [[0.633766, 0.221185, 0.0917319, 0.0129757, 0.0142857, 0.0260553],
     [0.111121, 0.588392, 0.278779, 0.0055756, 0.00569609, 0.010436],
     [0.0357786, 0.633813, 0.321418, 0.00249248, 0.00272882, 0.0037688],
     [0.0663296, 0.643849, 0.280111, 0.00283995, 0.0035545, 0.00331533],
     [0.458235, 0.396634, 0.123377, 0.00648837, 0.00903441, 0.00623107]],
    [[0.30176, 0.28562, 0.0831517, 0.0862751, 0.0816851, 0.161508],
     [0.24082, 0.397533, 0.0557226, 0.0546814, 0.0557528, 0.19549],
     [0.230246, 0.450868, 0.0389607, 0.038309, 0.0391602, 0.202456],
     [0.280884, 0.429522, 0.0326593, 0.0339046, 0.0326856, 0.190345],
     [0.423286, 0.315517, 0.0338439, 0.0393744, 0.0339315, 0.154046]]], dtype=np.float32)


def test_ctc_batch_cost():
    label_lens = np.expand_dims(np.asarray([5, 4]), 1)
    input_lens = np.expand_dims(np.asarray([5, 5]), 1)
    loss_log_probs = [3.34211, 5.42262]
    labels = np.asarray([[0, 1, 2, 1, 0], [0, 1, 1, 0, -1]])
    labels = K.variable(labels, dtype="int32")
    inputs = K.variable(CTC_COST_INPUTS, dtype="float32")
    input_lens = K.variable(input_lens, dtype="int32")
    label_lens = K.variable(label_lens, dtype="int32")
    res = K.eval(K.ctc_batch_cost(labels, inputs, input_lens, label_lens))
    np.testing.assert_allclose(res[:, 0], loss_log_probs, atol=1e-05)
    ref_one = [3.34211]
    res = K.eval(K.ctc_batch_cost(K.variable([[0, 1, 2, 1, 0]], dtype="int32"),
                                  K.variable(CTC_COST_INPUTS[:1]), K.variable([[5]], dtype="int32"),
                                  K.variable([[5]], dtype="int32")))
    np.testing.assert_allclose(res[:, 0], ref_one, atol=1e-05)


@pytest.fixture(scope="module")
def ctc_programs():
    r = ref("ctc")
    head = ("placeholder p: float32[None, 6, 4]\nplaceholder n: int32[None]\n"
            "placeholder labels: int32[None, 3]\nplaceholder n1: int32[None, 1]\nplaceholder ll: int32[None, 1]\n")
    greedy = kgraph.compile(head + "d, lp = ctc_decode(p, n)\noutput d[0] as d0, lp, "
                                   "ctc_batch_cost(labels, p, n1, ll) as cost")
    head = "placeholder p: float32[None, 6, 4]\nplaceholder n: int32[None]\n"
    beams = {(w, k): kgraph.compile(head + f"d, lp = ctc_decode(p, n, greedy=False, beam_width={w}, "
                                           f"top_paths={k})\noutput d, lp")
             for w, k in [(100, 1), (100, 3), (2, 2), (1, 1)]}
    feeds = {"p": r["probs"], "n": r["input_length"][:, 0], "labels": r["labels"],
             "n1": r["input_length"], "ll": r["label_length"]}
    return r, greedy, beams, feeds


def test_ctc_cost_and_greedy_decode_match_tf_keras(ctc_programs):
    r, greedy, _, feeds = ctc_programs
    out = greedy.run(p=feeds["p"], n=feeds["n"], labels=feeds["labels"], n1=feeds["n1"], ll=feeds["ll"])
    np.testing.assert_allclose(out["cost"], r["cost"], rtol=1e-5)
    np.testing.assert_array_equal(out["d0"], r["greedy"])
    np.testing.assert_allclose(out["lp"], r["greedy_log_prob"], rtol=1e-5)


@pytest.mark.parametrize("width, paths", [(100, 1), (100, 3), (2, 2), (1, 1)])
def test_ctc_beam_decode_matches_tf_keras(ctc_programs, width, paths):
    _, _, beams, feeds = ctc_programs
    expected = ref(f"ctc_beam{width}_{paths}")
    out = beams[width, paths].run(p=feeds["p"], n=feeds["n"])
    np.testing.assert_allclose(out["lp"], expected["log_prob"], rtol=1e-5)
    for i in range(paths):
        np.testing.assert_array_equal(out[f"d_{i}"], expected[f"decoded{i}"], err_msg=f"path {i}")


def test_ctc_beam_merges_repeated_labels_as_tf_keras():
    """TF's v1 beam decoder (merge_repeated=True) prints the beam 'a a' as 'a', so two of the
    top paths read [0]; the greedy decoder keeps 'a blank a' as [0, 0]."""
    r = ref("ctc_repeats")
    prog = kgraph.compile("placeholder p: float32[None, 4, 3]\n"
                          "d, lp = ctc_decode(p, [4], greedy=False, beam_width=10, top_paths=3)\n"
                          "g, glp = ctc_decode(p, [4])\noutput d, lp, g[0] as greedy, glp")
    out = prog.run(p=r["probs"])
    for i in range(3):
        np.testing.assert_array_equal(out[f"d_{i}"], r[f"decoded{i}"])
    np.testing.assert_allclose(out["lp"], r["log_prob"], rtol=1e-5)
    np.testing.assert_array_equal(out["greedy"], r["greedy"])
    np.testing.assert_allclose(out["glp"], r["greedy_log_prob"], rtol=1e-5)


@pytest.mark.slow
def test_ctc_batch_cost_gradient_check_grads():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 4))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    prog = kgraph.compile("placeholder p: float64[2, 5, 4]\n"
                          "output sum(ctc_batch_cost([[0, 1], [2, 2]], p, [[5], [4]], [[2], [2]])) as y",
                          floatx="float64")
    f = prog.as_jax_function()
    with jax.enable_x64(True):
        check_grads(jax.jit(lambda p: f({}, p=p)["y"]), (probs,), order=1, modes=["rev"])


# ---- TestRandomOps -------------------------------------------------------------------------

def test_random_normal():
    np.random.seed(123)
    x = K.random_normal((500, 500))
    val = K.eval(x)
    np.testing.assert_allclose(np.mean(val), 0.0, atol=0.01)
    np.testing.assert_allclose(np.std(val), 1.0, atol=0.01)


def test_random_uniform():
    np.random.seed(123)
    x = K.random_uniform((500, 500))
    val = K.eval(x)
    np.testing.assert_allclose(np.mean(val), 0.5, atol=0.01)
    np.testing.assert_allclose(np.max(val), 1.0, atol=0.01)
    np.testing.assert_allclose(np.min(val), 0.0, atol=0.01)


def test_random_binomial():
    np.random.seed(123)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = K.random_binomial((500, 500), p=0.5)
    assert any("random_binomial is deprecated" in str(w.message) for w in caught)
    np.testing.assert_allclose(np.mean(K.eval(x)), 0.5, atol=0.01)
    np.testing.assert_allclose(np.mean(K.eval(K.random_bernoulli((500, 500), p=0.2, seed=1))), 0.2, atol=0.01)


def test_truncated_normal():
    np.random.seed(123)
    x = K.truncated_normal((1000, 1000), mean=0.0, stddev=1.0)
    y = K.eval(x)
    np.testing.assert_allclose(np.mean(y), 0.0, atol=0.01)
    np.testing.assert_allclose(np.std(y), 0.88, atol=0.01)
    np.testing.assert_allclose(np.max(y), 2.0, atol=0.01)
    np.testing.assert_allclose(np.min(y), -2.0, atol=0.01)


RUNTIME = """\
placeholder x: float32[None, 3]
output random_uniform(shape(x)) as u, random_normal((shape(x)[0], 2), seed=4) as n
output truncated_normal(shape(x), stddev=0.5, seed=1) as t, random_bernoulli(shape(x), p=0.5) as b
"""


@pytest.mark.slow
def test_random_ops_with_run_time_shapes():
    prog = kgraph.compile(RUNTIME)
    assert prog.graph.outputs[0][1].shape == (None, 3) and prog.graph.outputs[1][1].shape == (None, 2)
    first = prog.run(x=np.zeros((5, 3), np.float32))
    assert first["u"].shape == (5, 3) and first["n"].shape == (5, 2) and first["b"].shape == (5, 3)
    assert np.all(np.abs(first["t"]) <= 1.0) and set(np.unique(first["b"])) <= {0.0, 1.0}
    second = prog.run(x=np.zeros((5, 3), np.float32))
    assert not np.array_equal(first["u"], second["u"])  # unseeded: fresh each run
    np.testing.assert_array_equal(first["n"], second["n"])  # seeded: a function of its seed
    assert prog.run(x=np.zeros((2, 3), np.float32))["u"].shape == (2, 3)
    again = kgraph.compile(RUNTIME)
    np.testing.assert_array_equal(again.run(x=np.zeros((5, 3), np.float32))["u"], first["u"])
    with pytest.raises(KGraphError, match="shape must be a tuple of ints, shape"):
        kgraph.compile("placeholder x: float32[None, 3]\noutput random_uniform(shape(x) * 2)")
    k = K.placeholder(shape=(None, 4))
    f = K.function([k], [K.random_normal(K.shape(k)), K.random_uniform((K.shape(k)[0], 1))])
    a, b = f([np.zeros((3, 4))])
    assert a.shape == (3, 4) and b.shape == (3, 1)


# ---- BackendCrossEntropyLossesTest: ignore_class --------------------------------------------

def test_sparse_categorical_crossentropy_loss_with_ignore_class():
    tests = (([255, 1, 2, 2], 255), ([-1, 1, 2, 2], -1))
    p = K.softmax(K.constant([[1.8, 1.2, 0.5], [0.2, 3.8, 0.8], [1.1, 0.4, 3.4], [1.3, 0.7, 3.8]]))
    for t, ignore_class in tests:
        t = K.constant(t)
        result = K.sparse_categorical_crossentropy(t, p, ignore_class=ignore_class)
        np.testing.assert_allclose(K.eval(result), [0.0, 0.07428224, 0.13980183, 0.11967831], atol=1e-3)


def test_sparse_cce_loss_with_ignore_class_for_segmentation():
    """Values only: kgraph tensors carry no `_keras_mask` (the ignored entries are 0)."""
    t = K.constant([[[0, 2], [-1, -1]], [[0, 2], [-1, -1]], [[0, 0], [0, 0]]])
    p = K.constant([[[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], [[0.2, 0.5, 0.3], [0.0, 1.0, 0.0]]],
                    [[[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]], [[0.2, 0.5, 0.3], [0.0, 1.0, 0.0]]],
                    [[[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [[0.1, 0.9, 0.0], [0.2, 0.8, 0.0]]]])
    expected_result = [[[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.693148], [0.0, 0.0]],
                       [[0.0, 0.0], [2.302585, 1.609438]]]
    result = K.sparse_categorical_crossentropy(t, p, ignore_class=-1)
    np.testing.assert_allclose(K.eval(result), expected_result, atol=1e-5)


# ---- ControlOpsTests, BackendUtilsTest ----------------------------------------------------------

def test_function_switch_basics():
    x = K.constant(2.0)
    y = K.constant(3.0)

    def xpowy():
        return K.pow(x, y)

    def ypowx():
        return K.pow(y, x)

    assert K.eval(K.switch(K.less(x, y), xpowy, ypowx)) == 8.0
    assert K.eval(K.switch(K.greater(x, y), xpowy, ypowx)) == 9.0


def test_unequal_rank():
    x = K.constant(np.array([[1, 2, 3], [4, 5, 6]]), dtype="float32")
    y = K.constant(np.array([1, 2, 3]), dtype="float32")
    with pytest.raises(KGraphError, match="condition's rank must not exceed"):
        K.switch(K.equal(x, x), lambda: y, lambda: x)


def test_stop_gradient():
    x = K.variable(1.0)
    y = K.stop_gradient(x)
    assert y.node.op == "stop_gradient"
    xs = [K.variable(1.0) for _ in range(3)]
    ys = K.stop_gradient(xs)
    assert [y.node.op for y in ys] == ["stop_gradient"] * 3
    assert K.eval(K.gradients(K.sum(ys[0] * xs[1]), [xs[0]])[0]) == 0.0


def test_placeholder():
    x = K.placeholder(shape=(3, 4))
    assert x.shape == (3, 4)
    with pytest.raises(KGraphError, match="sparse"):
        K.placeholder(shape=(3, 4), sparse=True)  # kgraph has no sparse tensors: refused
    assert K.placeholder(ndim=2).shape == (None, None)


# ---- FunctionTest -------------------------------------------------------------------------------

def test_function_basics():
    x1 = K.placeholder(shape=(), dtype="float32")
    x2 = K.placeholder(shape=(), dtype="int32")
    v = K.variable(10.0)
    y1 = x1 + K.cast(x2, "float32") + v
    y2 = x1 * K.cast(x2, "float32")
    u = K.update(v, x1)
    f = K.function([x1, x2], [y1, y2], updates=[u])
    output_values = f([2, 3])
    assert [float(o) for o in output_values] == [15.0, 6.0]
    assert K.eval(v) == 2.0


def test_function_dict_outputs():
    x_ph = K.placeholder(shape=(), name="x")
    y_ph = K.placeholder(shape=(), name="y")
    outputs = {"x*y": y_ph * x_ph, "x*x": x_ph * x_ph}
    f = K.function(inputs=[x_ph, y_ph], outputs=outputs)
    results = f([2.0, 5.0])
    assert results["x*y"] == 10.0
    assert results["x*x"] == 4


def test_function_dict_inputs():
    placeholders = {"x": K.placeholder(shape=()), "y": K.placeholder(shape=())}
    outputs = [placeholders["x"] * placeholders["y"]]
    f = K.function(inputs=placeholders, outputs=outputs)
    results = f({"x": 2.0, "y": 3.0})
    assert results[0] == 6.0


def test_function_variable_inputs():
    placeholders = {"x": K.placeholder(shape=()), "y": K.placeholder(shape=())}
    outputs = [placeholders["x"] * placeholders["y"]]
    f = K.function(inputs=placeholders, outputs=outputs)
    results = f({"x": K.variable(2.0), "y": 3.0})
    assert results[0] == 6.0


def test_function_single_input_output():
    x_ph = K.placeholder(shape=(), name="x")
    output = x_ph * x_ph
    f = K.function(x_ph, output)
    result = f(2.0)
    assert result == 4.0


def test_tuple_updates():
    x_ph = K.placeholder(ndim=2)
    v = K.variable(np.ones((4, 2)))
    output = x_ph**2 + v
    new_v = v + x_ph
    f = K.function(x_ph, output, updates=[(v, new_v)])
    input_val = np.random.random((4, 2))
    result = f(input_val)
    np.testing.assert_allclose(result, input_val**2 + 1, rtol=1e-6)
    np.testing.assert_allclose(K.get_value(v), np.ones((4, 2)) + input_val, rtol=1e-6)


def test_function_with_a_variable_among_its_inputs_feeds_it_for_the_run():
    v = K.variable(1.0)
    f = K.function([v], [v * 2])
    assert f([5.0])[0] == 10.0
    assert K.get_value(v) == 1.0  # fed, not assigned


def test_function_session_arguments_are_refused_with_what_to_use():
    x = K.placeholder(shape=())
    with pytest.raises(KGraphError, match="no session: put the extra tensors in `outputs`"):
        K.function([x], [x * 2], fetches=[x])
    with pytest.raises(KGraphError, match="feed_dict"):
        K.function([x], [x * 2], feed_dict={x: 1.0})
    with pytest.raises(KGraphError, match=r"K.update\(v, new_v\) results or \(v, new_v\) pairs"):
        K.function([x], [x * 2], updates=[x * 3])
