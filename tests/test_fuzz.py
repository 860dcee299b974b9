"""The fuzz test (issue 11): mutated programs, feeds, state files and exports never crash kgraph.

CI runs a fixed, bounded set (150 cases, seed 0) in a worker process capped at 2 GB of
address space and killed after 20 s on one case (see tests/fuzzing.py). A longer soak:

    KGRAPH_FUZZ_CASES=5000 KGRAPH_FUZZ_SEED=7 python -m pytest -q tests/test_fuzz.py

Each bug the fuzzer finds gets a regression test with its smallest input in
tests/test_robustness.py.
"""
import os

from fuzzing import MEMORY_BYTES, fuzz

CASES = int(os.environ.get("KGRAPH_FUZZ_CASES", "150"))
SEED = int(os.environ.get("KGRAPH_FUZZ_SEED", "0"))


def test_no_mutated_input_crashes_hangs_or_exhausts_kgraph():
    counts, bugs = fuzz(CASES, SEED)
    report = "\n\n".join(f"{case.describe()}\n-> {detail}" for case, detail in bugs[:10])
    assert not bugs, f"{len(bugs)} of {CASES} cases (seed {SEED}) are bugs:\n\n{report}"
    assert counts["ok"] + counts["error"] == CASES
    assert counts["error"] > CASES // 10 and counts["ok"] > 0  # the mutations reach both paths
    assert 0 < counts["peak"] < MEMORY_BYTES
