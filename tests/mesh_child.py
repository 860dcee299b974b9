"""The 8-device half of tests/test_mesh.py, run in a child process that JAX sees 8 CPUs in.

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/mesh_child.py OUT PARENT

JAX reads XLA_FLAGS once, at start-up, so the checks that need 8 devices share this one
process (each JAX start costs seconds). It writes into OUT: `outputs.npz` (every
example's outputs on data=4,model=2 with shard statements, and the top-level ones' on
data=8), the state files of the training runs, and `cli.json` (exit status, stdout and
stderr of the commands whose errors and displays the tests read). PARENT holds what the one-device
parent made first (a state file after 4 steps, to resume here). The helpers at the top
are shared with the parent, which computes the one-device outputs with them.
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DIGITS = EXAMPLES / "digits"
ROWS = 16  # every None or named dim: divides by 8 and by 4
TRAIN_FLAGS = ["--feed", f"x={DIGITS / 'digits.npz'}:x_train", "--feed", f"y={DIGITS / 'digits.npz'}:y_train",
               "--batch-size", "32", "--quiet"]


# Unseeded random ops (the run counter) and the learning phase: the step's scalar arguments.
RANDOM = """\
placeholder x: float32[None, 4]
r = random_normal((8, 4))
output x + r as a, dropout(x, 0.5) as b, in_train_phase(x * 2.0, x) as c
"""
RANDOM_X = np.arange(32, dtype=np.float32).reshape(8, 4)


def random_outputs(mesh=None) -> dict[str, np.ndarray]:
    """Two runs (a training one, then not): what the run counter and the phase give."""
    import kgraph

    program = kgraph.compile(RANDOM, mesh=mesh)
    runs = [program.run(x=RANDOM_X, training=phase) for phase in (True, False)]
    return {f"{name}{i}": value for i, run in enumerate(runs) for name, value in run.items()}


def example_files() -> list[Path]:
    """Every .kg program under examples/ (its own example of what users write)."""
    return sorted(EXAMPLES.glob("*.kg")) + sorted(EXAMPLES.glob("*/*.kg"))


def example_feeds(program) -> dict[str, np.ndarray]:
    """The same arbitrary feeds in both processes: ROWS for every unknown dim."""
    rng = np.random.default_rng(0)
    feeds = {}
    for name, (dtype, shape) in program.placeholders.items():
        dims = tuple(d if isinstance(d, int) else ROWS for d in shape)
        if np.dtype(dtype).kind in "iub":
            feeds[name] = rng.integers(0, 2, dims).astype(dtype)
        else:
            feeds[name] = rng.standard_normal(dims).astype(dtype)
    return feeds


def model_shards(program) -> str:
    """Shard statements for tensor parallelism on data=4,model=2: each variable's last dim
    on `model` where 2 divides it, each placeholder's first dim on `data` where it is a
    batch dim (what the default does too, written out)."""
    lines = []
    for name, (_, shape) in program.placeholders.items():
        if shape and not isinstance(shape[0], int):
            lines.append(f"shard {name}: [data{', None' * (len(shape) - 1)}]")
    for name, value in program.variables.items():
        if value.ndim and value.shape[-1] % 2 == 0:
            lines.append(f"shard {name}: [{'None, ' * (value.ndim - 1)}model]")
    return "\n".join(lines)


def example_outputs(path: Path, mesh=None, shards: bool = False) -> dict[str, np.ndarray]:
    import kgraph

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kgraph.KGraphWarning)
        program = kgraph.load(path)
        if shards:
            program = kgraph.compile(program.source + "\n" + model_shards(program) + "\n",
                                     filename=str(path), mesh=mesh)
        elif mesh is not None:
            program = program.with_mesh(mesh)
    return program.run(**example_feeds(program))


def cli(*args) -> dict:
    from kgraph.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse's own usage errors
            code = e.code
    return {"code": code, "out": out.getvalue(), "err": err.getvalue()}


def example_meshes(path: Path) -> list[str]:
    """The meshes an example is checked on. Every example runs on data=4,model=2 with its
    shard statements (the batch split over `data` and the variables over `model`). data=8
    with no shard statements is the default batch split alone, the same code path for
    every program: the top-level examples check it, and the digits MLP trains on it in
    `run_training` (each compile on 8 devices costs the child about 0.5 s of CPU)."""
    return ["data=4,model=2"] + (["data=8"] if path.parent == EXAMPLES else [])


def run_examples(out: Path) -> None:
    from kgraph.mesh import make_mesh

    meshes = {"data=8": (make_mesh((("data", 8),)), False),
              "data=4,model=2": (make_mesh((("data", 4), ("model", 2))), True)}
    arrays, failures = {}, {}
    for path in example_files():
        key = str(path.relative_to(EXAMPLES))
        for mesh_name in example_meshes(path):
            mesh, shards = meshes[mesh_name]
            try:
                outputs = example_outputs(path, mesh, shards)
            except Exception as e:  # recorded, and the parent's test fails naming it
                failures[f"{key} on {mesh_name}"] = f"{type(e).__name__}: {e}"
                continue
            arrays.update({f"{key}|{mesh_name}|{name}": value for name, value in outputs.items()})
    arrays.update({f"random|data=8|{k}": v for k, v in random_outputs(meshes["data=8"][0]).items()})
    np.savez(out / "outputs.npz", **arrays)
    (out / "failures.json").write_text(json.dumps(failures))


def run_training(out: Path, parent: Path) -> dict:
    train = DIGITS / "train.kg"
    # Without --quiet: its progress lines are the ones test_the_progress_lines_show_the_mesh reads.
    results = {"train8": cli("run", train, *TRAIN_FLAGS[:-1], "--steps", 4, "--log-every", 1,
                             "--state", out / "s8_4.npz", "--mesh", "data=8")}
    shutil.copy(parent / "s1_4.npz", out / "s1to8_6.npz")  # resumed here, on 8 devices
    results["resume8"] = cli("run", train, *TRAIN_FLAGS, "--steps", 2, "--state", out / "s1to8_6.npz",
                             "--mesh", "data=4,model=2")
    results["epoch8"] = cli("run", train, *TRAIN_FLAGS, "--epochs", 1, "--drop-remainder", "--shuffle",
                            "--state", out / "epoch8.npz", "--mesh", "data=8")
    results["ragged"] = cli("run", train, *TRAIN_FLAGS, "--epochs", 1, "--mesh", "data=8")
    return results


def run_errors(out: Path) -> dict:
    bad_shard = out / "bad_shard.kg"
    bad_shard.write_text("placeholder x: float32[None, 4]\nvariable W = ones((4, 6))\n"
                         "shard W: [None, model]\noutput dot(x, W)\n")
    fixed = out / "fixed.kg"
    fixed.write_text("placeholder x: float32[6, 4]\nshard x: [data, None]\noutput sum(x)\n")
    twelve = out / "twelve.npy"
    np.save(twelve, np.ones((12, 4), np.float32))
    logreg = EXAMPLES / "logreg.kg"
    return {
        "axis_missing": cli("run", bad_shard, "--feed", f"x={twelve}", "--mesh", "data=8"),
        "fixed_dim": cli("check", fixed, "--mesh", "data=4,model=2"),
        "batch_of_12": cli("run", logreg, "--feed", f"x={twelve}", "--feed", "y=" + str(out / "y12.npy"),
                           "--mesh", "data=8"),
        "too_many": cli("run", logreg, "--mesh", "data=16"),
        "not_a_divisor": cli("check", logreg, "--mesh", "data=3,model=-1"),
        "all_devices": cli("check", logreg, "--mesh", "data=-1"),
        "check_layout": cli("check", DIGITS / "train.kg", "--mesh", "data=4,model=2"),
        "stablehlo": cli("lower", logreg, "--emit", "stablehlo", "--mesh", "data=8",
                         "--feed-shape", "x=[8,4]", "--feed-shape", "y=[8,3]"),
    }


def layouts_between_steps() -> dict:
    """Tensor-parallel digits on data=4,model=2: the variables' layouts after two steps, and
    whether the first step's input buffers were donated (deleted) to its outputs."""
    import kgraph
    from kgraph.mesh import make_mesh

    shards = "shard W1: [None, model]\nshard b1: [model]\nshard W2: [model, None]\n"
    source = (DIGITS / "train.kg").read_text().replace("def predict", shards + "def predict")
    program = kgraph.compile(source, mesh=make_mesh((("data", 4), ("model", 2))))
    with np.load(DIGITS / "digits.npz") as data:
        x, y = data["x_train"][:32], data["y_train"][:32]
    first = dict(program._values)
    for _ in range(2):
        program.run(x=x, y=y)
    return {"specs": {k: str(tuple(v.sharding.spec)) for k, v in program._values.items()},
            "donated": {k: v.is_deleted() for k, v in first.items()}}


def main(out: Path, parent: Path) -> None:
    import jax
    import kgraph
    from kgraph.mesh import make_mesh

    assert jax.device_count() == 8, jax.devices()
    np.save(out / "y12.npy", np.eye(3, dtype=np.float32)[np.arange(12) % 3])
    run_examples(out)
    results = run_training(out, parent) | run_errors(out)
    program = kgraph.load(DIGITS / "train.kg", mesh=make_mesh((("data", 8),)))
    results["ir"] = {"code": 0, "out": program.ir(), "err": ""}
    results["kept"] = {"code": 0, "out": json.dumps(layouts_between_steps()), "err": ""}
    (out / "cli.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
