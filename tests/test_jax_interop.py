"""Program.as_jax_function: a pure function under jit, grad, vmap and lax.scan, and trained by optax."""
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import kgraph

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def prog():
    return kgraph.load(ROOT / "examples" / "logreg.kg")  # outputs loss (a mean), dW, db, W_next, b_next, accuracy, loss_bits


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    labels = np.argmax(x[:, :3] + 0.5 * x[:, 3:], axis=1)  # separable by a linear model
    return x, np.eye(3, dtype=np.float32)[labels]


def reference_loss(variables, x, y):
    """NumPy: Keras's categorical crossentropy of a softmax, from the logits."""
    z = x @ variables["W"] + variables["b"]
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -(y * log_p).sum(axis=1).mean()


def test_matches_run_and_numpy(prog, data):
    x, y = data
    f = jax.jit(prog.as_jax_function())
    out = f(prog.variables, x=x, y=y)
    assert list(out) == prog.outputs
    for name, value in prog.run(x=x, y=y).items():
        np.testing.assert_allclose(out[name], value, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out["loss"], reference_loss(prog.variables, x, y), rtol=1e-5)


def test_eager_without_jit():
    prog = kgraph.compile("placeholder x: float32[2]\nvariable s = [3.0]\noutput x * s as y")
    out = prog.as_jax_function()({"s": np.array([2.0], np.float32)}, x=[1.0, 2.0])
    np.testing.assert_array_equal(out["y"], [2.0, 4.0])
    assert out["y"].dtype == jnp.float32


def test_grad_matches_the_programs_own_gradients(prog, data):
    x, y = data
    f = prog.as_jax_function()
    grads = jax.jit(jax.grad(lambda v: f(v, x=x, y=y)["loss"]))(prog.variables)
    out = prog.run(x=x, y=y)
    np.testing.assert_allclose(grads["W"], out["dW"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads["b"], out["db"], rtol=1e-5, atol=1e-6)


def test_grad_against_finite_differences():
    prog = kgraph.compile("""
placeholder x: float64[None, 3]
variable W: float64 = [[0.5, -1.0], [2.0, 0.25], [-0.5, 1.5]]
output sum(softmax(dot(x, W)) * [[1.0, 3.0]]) as loss
""")
    x = np.array([[0.1, -0.2, 0.3], [1.0, 0.5, -1.5]])
    f = prog.as_jax_function()
    with jax.enable_x64(True):
        loss = jax.jit(lambda W: f({"W": W}, x=x)["loss"])
        check_grads(loss, (jnp.asarray(prog.variables["W"]),), order=1, modes=("rev",))


def test_vmap_over_an_ensemble_of_variables(prog, data):
    x, y = data
    f = prog.as_jax_function()
    rng = np.random.default_rng(1)
    ensemble = {"W": rng.normal(size=(5, 4, 3)).astype(np.float32),
                "b": rng.normal(size=(5, 3)).astype(np.float32)}
    losses = jax.jit(jax.vmap(lambda v: f(v, x=x, y=y)["loss"]))(ensemble)
    assert losses.shape == (5,)
    for i in range(5):
        member = {k: v[i] for k, v in ensemble.items()}
        np.testing.assert_allclose(losses[i], reference_loss(member, x, y), rtol=1e-5)


def test_vmap_over_feeds(prog, data):
    x, y = data
    f = prog.as_jax_function()
    batches = np.stack([x, x[::-1], 2 * x])
    losses = jax.jit(jax.vmap(lambda xb: f(prog.variables, x=xb, y=y)["loss"]))(batches)
    for i, xb in enumerate(batches):
        np.testing.assert_allclose(losses[i], reference_loss(prog.variables, xb, y), rtol=1e-5)


def sgd_step(f, x, y, lr=1.0):
    def step(variables, _):
        loss, grads = jax.value_and_grad(lambda v: f(v, x=x, y=y)["loss"])(variables)
        return jax.tree.map(lambda v, g: v - lr * g, variables, grads), loss
    return step


def test_lax_scan_trains(prog, data):
    x, y = data
    f = prog.as_jax_function()
    step = sgd_step(f, x, y)
    variables = {k: jnp.asarray(v) for k, v in prog.variables.items()}
    final, losses = jax.lax.scan(step, variables, None, length=20)
    # The same steps, one at a time in Python, with the program's own gradient outputs.
    v = prog.variables
    f = jax.jit(f)
    for _ in range(20):
        out = f(v, x=x, y=y)
        v = {"W": v["W"] - out["dW"], "b": v["b"] - out["db"]}
    np.testing.assert_allclose(final["W"], v["W"], rtol=1e-4, atol=1e-5)
    assert losses[-1] < 0.5 * losses[0]


def test_optax_minimizes_a_kgraph_loss(prog, data):
    import optax  # the `test` extra: a done-when criterion, so never skipped
    x, y = data
    f = prog.as_jax_function()
    optimizer = optax.adam(0.1)
    params = {k: jnp.asarray(v) for k, v in prog.variables.items()}
    state = optimizer.init(params)

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(lambda p: f(p, x=x, y=y)["loss"])(params)
        updates, state = optimizer.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    first = None
    for _ in range(100):
        params, state, loss = step(params, state)
        first = loss if first is None else first
    final = f(params, x=x, y=y)["loss"]
    assert float(first) == pytest.approx(float(reference_loss(prog.variables, x, y)), rel=1e-5)
    assert float(final) < 0.05 * float(first)


F64 = """
placeholder x: float64[None, 2]
variable W: float64 = [[1.0, 2.0], [3.0, 4.0]]
output sum(dot(x, W) * 1e-9 + 1.0) as total
"""


def test_float64_is_exact_when_the_caller_enables_x64():
    f = kgraph.compile(F64).as_jax_function()
    x = np.array([[1.0, 1.0]])
    with jax.enable_x64(True):
        out = jax.jit(f)({"W": np.array([[1.0, 2.0], [3.0, 4.0]])}, x=x)["total"]
    assert out.dtype == jnp.float64
    assert float(out) == 2.0 + 1e-9 * 10  # float32 would round 1 + 4e-9 to 1


def test_float64_narrows_with_a_warning_when_x64_is_off():
    f = kgraph.compile(F64).as_jax_function()
    with jax.enable_x64(False), pytest.warns(UserWarning, match="x64"):
        out = jax.jit(f)({"W": np.array([[1.0, 2.0], [3.0, 4.0]])}, x=np.array([[1.0, 1.0]]))["total"]
    assert out.dtype == jnp.float32
    assert float(out) == pytest.approx(2.0)


def test_float32_programs_do_not_warn_without_x64(prog, data):
    x, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jax.jit(prog.as_jax_function())(prog.variables, x=x, y=y)


def test_feed_errors_name_the_placeholder(prog, data):
    x, y = data
    f = prog.as_jax_function()
    with pytest.raises(kgraph.FeedError, match="placeholder 'y'"):
        f(prog.variables, x=x)
    with pytest.raises(kgraph.FeedError, match="shape mismatch: x is declared float32\\[None, 4\\]"):
        f(prog.variables, x=x[:, :3], y=y)
    with pytest.raises(kgraph.FeedError, match="matches no placeholder"):
        f(prog.variables, x=x, y=y, z=x)
    with pytest.raises(kgraph.KGraphError, match="variables has no 'b'"):
        f({"W": prog.variables["W"]}, x=x, y=y)


def test_rng_key_feeds_unseeded_random_ops():
    prog = kgraph.compile("placeholder x: float32[3]\noutput x + random_normal((3,)) as noisy")
    f = jax.jit(prog.as_jax_function(rng=True))
    zeros = np.zeros(3, np.float32)
    first = f({}, jax.random.PRNGKey(1), x=zeros)["noisy"]
    np.testing.assert_array_equal(first, f({}, jax.random.PRNGKey(1), x=zeros)["noisy"])
    assert not np.allclose(first, f({}, jax.random.PRNGKey(2), x=zeros)["noisy"])
    fixed = prog.as_jax_function()  # without rng=True: the program's seed, the same every call
    np.testing.assert_array_equal(fixed({}, x=zeros)["noisy"], fixed({}, x=zeros)["noisy"])
    with pytest.raises(kgraph.KGraphError, match="rng=True"):
        fixed({}, jax.random.PRNGKey(1), x=zeros)
