"""Feed checking and conversion in the Python API (LANGUAGE.md §7)."""
import numpy as np
import pytest

import kgraph
from kgraph.feeds import read_feed_value


@pytest.fixture(scope="module")
def prog():
    return kgraph.compile("placeholder x: float32[None, 2]\nplaceholder i: int32[3]\n"
                          "placeholder u: uint8[2]\noutput x * 2 as y, i + 1 as j, u as u\n",
                          filename="feeds.kg")


def test_same_kind_conversions(prog):
    out = prog.run(x=np.ones((1, 2), np.float64), i=[1, 2, 3], u=[0, 255])
    assert out["y"].dtype == np.float32 and out["j"].dtype == np.int32 and out["u"].dtype == np.uint8
    out = prog.run(x=[[1, 2]], i=np.array([1, 2, 3], np.int64), u=np.array([1, 2], np.uint8))
    assert out["y"].tolist() == [[2.0, 4.0]]


@pytest.mark.parametrize("feeds, message", [
    (dict(x=[[1.0, 2.0]], i=[1.5, 2, 3], u=[1, 2]), "cannot convert float64[3] to the placeholder's dtype: "
                                                     "i is declared int32[3]"),
    (dict(x=[[1.0, 2.0]], i=[1, 2, 3], u=[1, 300]), "values out of range for uint8"),
    (dict(x=[1.0, 2.0], i=[1, 2, 3], u=[1, 2]), "shape mismatch: x is declared float32[None, 2], got float64[2] "
                                                "(rank 1 != 2)"),
    (dict(x=[[1.0, 2.0]], i=[1, 2], u=[1, 2]), "(axis 0: 2 != 3)"),
    (dict(x=[[1.0, 2.0]], i=[1, 2, 3]), "placeholder 'u' (uint8[2]) needs a feed"),
    (dict(x=[[1.0, 2.0]], i=[1, 2, 3], u=[1, 2], w=1), "feed 'w' matches no placeholder (placeholders: x, i, u)"),
    (dict(x=[["a", "b"]], i=[1, 2, 3], u=[1, 2]), "expected numbers for placeholder x"),
    (dict(x=[[1.0 + 1j, 2.0]], i=[1, 2, 3], u=[1, 2]), "cannot convert complex128[1, 2]"),
])
def test_feed_errors_name_placeholder_type_and_given(prog, feeds, message):
    with pytest.raises(kgraph.FeedError) as info:
        prog.run(**feeds)
    assert message in info.value.message
    if "matches no placeholder" not in message:
        assert info.value.filename == "feeds.kg" and info.value.line in (1, 2, 3)


def test_read_feed_value_literals_and_files(tmp_path):
    assert read_feed_value("3.5") == 3.5
    assert read_feed_value("[[1, 2], [3, 4]]") == [[1, 2], [3, 4]]
    np.save(tmp_path / "a.npy", np.arange(3))
    np.testing.assert_array_equal(read_feed_value(str(tmp_path / "a.npy")), np.arange(3))
    (tmp_path / "a.csv").write_text("1,2\n3,4\n")
    np.testing.assert_array_equal(read_feed_value(str(tmp_path / "a.csv")), [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="neither a file"):
        read_feed_value("__import__('os')")
    with pytest.raises(ValueError, match="no such file"):
        read_feed_value(str(tmp_path / "nope.npz"))


def test_arrays_of_the_right_dtype_and_shape_pass_through_unchanged(prog):
    x, i, u = np.ones((5, 2), np.float32), np.arange(3, dtype=np.int32), np.array([1, 2], np.uint8)
    arrays = prog.check_feeds({"x": x, "i": i, "u": u})
    assert arrays["x"] is x and arrays["i"] is i and arrays["u"] is u
    converted = prog.check_feeds({"x": x.astype(np.float64), "i": [0, 1, 2], "u": u})
    assert converted["x"].dtype == np.float32 and converted["i"].dtype == np.int32
    np.testing.assert_array_equal(prog.run(x=x, i=i, u=u)["j"], i + 1)


@pytest.mark.parametrize("feeds, message", [
    (dict(x=np.ones((1, 3), np.float32)), "(axis 1: 3 != 2)"),
    (dict(x=np.ones(2, np.float32)), "(rank 1 != 2)"),
    (dict(i=np.ones(4, np.int32)), "(axis 0: 4 != 3)"),
    (dict(u=None, w=np.ones(2, np.uint8)), "feed 'w' matches no placeholder"),
])
def test_arrays_of_the_right_dtype_still_get_every_check(prog, feeds, message):
    given = {"x": np.ones((1, 2), np.float32), "i": np.arange(3, dtype=np.int32), "u": np.ones(2, np.uint8)}
    given.update(feeds)
    given = {k: v for k, v in given.items() if v is not None}
    with pytest.raises(kgraph.FeedError) as info:
        prog.run(**given)
    assert message in info.value.message


def test_named_dims_agree_across_feeds_of_the_right_dtype():
    prog = kgraph.compile("placeholder a: float32[n, 2]\nplaceholder b: float32[n]\noutput a[:, 0] + b as c",
                          filename="named.kg")
    with pytest.raises(kgraph.FeedError, match="dimension 'n' is 4 here but 3 in feed 'a'"):
        prog.run(a=np.ones((3, 2), np.float32), b=np.ones(4, np.float32))
    assert prog.run(a=np.ones((3, 2), np.float32), b=np.ones(3, np.float32))["c"].tolist() == [2.0] * 3


def test_jax_arrays_feed_a_run_and_get_every_check(prog):
    import jax.numpy as jnp

    x, i, u = jnp.ones((5, 2), jnp.float32), jnp.arange(3, dtype=jnp.int32), jnp.array([1, 2], jnp.uint8)
    np.testing.assert_array_equal(prog.run(x=x, i=i, u=u)["j"], np.arange(3) + 1)
    with pytest.raises(kgraph.FeedError, match=r"\(axis 1: 3 != 2\)"):
        prog.run(x=jnp.ones((5, 3), jnp.float32), i=i, u=u)
    wide = prog.run(x=x.astype(jnp.float16), i=i, u=u)  # converted by the full check, as NumPy is
    np.testing.assert_array_equal(wide["j"], np.arange(3) + 1)
