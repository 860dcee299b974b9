"""CLI start-up of several kgraph source trees against the tiny jax script, interleaved.

`python -m benchmarks.startup_trees REPEATS TREE...`: each TREE is a directory holding a
`kgraph` package (a `git archive` of a commit, with grammar/ copied to kgraph/grammar), run
as `python -m kgraph run` with the tree on PYTHONPATH. The environment is passed as it is, so
PYTHONDONTWRITEBYTECODE decides whether a tree's bytecode is written (compile a tree with
`python -m compileall -q TREE/kgraph` to give it bytecode). This is how RESULTS.md's "CLI
start-up" compared main with and without bytecode; benchmarks/startup.py is the goal's figure.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

from .startup import TINY_JAX, TINY_KG, timed_process


def main(repeats: int, trees: list[str]) -> None:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"),
               JAX_ENABLE_COMPILATION_CACHE="false")
    with tempfile.TemporaryDirectory() as tmp:
        kg, script = Path(tmp) / "tiny.kg", Path(tmp) / "tiny.py"
        kg.write_text(TINY_KG)
        script.write_text(TINY_JAX)
        kgraph_run = [sys.executable, "-m", "kgraph", "run", str(kg), "--feed", "x=[0, 1, 2, 3]"]
        cmds = {tree: (kgraph_run, dict(env, PYTHONPATH=tree)) for tree in trees}
        cmds["jax script"] = ([sys.executable, str(script)], env)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
        for _ in range(repeats):
            for name, (cmd, cmd_env) in cmds.items():
                samples[name].append(timed_process(cmd, cmd_env, cwd=tmp))
    jax_wall, jax_cpu = zip(*samples["jax script"])
    print(f"{repeats} fresh processes each, load average {os.getloadavg()[0]:.1f}:")
    for name, pairs in samples.items():
        wall, cpu = zip(*pairs)
        print(f"  {name:<32} wall {min(wall):.2f} / {statistics.median(wall):.2f} s   CPU "
              f"{min(cpu):.2f} / {statistics.median(cpu):.2f} s   CPU / jax: min "
              f"{min(cpu) / min(jax_cpu):.3f}x median {statistics.median(cpu) / statistics.median(jax_cpu):.3f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:])
