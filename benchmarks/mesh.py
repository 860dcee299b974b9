"""Training steps per second on 1 and on 8 (forced host) devices: the digits MLP.

    python -m benchmarks.mesh [--quick]

Each device count runs in its own process (JAX reads
XLA_FLAGS=--xla_force_host_platform_device_count=N at start-up): the training loop
that `kgraph run examples/digits/train.kg --batch-size 64 --drop-remainder --steps S`
runs, with no mesh, on `--mesh data=1` and on `--mesh data=8`. On a CPU, 8 "devices"
are 8 slices of the same cores, so data=8 does not run faster here: it measures what
the mesh path costs (splitting each batch, the all-reduce XLA inserts for the
gradients, and the loop waiting every 8 steps, which a CPU mesh does: see
kgraph.sharding.steps_in_flight), not the speed-up 8 real accelerators give.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits"
STEPS, BATCH = 1000, 64


def measure(mesh: str | None, steps: int, repeats: int) -> list[float]:
    """Seconds for `steps` training steps, `repeats` times, after a warm-up epoch."""
    import kgraph
    from kgraph.mesh import make_mesh, parse_mesh
    from kgraph.train import Batches, Plan, train

    program = kgraph.load(DIGITS / "train.kg", mesh=make_mesh(parse_mesh(mesh)) if mesh else None)
    with np.load(DIGITS / "digits.npz", allow_pickle=False) as data:
        feeds = program.check_feeds({"x": data["x_train"], "y": data["y_train"]})
    batches = Batches(program, feeds, BATCH, drop_remainder=True)
    train(program, batches, Plan(steps=batches.per_epoch, log_every=0))  # compiled, warm
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        train(program, batches, Plan(steps=steps, log_every=0))
        times.append(time.perf_counter() - start)
    return times


def child(devices: int, meshes: list[str | None], steps: int, repeats: int) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "benchmarks.mesh", "--child", json.dumps(meshes),
                           "--steps", str(steps), "--repeats", str(repeats)],
                          env=env, capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(proc.stdout.splitlines()[-1])


def run(args) -> list[str]:
    steps = 300 if args.quick else STEPS
    repeats = 3 if args.quick else 5
    times = child(1, [None, "data=1"], steps, repeats) | child(8, ["data=8"], steps, repeats)
    rows = [f"training steps/s on a mesh: examples/digits/train.kg, --steps {steps} --batch-size {BATCH} "
            f"(best and median of {repeats}; 8 forced host devices share this machine's "
            f"{os.cpu_count()} cores, so they do not run faster)"]
    rate = {name: (steps / min(t), steps / statistics.median(t)) for name, t in times.items()}
    for name, (best, median) in rate.items():
        rows.append(f"  {name:<24} best {best:>9,.0f} steps/s  median {median:>9,.0f} steps/s")
    print("\n".join(rows))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mesh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="300 steps, 3 repeats")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the meshes to time, in this process
    parser.add_argument("--steps", type=int, default=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is None:
        run(args)
        return
    import jax

    names = {None: "1 device, no mesh"}
    out = {}
    for mesh in json.loads(args.child):
        name = names.get(mesh, f"--mesh {mesh} ({jax.device_count()} device{'s' * (jax.device_count() > 1)})")
        out[name] = measure(mesh, args.steps, args.repeats)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
