"""Golden IR: the printed IR compared as text, as JAX tests its jaxpr printer.

- Each optimisation pass, alone, on a small program made for it: the IR before, the rules that
  fired, and the IR after (tests/golden/passes/NAME.txt).
- Every example program at -O0, -O1 and -O2 (tests/golden/examples/NAME.txt).

A change to the printer, the builder or a pass shows here as a diff of the text. When the
change is meant, regenerate the files and commit them with the change, saying why they moved:

    KGRAPH_UPDATE_GOLDEN=1 python -m pytest -q tests/test_golden_ir.py
    python -m pytest -q tests/test_golden_ir.py --update-golden      # the same
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from kgraph.frontend import frontend
from kgraph.ir import format_ir
from kgraph.passes import PASS_NAMES, SCAN_MIN_BLOCKS, run_pipeline

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = sorted((ROOT / "examples").rglob("*.kg"))

# One small program per pass, written so that the pass has work to do.
PASS_PROGRAMS = {
    "dce": """\
placeholder x: float32[None, 3]
variable W = random_normal_variable((3, 2), mean=0.0, scale=0.1, seed=0)
unused = exp(x)
h = dot(x, W)
output h
""",
    "cse": """\
placeholder x: float32[None, 3]
placeholder y: float32[None, 3]
a = x * 2.0 + y
b = y + x * 2.0
output a - b, exp(x) + exp(x)
""",
    "fold": """\
placeholder x: float32[3]
c = [1.0, 2.0, 3.0] * 2.0 + 1.0
output x * c / log(2.0), x + sum(ones((2, 2)))
""",
    "simplify": """\
placeholder x: float32[None, 3]
placeholder i: int32[4]
output x * 1.0 + 0.0, -(-x), x + -x, i - i, transpose(transpose(x)), (i + 1) + 2
""",
    "stabilize": """\
placeholder z: float32[None, 3]
placeholder t: float32[None, 3]
output log(sigmoid(z)), log(1.0 + z), exp(z) - 1.0, log(softmax(z)), categorical_crossentropy(t, softmax(z))
""",
    "hoist": """\
placeholder x: float32[5, 3]
variable W = [[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
def f(acc, r):
    WW = dot(W, W)
    return acc + dot(r, WW) + r
output foldl(f, x, initializer=zeros((3,))) as y
""",
    "matmul-chain": """\
placeholder a: float32[100, 2]
placeholder b: float32[2, 100]
placeholder c: float32[100, 3]
output dot(dot(a, b), c)
""",
    "fuse": """\
placeholder x: float32[None, 3]
placeholder y: float32[None, 3]
h = relu(x * 2.0 + y)
output exp(h) - tanh(y), sum(h)
""",
    "scan-blocks": f"""\
placeholder x: float32[None, 3]
variable W = random_normal_variable(({SCAN_MIN_BLOCKS}, 3, 3), mean=0.0, scale=0.5, seed=0)
variable b = zeros((3,))
def layer(h, i):
    return tanh(dot(h, W[i]) + b)
h = x
""" + "".join(f"h = layer(h, {i})\n" for i in range(SCAN_MIN_BLOCKS)) + "output h\n",
}


def fired(report) -> str:
    rules = ", ".join(f"{k} ×{v}" for k, v in sorted(report.fired.items())) or "-"
    return f"{report.name}: {report.nodes_before} → {report.nodes_after} nodes, fired {rules}"


def pass_text(name: str, source: str) -> tuple[str, bool]:
    """The golden text of one pass on `source`, and whether the pass changed the IR."""
    graph = frontend(source, f"{name}.kg").graph
    others = [p for p in PASS_NAMES if p != name]
    after, (report,) = run_pipeline(graph, 2, disabled=others, check=True)
    before, after = format_ir(graph), format_ir(after)
    text = (f"# The pass `{name}` alone (tests/test_golden_ir.py).\n## source\n{source}"
            f"## before\n{before}\n## {fired(report)}\n## after\n{after}\n")
    # The printer shows only live nodes, so what dce removes shows in the counts.
    return text, before != after or report.nodes_before != report.nodes_after


def example_text(path: Path) -> str:
    graph = frontend(path.read_text(), str(path.relative_to(ROOT))).graph
    parts = [f"# {path.relative_to(ROOT)} at each -O level (tests/test_golden_ir.py).\n"]
    for level in (0, 1, 2):
        after, reports = run_pipeline(graph, level, check=True)
        parts.append(f"## -O{level}\n")
        parts += [f"## {fired(r)}\n" for r in reports]
        parts.append(format_ir(after) + "\n")
    return "".join(parts)


def updating(request) -> bool:
    return bool(os.environ.get("KGRAPH_UPDATE_GOLDEN")) or request.config.getoption("update_golden")


def check_golden(path: Path, actual: str, update: bool = False):
    """Fail with a diff unless `path` holds `actual`; with `update`, write it there instead."""
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    assert path.exists(), f"no golden file {shown}: run with KGRAPH_UPDATE_GOLDEN=1"
    expected = path.read_text()
    if actual != expected:
        diff = difflib.unified_diff(expected.splitlines(), actual.splitlines(),
                                    f"{shown} (golden)", "now", lineterm="")
        pytest.fail("the IR changed; if that is meant, regenerate with KGRAPH_UPDATE_GOLDEN=1 and "
                    "say why in the commit\n" + "\n".join(diff), pytrace=False)


def test_every_pass_has_a_golden_program():
    assert sorted(PASS_PROGRAMS) == sorted(PASS_NAMES)


@pytest.mark.parametrize("name", sorted(PASS_PROGRAMS))
def test_pass_golden(request, name):
    text, changed = pass_text(name, PASS_PROGRAMS[name])
    assert changed, f"the golden program for {name} gives the pass no work"
    check_golden(GOLDEN / "passes" / f"{name}.txt", text, updating(request))


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "examples")) for p in EXAMPLES])
def test_example_golden(request, path):
    name = path.relative_to(ROOT / "examples").with_suffix(".txt")
    check_golden(GOLDEN / "examples" / name, example_text(path), updating(request))


def test_a_changed_ir_fails_with_a_diff(tmp_path):
    golden = tmp_path / "x.txt"
    golden.write_text("a\nb")
    check_golden(golden, "a\nb")
    with pytest.raises(pytest.fail.Exception, match=r"(?s)-b\n\+c"):
        check_golden(golden, "a\nc")
    check_golden(golden, "a\nc", update=True)
    assert golden.read_text() == "a\nc"
