"""`kgraph run` as a training loop: --state, --steps, --epochs, --batch-size, progress, Ctrl-C."""
import contextlib
import io
import json
import signal
import time

import numpy as np
import pytest

from forkserver import start_kgraph
from kgraph.cli import main

# Counts steps, and which rows each epoch has fed (`seen`), and sums the fed rows.
COUNTING = """\
placeholder x: float32[None, 2]
placeholder i: int32[batch]
variable steps: int64 = 0
variable seen = zeros((10,))
variable total = zeros((2,))
variable rows: int32 = 0
update_add(steps, 1)
update_add(seen, sum(one_hot(i, 10), axis=0))
update_add(total, sum(x, axis=0))
update rows = shape(i)[0]
output steps, rows
"""


def kgraph(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse
            code = e.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def counting(tmp_path):
    src = tmp_path / "count.kg"
    src.write_text(COUNTING)
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    np.savez(tmp_path / "data.npz", x=x, i=np.arange(10, dtype=np.int32))
    feeds = ["--feed", f"x={tmp_path / 'data.npz'}:x", "--feed", f"i={tmp_path / 'data.npz'}:i"]
    return src, feeds, x


def state_of(path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_steps_with_a_state_file_resume_where_the_last_run_stopped(counting, tmp_path):
    src, feeds, x = counting
    ckpt = tmp_path / "ckpt.npz"
    code, out, err = kgraph("run", src, *feeds, "--steps", "3", "--state", ckpt, "--format", "json")
    assert code == 0, err
    assert "does not exist yet" in err
    assert json.loads(out)["steps"]["data"] == 2  # outputs read the values at the run's start
    assert state_of(ckpt)["steps"] == 3
    code, out, err = kgraph("run", src, *feeds, "--steps", "2", "--state", ckpt, "--quiet")
    assert (code, out, err) == (0, "", "")
    state = state_of(ckpt)
    assert state["steps"] == 5 and state["seen"].tolist() == [5] * 10
    np.testing.assert_array_equal(state["total"], 5 * x.sum(axis=0))


def test_without_training_flags_state_is_loaded_and_saved_around_one_run(counting, tmp_path):
    src, feeds, _ = counting
    ckpt = tmp_path / "ckpt.npz"
    for expected in (1, 2):
        code, out, err = kgraph("run", src, *feeds, "--state", ckpt)
        assert code == 0 and "step" not in err.replace("steps", "")  # no progress lines
        assert state_of(ckpt)["steps"] == expected


@pytest.mark.parametrize("shuffle", [[], ["--shuffle"]])
def test_epochs_walk_every_row_once_in_batches(counting, tmp_path, shuffle):
    src, feeds, x = counting
    ckpt = tmp_path / "ckpt.npz"
    code, out, err = kgraph("run", src, *feeds, "--epochs", "2", "--batch-size", "4", *shuffle,
                            "--state", ckpt, "--format", "json")
    assert code == 0, err
    state = state_of(ckpt)
    assert state["steps"] == 6  # ceil(10 / 4) = 3 batches an epoch: 4, 4 and the last 2 rows
    assert state["seen"].tolist() == [2] * 10
    np.testing.assert_array_equal(state["total"], 2 * x.sum(axis=0))
    assert state["rows"] == 2  # the last batch of an epoch is the short one
    assert json.loads(out)["rows"]["data"] == 4


def test_steps_cycle_through_epochs_and_shuffle_follows_the_seed(counting, tmp_path):
    src, feeds, _ = counting
    totals = []
    for seed in (1, 1, 2):
        ckpt = tmp_path / f"s{len(totals)}.npz"
        code, _, err = kgraph("run", src, *feeds, "--steps", "5", "--batch-size", "3", "--shuffle",
                              "--seed", seed, "--state", ckpt, "--quiet")
        assert code == 0, err
        state = state_of(ckpt)
        assert sorted(state["seen"].tolist()) == [1] * 7 + [2] * 3  # one epoch and one batch
        totals.append(state["seen"].tolist())
    assert totals[0] == totals[1] and totals[0] != totals[2]


def test_log_lines_and_quiet(counting):
    src, feeds, _ = counting
    code, out, err = kgraph("run", src, *feeds, "--steps", "6", "--batch-size", "5", "--log-every", "2")
    assert code == 0
    lines = err.splitlines()
    assert [line.split()[1] for line in lines] == ["2/6", "4/6", "6/6"]
    assert "steps=5" in lines[-1] and "rows=5" in lines[-1] and "steps/s" in lines[-1]
    assert out.startswith("steps: int64[] = 5")  # the final outputs, printed as usual
    # Not a terminal and no --log-every: about ten lines.
    code, out, err = kgraph("run", src, *feeds, "--steps", "40")
    assert code == 0 and len(err.splitlines()) == 10 and err.splitlines()[-1].startswith("step 40/40")
    assert kgraph("run", src, *feeds, "--steps", "3", "--quiet", "--format", "json") == (0, "", "")


def test_command_line_mistakes(counting, tmp_path):
    src, feeds, _ = counting
    assert kgraph("run", src, *feeds, "--steps", "2", "--epochs", "2")[0] == 2
    assert kgraph("run", src, *feeds, "--steps", "0")[0] == 2
    code, _, err = kgraph("run", src, *feeds, "--shuffle")
    assert code == 2 and "--shuffle needs --batch-size" in err
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((3, 2), np.float32), i=np.arange(4, dtype=np.int32))
    code, _, err = kgraph("run", src, "--feed", f"x={bad}:x", "--feed", f"i={bad}:i", "--batch-size", "2")
    assert code == 1 and "the batched feeds must have the same number of rows (x has 3, i has 4)" in err
    fixed = tmp_path / "fixed.kg"
    fixed.write_text("placeholder x: float32[3]\nvariable s = zeros((3,))\nupdate s = s + x\n")
    code, _, err = kgraph("run", fixed, "--feed", "x=[1, 2, 3]", "--batch-size", "2")
    assert code == 1 and "no fed placeholder has a batch dimension" in err


def test_a_mismatched_state_file_is_refused_and_left_alone(counting, tmp_path):
    src, feeds, _ = counting
    ckpt = tmp_path / "ckpt.npz"
    np.savez(ckpt, steps=np.int64(3), seen=np.zeros(10, np.float32), total=np.zeros(3, np.float32),
             rows=np.int32(0))
    before = ckpt.read_bytes()
    code, out, err = kgraph("run", src, *feeds, "--steps", "2", "--state", ckpt)
    assert code == 1 and out == ""
    assert "error: state file" in err and "variable 'total' is float32[2] in the program but " \
        "float32[3] in the file" in err
    assert ckpt.read_bytes() == before


def test_a_program_without_updates_reads_the_state_and_never_writes_it(tmp_path):
    src = tmp_path / "eval.kg"
    src.write_text("variable w = [1.0, 2.0]\noutput sum(w) as s\n")
    ckpt = tmp_path / "ckpt.npz"
    code, out, err = kgraph("run", src, "--state", ckpt)
    assert code == 0 and "does not exist: using the variables' initial values" in err
    assert not ckpt.exists()
    np.savez(ckpt, w=np.array([5.0, 6.0], np.float32))
    mtime = ckpt.stat().st_mtime_ns
    code, out, err = kgraph("run", src, "--state", ckpt)
    assert code == 0 and out.strip() == "s: float32[] = 11.0" and ckpt.stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_ctrl_c_finishes_the_step_saves_and_exits_130(counting, tmp_path):
    src, feeds, _ = counting
    ckpt = tmp_path / "ckpt.npz"
    proc = start_kgraph("run", src, *feeds, "--steps", "100000000", "--batch-size", "4",
                        "--state", ckpt, "--log-every", "50")  # a process of its own, to interrupt
    try:
        assert "does not exist yet" in proc.stderr.readline()
        assert "step 50/" in proc.stderr.readline()  # the loop is running
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted after step ") and last.endswith(f"state saved to {ckpt}")
    steps = int(last.split()[3].rstrip(";"))
    state = state_of(ckpt)
    assert state["steps"] == steps  # the saved state is the state after the last step
    assert state["seen"].sum() == (steps // 3) * 10 + [0, 4, 8][steps % 3]


def test_steps_per_second_is_reported_without_the_compile(counting):
    from kgraph import load
    from kgraph.train import Batches, Plan, train

    src, _, x = counting
    prog = load(src)
    arrays = prog.check_feeds({"x": x, "i": np.arange(10, dtype=np.int32)})
    started = time.perf_counter()
    result = train(prog, Batches(prog, arrays, 5), Plan(steps=50, log_every=0))
    assert result.steps == 50 and not result.interrupted
    assert 0 < result.seconds < time.perf_counter() - started
    assert result.steps_per_second == pytest.approx(49 / result.seconds)
    assert int(result.outputs["steps"]) == 49 and prog.variables["steps"] == 50


def test_a_state_file_in_a_missing_directory_is_refused_before_training(counting, tmp_path):
    src, feeds, _ = counting
    code, _, err = kgraph("run", src, *feeds, "--steps", "2", "--state", tmp_path / "nope" / "c.npz")
    assert code == 1 and "there is no directory" in err and "step" not in err.replace("steps", "")


def test_the_progress_bar_shows_steps_rate_and_scalar_outputs():
    from kgraph.progress import make_reporter

    out = io.StringIO()
    names, outs = ["loss", "W"], [np.float32(0.25), np.zeros((2, 2), np.float32)]
    with make_reporter(None, 3, out) as bar:
        started = time.perf_counter()
        for step in (1, 2, 3):
            bar.step(step, started, names, outs)
        bar.done(3, started, names, outs)
    text = out.getvalue()
    assert "3/3" in text and "steps/s" in text and "loss=0.25" in text and "W=" not in text


def test_training_flags_on_an_exported_program_are_refused(tmp_path):
    source = tmp_path / "small.kg"
    source.write_text("variable n = 0.0\nupdate n = n + 1.0\noutput n\n")
    assert kgraph("export", source, "-o", tmp_path / "small.kgx", "--platform", "cpu")[0] == 0
    code, _, err = kgraph("run", tmp_path / "small.kgx", "--steps", "3")
    assert code == 1 and "need a .kg program" in err


def test_time_combines_with_state_and_not_with_training(counting, tmp_path):
    src, feeds, _ = counting
    ckpt = tmp_path / "ckpt.npz"
    assert kgraph("run", src, *feeds, "--steps", "2", "--state", ckpt, "--quiet")[0] == 0
    code, out, err = kgraph("run", src, *feeds, "--state", ckpt, "--time")
    assert code == 0 and "execute" in err and out.startswith("steps: int64[] = 2")
    assert state_of(ckpt)["steps"] == 3  # a timed single run saves its update too
    code, _, err = kgraph("run", src, *feeds, "--steps", "2", "--time")
    assert code == 2 and "--time times a single run" in err
