"""Program.run's fast path, run(..., to_numpy=False) and Program.jitted (docs/python.md).

The fast path must give exactly what the full feed check gives, and anything it does not
take (another dtype, shape, class, or missing feed) must still reach the full check.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kgraph
from kgraph.errors import FeedError, KGraphError

SOURCE = "placeholder x: float32[4]\nplaceholder y: float32[2, 4]\noutput x * 2.0 + y as z\noutput sum(y) as s"


@pytest.fixture(scope="module")
def prog():
    return kgraph.compile(SOURCE)


X = np.arange(4, dtype=np.float32)
Y = np.arange(8, dtype=np.float32).reshape(2, 4)


def test_fast_path_is_taken_and_equals_numpy(prog):
    assert prog._fast is not None  # a stateless 32-bit program with fixed shapes
    out = prog.run(x=X, y=Y)
    assert list(out) == ["z", "s"]
    np.testing.assert_array_equal(out["z"], X * 2 + Y)
    assert out["s"] == pytest.approx(Y.sum())
    assert all(type(v) is np.ndarray for v in out.values())


def test_other_feeds_take_the_full_check(prog):
    # A list and a float64 array are converted by the full check; the values are the same.
    out = prog.run(x=X.tolist(), y=Y.astype(np.float64))
    np.testing.assert_array_equal(out["z"], X * 2 + Y)
    with pytest.raises(FeedError, match="y"):
        prog.run(x=X, y=np.zeros((3, 4), np.float32))
    with pytest.raises(FeedError, match="matches no placeholder"):
        prog.run(x=X, q=Y)  # as many feeds as placeholders, one of them misnamed
    with pytest.raises(FeedError, match="needs a feed"):
        prog.run(x=X)
    with pytest.raises(FeedError, match="matches no placeholder"):
        prog.run(x=X, y=Y, q=Y)


def test_device_arrays_in_and_out(prog):
    out = prog.run(x=jnp.asarray(X), y=jax.device_put(Y), to_numpy=False)
    assert all(isinstance(v, jax.Array) for v in out.values())
    np.testing.assert_array_equal(np.asarray(out["z"]), X * 2 + Y)


def test_outputs_are_a_pytree_of_their_arrays(prog):
    # jax.block_until_ready waits for each array (an opaque leaf would return at once, unwaited).
    out = prog.run(x=jnp.asarray(X), y=jax.device_put(Y), to_numpy=False)
    assert jax.tree.leaves(out) == [out["z"], out["s"]]
    waited = jax.block_until_ready(out)
    assert type(waited) is type(out) and list(waited) == ["z", "s"] and waited["z"] is out["z"]
    doubled = jax.tree.map(lambda a: a * 2, out)
    np.testing.assert_array_equal(np.asarray(doubled["s"]), 2 * Y.sum())


def test_jitted_handle(prog):
    assert prog.feed_names == ["x", "y"]
    z, s = prog.jitted(jnp.asarray(X), jnp.asarray(Y))
    np.testing.assert_array_equal(np.asarray(z), X * 2 + Y)
    assert float(s) == pytest.approx(Y.sum())


def test_stateful_program_has_no_jitted_but_runs_on_device():
    prog = kgraph.compile("variable w = zeros(2)\nplaceholder x: float32[2]\nupdate w = w + x\noutput w * 1.0 as v")
    assert prog._fast is None
    with pytest.raises(KGraphError, match="to_numpy=False"):
        prog.jitted
    first = prog.run(x=np.ones(2, np.float32), to_numpy=False)
    assert isinstance(first["v"], jax.Array)
    np.testing.assert_array_equal(np.asarray(first["v"]), [0, 0])
    np.testing.assert_array_equal(prog.run(x=np.ones(2, np.float32))["v"], [1, 1])


def test_named_and_unknown_dims_skip_the_fast_path():
    prog = kgraph.compile("placeholder x: float32[None, 2]\noutput x + 1.0 as y")
    assert prog._fast is None
    np.testing.assert_array_equal(prog.run(x=np.zeros((3, 2), np.float32))["y"], np.ones((3, 2)))


def test_exported_program_returns_device_arrays_too(prog, tmp_path):
    loaded = kgraph.load(prog.export(tmp_path / "tiny.kgx"))
    on_device = loaded.run(x=X, y=Y, to_numpy=False)
    assert all(isinstance(v, jax.Array) for v in on_device.values())
    np.testing.assert_array_equal(np.asarray(on_device["z"]), loaded.run(x=X, y=Y)["z"])
    np.testing.assert_array_equal(loaded.run(x=X, y=Y)["z"], X * 2 + Y)


@pytest.fixture(scope="module")
def one_feed():
    prog = kgraph.compile("placeholder x: float32[2, 3]\noutput x * 2.0 as y\noutput sum(x) as s")
    prog.run(x=np.zeros((2, 3), np.float32))  # the first run makes the jitted step and the fast path
    return prog


def _full_check_refused(prog, monkeypatch):
    def refuse(feeds):
        raise AssertionError("the full feed check ran")
    monkeypatch.setattr(prog, "_checked", refuse)


@pytest.mark.parametrize("fixture", ["prog", "one_feed"])
def test_exact_feeds_skip_the_full_check(fixture, request, monkeypatch):
    prog = request.getfixturevalue(fixture)
    feeds = {"x": X, "y": Y} if fixture == "prog" else {"x": Y[:, :3].copy()}
    expected = prog.run(**feeds)
    _full_check_refused(prog, monkeypatch)
    for given in (feeds, {k: jax.device_put(v) for k, v in feeds.items()}):
        out = prog.run(**given)
        assert list(out) == list(expected) and all(type(v) is np.ndarray for v in out.values())
        for name in out:
            np.testing.assert_array_equal(out[name], expected[name])


def test_anything_but_the_exact_signature_takes_the_full_check(one_feed):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    want = x * 2
    for given in (x.astype(">f4"), x.astype(np.float16), jnp.asarray(x, jnp.float16), x.tolist(),
                  np.asfortranarray(x)):
        np.testing.assert_array_equal(one_feed.run(x=given)["y"], want)
    for bad in (x[:1], jnp.asarray(x[:, :2]), x.reshape(3, 2), x.reshape(1, 2, 3)):
        with pytest.raises(FeedError, match="shape mismatch"):
            one_feed.run(x=bad)
    with pytest.raises(FeedError, match="matches no placeholder"):
        one_feed.run(z=x)
    with pytest.raises(FeedError, match="matches no placeholder"):
        one_feed.run(x=x, z=x)


def test_learning_phase_is_still_checked_on_the_fast_path(one_feed):
    x = np.zeros((2, 3), np.float32)
    np.testing.assert_array_equal(one_feed.run(training=True, x=x)["s"], 0.0)
    with pytest.raises(KGraphError, match="learning phase"):
        one_feed.run(training="yes", x=x)
