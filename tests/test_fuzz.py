"""The fuzz test (issue 11): mutated programs, feeds, state files and exports never crash kgraph.

CI runs a fixed, bounded set (150 cases, seed 0) in a worker process capped at 2 GB of
address space and 20 s of its own time a case (see tests/fuzzing.py). A longer soak:

    KGRAPH_FUZZ_CASES=5000 KGRAPH_FUZZ_SEED=7 python -m pytest -q tests/test_fuzz.py

Each bug the fuzzer finds gets a regression test with its smallest input in
tests/test_robustness.py.
"""
import os

import pytest

from fuzzing import CASE_SECONDS, GRACE_SECONDS, MEMORY_BYTES, Case, Worker, fuzz

CASES = int(os.environ.get("KGRAPH_FUZZ_CASES", "150"))
SEED = int(os.environ.get("KGRAPH_FUZZ_SEED", "0"))


def test_no_mutated_input_crashes_hangs_or_exhausts_kgraph():
    counts, bugs = fuzz(CASES, SEED)
    report = "\n\n".join(f"{case.describe()}\n-> {detail}" for case, detail in bugs[:10])
    assert not bugs, f"{len(bugs)} of {CASES} cases (seed {SEED}) are bugs:\n\n{report}"
    assert counts["ok"] + counts["error"] == CASES
    assert counts["error"] > CASES // 10 and counts["ok"] > 0  # the mutations reach both paths
    programs = counts.get("program ok", 0) + counts.get("program error", 0)
    assert counts.get("program ok", 0) >= programs // 3  # most valid mutations compile and run
    assert 0 < counts["peak"] < MEMORY_BYTES and counts["slowest"] < CASE_SECONDS


def test_the_bounds_are_the_issues():
    assert (MEMORY_BYTES, CASE_SECONDS) == (2 << 30, 20)
    assert Worker.__init__.__defaults__ == (MEMORY_BYTES, CASE_SECONDS, GRACE_SECONDS, True)  # fuzz()'s


@pytest.fixture(scope="module")
def quick_worker():
    """A worker with the real memory cap and a short case limit, so a hang is seen fast
    (without kgraph: a probe needs none, and a new worker starts in a blink)."""
    worker = Worker(case_seconds=0.5, grace_seconds=0.5, preload=False)
    yield worker
    worker.close()


@pytest.mark.parametrize("probe, needle", [
    ("allocate:3e9", "MemoryError"),        # 3 GB past the 2 GB cap: refused, not granted
    ("sleep:30", "hung: no answer after"),  # a block that uses no CPU: killed, not waited for
    ("spin:30", "hung: no answer after"),   # a runaway loop: killed
    ("abort", "worker died with signal SIGABRT"),
])
def test_a_case_past_a_bound_is_a_bug_not_a_hang(quick_worker, probe, needle):
    worker = quick_worker
    if worker.proc.poll() is not None:  # the last probe killed it: fuzz() starts a new one too
        worker.__init__(case_seconds=0.5, grace_seconds=0.5, preload=False)
    outcome, detail = worker.run(Case("probe", probe, "test"))
    assert outcome == "bug" and needle in detail  # "hung": killed at 1 s, the probe wanted 30
    if worker.proc.poll() is None:  # it answered: it is still good for the next case
        assert worker.run(Case("probe", "sleep:0", "test")) == ("ok", "")


def test_a_slow_case_that_finishes_is_reported_with_its_time():
    worker = Worker(case_seconds=0.2, preload=False)
    try:
        outcome, detail = worker.run(Case("probe", "spin:0.5", "test"))
        assert outcome == "bug" and "(the limit is 0.2 s)" in detail
        assert worker.slowest >= 0.5
    finally:
        worker.close()
