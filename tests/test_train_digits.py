"""Issue 6's "done when": train the digits MLP, SIGKILL it, resume; the state file is never corrupt."""
import contextlib
import io
import json
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import kgraph
from forkserver import Child, start_kgraph
from kgraph.cli import main

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
DATA = DIGITS / "digits.npz"
TRAIN = ["--feed", f"x={DATA}:x_train", "--feed", f"y={DATA}:y_train"]
TEST = ["--feed", f"x={DATA}:x_test", "--feed", f"y={DATA}:y_test"]


def kgraph_main(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def wait_for_line(proc: Child, prefix: str) -> str:
    for line in proc.stderr:
        if line.startswith(prefix):
            return line
    raise AssertionError(f"the process ended (code {proc.wait()}) before printing {prefix!r}")


def kill(proc: Child) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_the_digits_mlp_survives_sigkill_and_resumes_to_95_percent(tmp_path):
    ckpt = tmp_path / "mlp.npz"
    proc = start_kgraph("run", DIGITS / "train.kg", *TRAIN, "--batch-size", "32", "--shuffle",
                        "--steps", "1000000", "--save-every", "10", "--log-every", "10", "--state", ckpt)
    try:
        wait_for_line(proc, "step 30/")
    finally:
        kill(proc)
    # Killed mid-run: the state is a complete, loadable checkpoint of a step past the first.
    trained = kgraph.load(DIGITS / "train.kg")
    trained.load_state(ckpt)
    assert not np.array_equal(trained.variables["b1"], np.zeros(128, np.float32))
    evaluate = kgraph.load(DIGITS / "evaluate.kg")
    evaluate.load_state(ckpt)
    assert float(evaluate.run(x=np.load(DATA)["x_test"], y=np.load(DATA)["y_test"])["accuracy"]) > 0.5

    # Resume from it with the README's command, then evaluate as the README does.
    code, _, err = kgraph_main("run", DIGITS / "train.kg", *TRAIN, "--batch-size", "32", "--shuffle",
                               "--epochs", "20", "--state", ckpt, "--quiet")
    assert code == 0, err
    code, out, err = kgraph_main("run", DIGITS / "evaluate.kg", *TEST, "--state", ckpt, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["accuracy"]["data"] >= 0.95


# Three variables that always move together: a state file mixing two steps breaks the pattern.
LOCKSTEP = """\
variable a: int64 = 0
variable b = zeros((1000,))
variable c: int64 = 0
update_add(a, 1)
update b = b + 2.0
update c = c + 3
output a
"""


def check_lockstep(path: Path) -> int:
    with np.load(path, allow_pickle=False) as z:
        state = {k: z[k] for k in z.files}
    assert sorted(state) == ["a", "b", "c"]
    a = int(state["a"])
    assert state["b"].shape == (1000,) and np.all(state["b"] == 2.0 * a) and int(state["c"]) == 3 * a
    return a


@pytest.mark.slow
def test_the_state_file_is_never_corrupt_when_killed_at_random_moments(tmp_path):
    src = tmp_path / "lockstep.kg"
    src.write_text(LOCKSTEP)
    ckpt = tmp_path / "ckpt.npz"
    rng = random.Random(6)
    last, reads = 0, 0
    for _ in range(3):
        # Saving after every step, so a kill at a random moment often lands inside a save.
        proc = start_kgraph("run", src, "--steps", "1000000000", "--save-every", "1", "--log-every", "50",
                            "--state", ckpt)
        try:
            wait_for_line(proc, "step 50/")
            deadline = time.monotonic() + rng.uniform(0.05, 0.6)
            while time.monotonic() < deadline:  # a reader during the saves sees whole states only
                a = check_lockstep(ckpt)
                assert a >= last
                last, reads = a, reads + 1
        finally:
            kill(proc)
        a = check_lockstep(ckpt)
        assert a >= last
        last = a
        # A kill inside a save may leave its hidden temporary file, never a damaged state file.
        leftovers = {p.name for p in tmp_path.iterdir()} - {"ckpt.npz", "lockstep.kg"}
        assert all(n.startswith(".ckpt.npz.") and n.endswith(".tmp") for n in leftovers), leftovers
    assert reads > 10 and last > 150  # three runs of at least 50 steps, each resumed from the last
    # Resuming works.
    code, out, _ = kgraph_main("run", src, "--state", ckpt, "--format", "json")
    assert code == 0 and check_lockstep(ckpt) == last + 1
