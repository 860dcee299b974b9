"""Shared helpers: compile and run a program text, at both -O0 and -O2."""
from __future__ import annotations

import numpy as np
import pytest

import kgraph


def run(source: str, opt_level: int = 2, floatx: str = "float32", **feeds):
    """Compile `source` and run it once; returns the output dict."""
    return kgraph.compile(source, opt_level=opt_level, floatx=floatx).run(**feeds)


def run_both(source: str, floatx: str = "float32", **feeds):
    """Run at -O0 and -O2, check they agree, and return the -O2 outputs."""
    low = run(source, 0, floatx, **feeds)
    high = run(source, 2, floatx, **feeds)
    assert list(low) == list(high)
    for name in low:
        assert low[name].dtype == high[name].dtype, name
        np.testing.assert_allclose(low[name], high[name], rtol=1e-5, atol=1e-6, err_msg=name)
    return high


def tolerance(dtype) -> dict:
    return {"rtol": 1e-5, "atol": 1e-6} if np.dtype(dtype) == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/ from the current IR instead of comparing (test_golden_ir.py)")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True, scope="session")
def _private_compile_cache(tmp_path_factory):
    """Subprocesses of the tests keep their compilation cache out of the user's cache dir."""
    import os

    os.environ["KGRAPH_CACHE_DIR"] = str(tmp_path_factory.mktemp("kgraph-cache"))
    yield


@pytest.fixture(autouse=True, scope="session")
def _strict_rewrite_rules():
    """A rewrite rule that raises, or a rule cycle, fails the test that meets it (in use the
    pass skips the rule and `kgraph ir`'s pass table shows it)."""
    from kgraph.passes import rewrite

    rewrite.STRICT = True
    yield
    rewrite.STRICT = False
