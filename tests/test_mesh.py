"""Many devices, one program (LANGUAGE.md §11, issue 14).

The 8-device checks run in one child process with 8 forced CPU devices
(tests/mesh_child.py); this process has one device and computes the references.
Two more children, 4 devices each, train across processes (jax.distributed, gloo).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kgraph
from kgraph.cli import main
from kgraph.mesh import make_mesh, parse_mesh

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mesh_child  # noqa: E402
from forkserver import run_script  # noqa: E402
from test_docs_blocks import blocks  # noqa: E402

TRAIN = mesh_child.DIGITS / "train.kg"
PROGRAM = """\
placeholder x: float32[None, 4]
variable W = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]
output dot(x, W) as y
"""


def kgraph_main(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


def child_env(devices: int) -> dict:
    return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")


# ---- on one device: the statement is checked, and has no effect ----------------------------

def shard_error(statement: str) -> kgraph.KGraphError:
    with pytest.raises(kgraph.KGraphError) as caught:
        kgraph.compile(PROGRAM.replace("output", statement + "\noutput"))
    return caught.value


def test_shard_statements_without_a_mesh_change_nothing():
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    plain = kgraph.compile(PROGRAM).run(x=x)
    sharded = kgraph.compile(PROGRAM.replace("output", "shard x: [data, None]\nshard W: [None, model]\noutput"))
    np.testing.assert_array_equal(sharded.run(x=x)["y"], plain["y"])
    assert sharded.mesh is None and "@[" not in sharded.ir()


@pytest.mark.parametrize("statement, where, message", [
    ("shard x: [data]", (3, 1), "1 entry for placeholder 'x' of rank 2"),
    ("shard W: [model, model]", (3, 1), "mesh axis 'model' is named twice"),
    ("shard q: [data]", (3, 7), "'q' is not defined"),
    ("z = 2.0\nshard z: []", (4, 7), "'z' is not a placeholder or a variable"),
    ("shard x: [data, None]\nshard x: [None, None]", (4, 1), "already has a shard statement at line 3"),
])
def test_shard_statement_mistakes_are_located(statement, where, message):
    error = shard_error(statement)
    assert (error.line, error.column) == where and message in error.message


def test_shard_is_a_keyword():
    with pytest.raises(kgraph.ParseError):
        kgraph.compile("shard = 1.0\noutput shard")


def test_a_mesh_axis_the_mesh_lacks_is_an_error_at_the_statement():
    program = kgraph.compile(PROGRAM.replace("output", "shard W: [None, model]\noutput"))
    with pytest.raises(kgraph.KGraphError) as caught:
        program.with_mesh(make_mesh((("data", 1),)))
    assert caught.value.line == 3 and "no axis 'model' (mesh data=1)" in caught.value.message


def test_a_one_device_mesh_gives_the_same_results_and_state():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    source = PROGRAM.replace("output", "update W = W * 0.5\noutput")
    plain, meshed = kgraph.compile(source), kgraph.compile(source, mesh=make_mesh((("data", 1),)))
    for _ in range(2):
        np.testing.assert_array_equal(meshed.run(x=x)["y"], plain.run(x=x)["y"])
    np.testing.assert_array_equal(meshed.variables["W"], plain.variables["W"])
    assert "=x@[data,None]" in meshed.ir() and "=W@[None,None]" in meshed.ir()


@pytest.mark.parametrize("text", ["data", "data=0", "data=-2", "data=2,data=2", "data=-1,model=-1", "1x=2"])
def test_mesh_specs_that_cannot_be_read(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_mesh(text)


def test_command_line_usage_errors_exit_2(tmp_path):
    code, _, err = kgraph_main("check", mesh_child.EXAMPLES / "logreg.kg", "--mesh", "data=2")
    assert code == 2 and "--mesh data=2 needs 2 devices, but there is 1 cpu device" in err
    code, _, err = kgraph_main("check", mesh_child.EXAMPLES / "logreg.kg", "--process-id", "0")
    assert code == 2 and "--process-id needs --distributed" in err
    code, _, err = kgraph_main("run", mesh_child.EXAMPLES / "logreg.kg", "--distributed")
    assert code == 2 and "--distributed needs --mesh" in err


COUNTING = """\
placeholder i: int32[batch]
variable seen = zeros((10,))
variable rows: int32 = 0
update_add(seen, sum(one_hot(i, 10), axis=0))
update rows = shape(i)[0]
output rows
"""


def test_drop_remainder_skips_the_short_batch_of_each_epoch(tmp_path):
    (tmp_path / "count.kg").write_text(COUNTING)
    np.save(tmp_path / "i.npy", np.arange(10, dtype=np.int32))
    args = ("run", tmp_path / "count.kg", "--feed", f"i={tmp_path / 'i.npy'}", "--batch-size", 4, "--quiet")
    assert kgraph_main(*args, "--epochs", 2, "--drop-remainder", "--state", tmp_path / "s.npz")[0] == 0
    with np.load(tmp_path / "s.npz") as state:
        assert state["seen"].tolist() == [2] * 8 + [0, 0] and state["rows"] == 4  # 2 batches an epoch
    code, _, err = kgraph_main("run", tmp_path / "count.kg", "--feed", f"i={tmp_path / 'i.npy'}", "--drop-remainder")
    assert code == 2 and "--drop-remainder needs --batch-size" in err
    code, _, err = kgraph_main(*args, "--batch-size", 12, "--drop-remainder")
    assert code == 1 and "the batched feeds have 10 rows, fewer than one batch of 12" in err


def test_the_repl_shows_layouts_and_refuses_an_axis_the_mesh_lacks(monkeypatch):
    session = "placeholder x: float32[None, 4]\nvariable W = ones((4, 2))\nshard W: [None, model]\n" \
              "shard x: [data, None]\n:names\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(session))
    code, out, err = kgraph_main("repl", "--mesh", "data=1")
    assert code == 1 and "<stdin>:3:1: error: shard W: the mesh has no axis 'model' (mesh data=1)" in err
    assert out.splitlines() == [
        "x: [data, None] on mesh data=1, per device float32[None, 4]: 16 B x None",
        "x: float32[None, 4]  placeholder  @[data,None]", "W: float32[4, 2]  variable  @[None,None]"]


# ---- on 8 devices, in one child process --------------------------------------------------

@pytest.fixture(scope="module")
def parent_states(tmp_path_factory) -> Path:
    """One device: the state after 4 steps, and after 4 + 2 (the references)."""
    where = tmp_path_factory.mktemp("one-device")
    assert kgraph_main("run", TRAIN, *mesh_child.TRAIN_FLAGS, "--steps", 4, "--state", where / "s1_4.npz")[0] == 0
    shutil.copy(where / "s1_4.npz", where / "s1_6.npz")
    assert kgraph_main("run", TRAIN, *mesh_child.TRAIN_FLAGS, "--steps", 2, "--state", where / "s1_6.npz")[0] == 0
    return where


CHILD = "import sys\nfrom pathlib import Path\nfrom mesh_child import main\nmain(Path(sys.argv[1]), Path(sys.argv[2]))\n"


@pytest.fixture(scope="module")
def child(tmp_path_factory, parent_states) -> Path:
    out = tmp_path_factory.mktemp("eight-devices")
    # A process of its own (tests/forkserver.py), whose JAX backend starts with 8 devices.
    code, _, err = run_script(CHILD, out, parent_states, env=child_env(8), timeout=600)
    assert code == 0, err[-3000:]
    return out


@pytest.fixture(scope="module")
def results(child) -> dict:
    return json.loads((child / "cli.json").read_text())


def assert_states_equal(a: Path, b: Path) -> None:
    with np.load(a) as left, np.load(b) as right:
        assert sorted(left.files) == sorted(right.files)
        for name in left.files:
            np.testing.assert_allclose(left[name], right[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.slow
def test_every_example_gives_the_one_device_outputs_on_a_mesh(child):
    assert json.loads((child / "failures.json").read_text()) == {}
    with np.load(child / "outputs.npz") as meshed:
        seen = {key.split("|")[0] for key in meshed.files} - {"random"}
        assert seen == {str(p.relative_to(mesh_child.EXAMPLES)) for p in mesh_child.example_files()}
        for path in mesh_child.example_files():
            reference = mesh_child.example_outputs(path)
            for mesh_name in mesh_child.example_meshes(path):
                for name, value in reference.items():
                    got = meshed[f"{path.relative_to(mesh_child.EXAMPLES)}|{mesh_name}|{name}"]
                    assert got.dtype == value.dtype and got.shape == value.shape
                    np.testing.assert_allclose(got, value, rtol=2e-5, atol=1e-6,
                                               err_msg=f"{path.name} {name} on {mesh_name}")


@pytest.mark.slow
def test_random_draws_and_the_learning_phase_are_the_one_device_ones(child):
    with np.load(child / "outputs.npz") as meshed:
        for name, value in mesh_child.random_outputs().items():
            np.testing.assert_array_equal(meshed[f"random|data=8|{name}"], value, err_msg=name)


@pytest.mark.slow
def test_training_on_8_devices_equals_1_device(child, results, parent_states):
    assert results["train8"]["code"] == 0, results["train8"]["err"]
    assert_states_equal(child / "s8_4.npz", parent_states / "s1_4.npz")


@pytest.mark.slow
def test_variables_keep_their_layouts_between_steps_and_are_donated(results):
    kept = json.loads(results["kept"]["out"])
    assert kept["specs"] == {"W1": "(None, 'model')", "b1": "('model',)", "W2": "('model', None)", "b2": "(None,)"}
    assert kept["donated"] == {"W1": True, "b1": True, "W2": True, "b2": True}


@pytest.mark.slow
def test_a_shuffled_epoch_without_its_short_batch_on_8_devices_equals_1_device(child, results, tmp_path):
    assert results["epoch8"]["code"] == 0, results["epoch8"]["err"]
    code, _, err = kgraph_main("run", TRAIN, *mesh_child.TRAIN_FLAGS, "--epochs", 1, "--drop-remainder",
                               "--shuffle", "--state", tmp_path / "epoch1.npz")
    assert code == 0, err
    assert_states_equal(child / "epoch8.npz", tmp_path / "epoch1.npz")


@pytest.mark.slow
def test_a_short_last_batch_that_the_mesh_cannot_split_is_found_before_training(results):
    ragged = results["ragged"]
    assert ragged["code"] == 1 and "train.kg:7:1: error: placeholder 'x': the last batch of each epoch has 30 " \
        "rows (1438 = 44 x 32 + 30), which mesh axis 'data' (size 8) does not divide (mesh data=8); add " \
        "--drop-remainder" in ragged["err"]
    assert "step" not in ragged["err"]


@pytest.mark.slow
def test_a_checkpoint_moves_between_device_counts(child, results, parent_states, tmp_path):
    assert results["resume8"]["code"] == 0, results["resume8"]["err"]
    assert_states_equal(child / "s1to8_6.npz", parent_states / "s1_6.npz")  # written on 1, resumed on 8
    shutil.copy(child / "s8_4.npz", tmp_path / "s8to1_6.npz")  # written on 8, resumed on 1
    assert kgraph_main("run", TRAIN, *mesh_child.TRAIN_FLAGS, "--steps", 2, "--state", tmp_path / "s8to1_6.npz")[0] == 0
    assert_states_equal(tmp_path / "s8to1_6.npz", parent_states / "s1_6.npz")


@pytest.mark.slow
def test_the_progress_lines_show_the_mesh(results):
    lines = results["train8"]["err"].splitlines()
    assert [line.split("  ")[:2] for line in lines if line.startswith("step")] == [
        [f"step {i}/4", "on mesh data=8"] for i in range(1, 5)]


@pytest.mark.slow
def test_errors_on_a_mesh_are_located(results):
    axis = results["axis_missing"]
    assert axis["code"] == 1 and "bad_shard.kg:3:1: error: shard W: the mesh has no axis 'model' " \
                                 "(mesh data=8)" in axis["err"]
    fixed = results["fixed_dim"]
    assert fixed["code"] == 1 and "fixed.kg:2:1: error: shard x: dim 0 of placeholder 'x' " \
                                  "(float32[6, 4]) is 6, which mesh axis 'data' (size 4) does not divide" in fixed["err"]
    twelve = results["batch_of_12"]
    assert twelve["code"] == 1 and "logreg.kg:8:1: error: placeholder 'x': dim 0 is 12 at run time, which " \
                                   "mesh axis 'data' (size 8) does not divide (mesh data=8)" in twelve["err"]


@pytest.mark.slow
def test_meshes_that_do_not_fit_the_devices_exit_2(results):
    assert results["too_many"]["code"] == 2
    assert "--mesh data=16 needs 16 devices, but there are 8 cpu devices" in results["too_many"]["err"]
    assert results["not_a_divisor"]["code"] == 2
    assert "the other axes take 3 devices, which does not divide the 8 cpu devices" in results["not_a_divisor"]["err"]
    assert results["all_devices"]["code"] == 0 and "layout on mesh data=8 (8 devices)" in results["all_devices"]["out"]


@pytest.mark.slow
def test_check_shows_each_leafs_layout_and_bytes_per_device(results):
    out = results["check_layout"]["out"].splitlines()
    layout = out[out.index("layout on mesh data=4,model=2 (8 devices):") + 1:]
    assert [line.split() for line in layout] == [
        ["x", "float32[batch,", "64]", "[data,", "None]", "per", "device", "float32[batch/4,", "64]:", "256", "B",
         "x", "batch/4"],
        ["y", "int32[batch]", "[data]", "per", "device", "int32[batch/4]:", "4", "B", "x", "batch/4"],
        ["W1", "float32[64,", "128]", "[None,", "None]", "per", "device", "float32[64,", "128]:", "32,768", "B"],
        ["b1", "float32[128]", "[None]", "per", "device", "float32[128]:", "512", "B"],
        ["W2", "float32[128,", "10]", "[None,", "None]", "per", "device", "float32[128,", "10]:", "5,120", "B"],
        ["b2", "float32[10]", "[None]", "per", "device", "float32[10]:", "40", "B"]]


@pytest.mark.slow
def test_stablehlo_and_the_ir_show_the_shardings(results):
    text = results["stablehlo"]["out"]
    assert 'sdy.mesh @mesh = <["data"=8]>' in text
    assert 'tensor<8x4xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"data"}, {}]>}' in text
    ir = results["ir"]["out"]
    assert "a:f32[batch,64]=x@[data,None] b:i32[batch]=y@[data]" in ir and "W1@[None,None]" in ir


# ---- two processes, 4 devices each ---------------------------------------------------------

def two_process_script() -> str:
    """docs/distributed.md's two-process script: its page's runner leaves it to the test below."""
    found = [block for block in blocks(mesh_child.ROOT / "docs" / "distributed.md")
             if block.marker and "test_two_processes_train_as_one" in block.marker[1]]
    assert len(found) == 1, [block.where for block in found]
    return found[0].code


@pytest.mark.slow
def test_two_processes_train_as_one(tmp_path, parent_states):
    """The script as the page shows it: two processes of 4 devices each, 4 steps on data=8,
    give the state of 4 steps on one device."""
    (tmp_path / "examples").symlink_to(mesh_child.EXAMPLES, target_is_directory=True)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(["bash", "-c", "set -eo pipefail\n" + two_process_script()], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    # Each process's output goes to /dev/null, its errors here: a failing one prints them.
    assert "error" not in done.stderr.lower() and "Traceback" not in done.stderr, done.stderr[-2000:]
    state = tmp_path / "two.npz"
    with np.load(parent_states / "s1_4.npz") as reference:
        assert done.stdout.splitlines()[-1] == str(sorted(reference.files))
    assert_states_equal(state, parent_states / "s1_4.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["examples", "two.npz"]  # one writer, no temporary left
