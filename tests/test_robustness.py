"""Inputs that once crashed, hung or exhausted kgraph (issue 11): each is now a located error.

Every case is the smallest input that showed the bug; the fuzzer (test_fuzz.py) finds
more of their kin. Compile-time cases never reach XLA, so they cost milliseconds.
"""
import numpy as np
import pytest

import kgraph
from kgraph.limits import LimitError, Limits


def error_of(source: str, cls=kgraph.KGraphError, **options) -> kgraph.KGraphError:
    with pytest.raises(cls) as info:
        kgraph.compile(source, filename="p.kg", **options)
    assert info.value.span is not None and info.value.span.filename == "p.kg"
    return info.value


# ---- limits: each error names the limit and its option -------------------------------

@pytest.mark.parametrize("source, limit", [
    ("output 10 ** 10 ** 10", "max_int_digits"),           # once folded exactly, for ever
    ("output 2 ** 20000", "max_int_digits"),               # once Python's int-to-str limit
    ("output " + "7" * 5000, "max_int_digits"),            # a 5,000-digit literal
    ("x = 10 ** 3000\noutput x * x", "max_int_digits"),    # each folded product is checked
    ("output ones((2**62,))", "max_elements"),             # once SIGABRT in XLA
    ("output eye(2**40)", "max_elements"),
    ("output one_hot([1, 2], 10**12)", "max_elements"),
    ("output random_normal((2**40,))", "max_elements"),
    ("output ones((100000, 100000))", "max_elements"),     # once out of memory
    ("output arange(0, 1e30)", "max_elements"),
    ("variable w = zeros((2**20, 2**20))\noutput w", "max_elements"),
])
def test_limit_errors_name_the_limit_and_option(source, limit):
    e = error_of(source, LimitError)
    assert isinstance(e, ValueError)
    assert limit in e.message and "--" + limit.replace("_", "-") in e.message


def test_a_limit_can_be_raised_and_lowered():
    with pytest.raises(kgraph.ArgumentError, match="of 1,506 digits does not fit"):
        kgraph.compile("output 2 ** 5000", limits=Limits(max_int_digits=2000))
    with pytest.raises(LimitError, match="max_elements = 10 "):
        kgraph.compile("output ones((11,))", limits=Limits(max_elements=10))
    out = kgraph.compile("output ones((11,))", limits=Limits(max_elements=11)).run()
    np.testing.assert_array_equal(out["out0"], np.ones(11, np.float32))


def test_limits_in_force_come_from_using():
    from kgraph import limits

    with limits.using(Limits(max_elements=4)):
        with pytest.raises(LimitError):
            kgraph.compile("output zeros((5,))")
    assert kgraph.compile("output zeros((5,))").run()["out0"].shape == (5,)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_a_limit_must_be_a_positive_integer(bad):
    with pytest.raises(LimitError, match="max_depth must be a positive integer"):
        Limits(max_depth=bad)


# ---- static arguments past int64, ranges past float32 ---------------------------------

@pytest.mark.parametrize("source, needle", [
    ("output random_normal((2,), seed=2**64)", "argument seed"),
    ("output ones((2**64,))", "argument shape"),
    ("placeholder x: float32[None, 3]\noutput x[2**64]", "argument index"),
])
def test_integers_past_int64_are_argument_errors(source, needle):
    e = error_of(source, kgraph.ArgumentError)
    assert needle in e.message and "does not fit in int64" in e.message


def test_huge_integer_is_shown_by_its_size():
    e = error_of("output 10**400", kgraph.ArgumentError)
    assert e.message == "the integer of 401 digits does not fit in int32"


def test_arange_past_float32_counting():
    e = error_of("output arange(0, 1e308)", kgraph.ArgumentError)
    assert "more elements than float32 can count" in e.message
