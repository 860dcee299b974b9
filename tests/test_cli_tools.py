"""The tools that show what the compiler does: check, graph, lower, ops, run --trace/--time,
the persistent compilation cache, colour diagnostics and the op table of docs/language.md.

Colour on a terminal runs the real executable, and the persistent cache from one process to
the next runs in processes of tests/forkserver.py; the rest runs through cli.main in this
process, the same code path (test_cli.py runs the executable for exit statuses)."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forkserver import run_kgraph
from test_cli import kgraph  # cli.main in this process, (code, stdout, stderr)

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """\
placeholder x: float32[None, 4]
placeholder y: float32[batch, 3]
placeholder unused: float32[2]
variable W = random_normal_variable((4, 3), mean=0.0, scale=0.1, seed=0)
variable b = zeros((3,))

p = softmax(dot(x, W) + b)
loss = sum(categorical_crossentropy(y, p))
n = count_params(W)
dW, db = gradients(loss, [W, b])
unrelated = gradients(loss, [zeros((2,))])
big = random_normal_variable((10, 10), mean=0.0, scale=1.0, seed=1)
shown = print_tensor(loss, message="loss is ")
output shown, dW, db
"""
FEEDS = ("--feed", "x=[[1, 2, 3, 4], [0, 1, 0, 1]]", "--feed", "y=[[0, 0, 1], [1, 0, 0]]")
BAD = "x = [1.0, 2.0]\ny = dot(x, [[1.0, 2.0, 3.0]])\noutput y\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tools")
    (d / "prog.kg").write_text(PROGRAM)
    (d / "bad.kg").write_text(BAD)
    return d


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory):
    """Subprocesses keep their compilation cache here, never in the user's cache directory."""
    return dict(os.environ, KGRAPH_CACHE_DIR=str(tmp_path_factory.mktemp("cache")))


def proc(*args, env, stdin: str | None = None):
    p = subprocess.run([sys.executable, "-m", "kgraph", *map(str, args)], input=stdin, text=True,
                       capture_output=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def reference(x, y):
    """NumPy's loss and gradients of PROGRAM (softmax crossentropy, summed)."""
    import jax

    with jax.enable_x64(True):
        w = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (4, 3), dtype="float32")) * 0.1
    z = x @ w
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    loss = -(y * np.log(p)).sum()
    return w, loss, x.T @ (p - y), (p - y).sum(axis=0)


# ---- check -------------------------------------------------------------------------

def test_check_prints_signature_and_warnings(files):
    code, out, err = kgraph("check", files / "prog.kg")
    assert code == 0, err
    assert re.search(r"x\s+float32\[None, 4\]", out) and re.search(r"y\s+float32\[batch, 3\]", out)
    assert re.search(r"W\s+float32\[4, 3\]", out) and re.search(r"dW\s+float32\[4, 3\]", out)
    assert "1 warning" not in out and "2 warnings" in out
    prog = files / "prog.kg"
    assert f"{prog}:3:1: warning: placeholder 'unused' is not used by any output" in err
    assert f"{prog}:11:30: warning: gradients: the loss does not depend on zeros((2,))" in err
    assert "\x1b[" not in err  # no colour when stderr is not a terminal
    code, out, err = kgraph("check", files / "bad.kg")
    assert code == 1 and f"{files / 'bad.kg'}:2:5: error: dot: contraction dims differ" in err
    assert "Traceback" not in err and out == ""


def test_check_strict_and_command_line_errors(files):
    code, out, err = kgraph("check", files / "prog.kg", "--strict", "--no-cache")
    assert code == 1 and "--strict" in err
    assert kgraph("check", "--no-cache")[0] == 2
    assert kgraph("check", files / "prog.kg", "-O7")[0] == 2
    code, _, err = kgraph("check", files / "missing.kg")
    assert code == 1 and "no such program" in err and "missing.kg" in err


# ---- graph -------------------------------------------------------------------------

def test_graph_dot_tells_node_kinds_apart(files, tmp_path):
    code, out, err = kgraph("graph", files / "prog.kg", "-O0")
    assert code == 0, err
    assert out.startswith("digraph")
    assert re.search(r'label="x\nplaceholder f32\[None,4\]"[^\]]*shape=invhouse', out)
    assert re.search(r'label="W\nvariable f32\[4,3\]"[^\]]*shape=cylinder', out)
    assert re.search(r'label="dot\nf32\[None,3\]"', out)  # op and type on every node
    assert "subgraph cluster_grad0" in out and 'label="gradients of sum (f32[])"' in out
    assert 'label="output dW\nf32[4,3]"' in out and 'label=wrt' in out
    assert "print_tensor" in out and "prog.kg (-O0)" in out
    target = tmp_path / "p.dot"
    code, _, err = kgraph("graph", files / "prog.kg", "-o", target)
    assert code == 0 and target.read_text().startswith("digraph") and "prog.kg (-O2)" in target.read_text()
    code, _, err = kgraph("graph", files / "prog.kg", "-o", tmp_path / "p.jpeg")
    assert code == 2 and "must end in .svg" in err
    code, _, err = kgraph("graph", files / "bad.kg", "-o", target)
    assert code == 1 and "bad.kg:2:5: error:" in err


def test_graph_draws_fused_regions_as_clusters():
    from kgraph.commands.graph import to_dot
    from kgraph.ir import Graph, Body
    from kgraph.types import TensorType

    g = Graph()
    t = TensorType("float32", (3,))
    body = Body.build([t, t], lambda b, p: [b.make("negative", [b.make("multiply", p)])])
    x = g.make("placeholder", (), {"name": "x"}, t)
    w = g.make("variable", (), {"name": "w"}, t)
    fused = g.make("fused", [x, w], {"body": body})
    g.placeholders["x"], g.variables["w"] = x, w
    g.outputs.append(("y", fused))
    source = to_dot(g).source
    assert f"subgraph cluster_n{fused.id}" in source and "fused region (2 ops)" in source
    assert f'n{fused.id}_0 [label="multiply\nf32[3]"' in source
    assert f'n{fused.id} [label="negative\nf32[3]"' in source
    assert f"n{x.id} -> n{fused.id}_0" in source and f"n{w.id} -> n{fused.id}_0" in source
    assert f"n{fused.id}_0 -> n{fused.id}\n" in source and f"n{fused.id} -> output_y" in source


def test_graph_svg_with_dot_and_install_hint_without(tmp_path, monkeypatch):
    src = ROOT / "examples" / "logreg.kg"
    with monkeypatch.context() as without_dot:
        without_dot.setenv("PATH", str(tmp_path))  # a PATH where there is no `dot`
        code, _, err = kgraph("graph", src, "-o", tmp_path / "g.svg")
    assert code == 1 and "apt-get install graphviz" in err and "-o FILE.dot" in err
    assert "Traceback" not in err and not (tmp_path / "g.svg").exists()
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's `dot` is not installed (apt-get install graphviz): the SVG is not drawn")
    target = tmp_path / "logreg.svg"
    code, _, err = kgraph("graph", src, "-o", target)
    assert code == 0, err
    svg = target.read_text()
    assert svg.startswith("<?xml") and "<svg" in svg and "placeholder f32[None,4]" in svg


# ---- lower -------------------------------------------------------------------------

def test_lower_emits_jaxpr_and_stablehlo(files):
    code, out, err = kgraph("lower", files / "prog.kg", "--emit", "stablehlo",
                            "--feed-shape", "x=float32[8,4]", "--feed-shape", "y=[8,3]")
    assert code == 0, err
    assert out.startswith("module @jit_run") and "stablehlo.dot_general" in out and "tensor<8x4xf32>" in out
    assert "note:" not in err  # every dim was given
    code, out, err = kgraph("lower", files / "prog.kg", "--no-cache")
    assert code == 0, err
    assert out.startswith("{ lambda") and "dot_general" in out and "f32[1,4]" in out
    assert "note: placeholder x: float32[None, 4] lowered as float32[1, 4]" in err
    assert "note: placeholder y: float32[batch, 3] lowered as float32[1, 3]" in err
    code, out, err = kgraph("lower", files / "prog.kg", "--emit", "hlo", "--feed-shape", "x=[2,4]",
                            "--feed-shape", "y=[2,3]")
    assert code == 0 and "ENTRY" in out


def test_lower_shape_errors(files):
    code, _, err = kgraph("lower", files / "prog.kg", "--feed-shape", "x=float32[8,5]")
    assert code == 1 and f"{files / 'prog.kg'}:1:1: error: feed 'x': shape mismatch" in err
    code, _, err = kgraph("lower", files / "prog.kg", "--feed-shape", "x=int32[8,4]")
    assert code == 1 and "the placeholder is float32[None, 4], not int32" in err
    code, _, err = kgraph("lower", files / "prog.kg", "--feed-shape", "q=[1]")
    assert code == 1 and "no placeholder 'q'" in err
    for bad in ("x=float32", "x=float99[1,4]", "x=[a,4]", "[1,4]"):
        code, _, err = kgraph("lower", files / "prog.kg", "--feed-shape", bad)
        assert code == 2 and "--feed-shape" in err, bad
    assert kgraph("lower", files / "prog.kg", "--emit", "llvm")[0] == 2


# ---- run --trace and --time ---------------------------------------------------------------

def test_trace_prints_every_step_with_real_values(files):
    code, out, err = kgraph("run", files / "prog.kg", *FEEDS, "--trace")
    assert code == 0, err
    trace, _, outputs = out.partition("\nloss is ")
    heads = [line for line in trace.splitlines() if not line.startswith(" ")]
    assert [h.split(":")[1] for h in heads] == ["1", "2", "3", "4", "5", "7", "8", "9", "10", "11", "12", "13"]
    assert heads[5] == "prog.kg:7: p = softmax(dot(x, W) + b)"
    names = re.findall(r"^    (\S+?)(?::| =)", trace, re.M)
    assert names == ["x", "y", "unused", "W", "b", "p", "loss", "n", "dW", "db", "unrelated[0]", "big", "shown"]
    assert "unused: float32[2] (not computed: needs a feed for unused)" in trace
    assert "n = 12 (known at compile time)" in trace
    assert re.search(r"big: float32\[10, 10\] = min -?\d\.\d+  max \d\.\d+  mean -?\d\.\d+  \[", trace)
    # The values are the run's: the same as the outputs, and as NumPy computes them.
    x = np.array([[1, 2, 3, 4], [0, 1, 0, 1]], np.float32)
    y = np.array([[0, 0, 1], [1, 0, 0]], np.float32)
    w, loss, dw, db = reference(x, y)
    traced_loss = float(re.search(r"    loss: float32\[\] = (\S+)", trace).group(1))
    output_loss = float(re.search(r"shown: float32\[\] = (\S+)", outputs).group(1))
    assert traced_loss == output_loss and abs(traced_loss - loss) < 1e-5
    assert out.count("\nloss is ") == 1  # print_tensor prints once: the trace's run is silent
    traced_db = re.search(r"    db: float32\[3\] = \[(.*)\]", trace).group(1)
    np.testing.assert_allclose(np.array(traced_db.split(), float), db, rtol=1e-5, atol=1e-6)


def test_trace_goes_to_stderr_with_json_and_keeps_errors(files):
    code, out, err = kgraph("run", files / "prog.kg", *FEEDS, "--trace", "--format", "json")
    assert code == 0 and set(json.loads(out.split("\n", 1)[1])) == {"shown", "dW", "db"}
    assert "prog.kg:7: p = softmax" in err
    code, out, err = kgraph("run", files / "bad.kg", "--trace")
    assert code == 1 and "bad.kg:2:5: error:" in err and out == ""
    # An unseeded random draw: the trace shows the value the run drew.
    (files / "draw.kg").write_text("r = random_normal((3,))\ns = r * 2\noutput s\n")
    code, out, err = kgraph("run", files / "draw.kg", "--trace", "--format", "json", "--seed", "5")
    assert code == 0, err
    traced = re.search(r"    s: float32\[3\] = \[(.*)\]", err).group(1)
    np.testing.assert_allclose(np.array(traced.split(), float), json.loads(out)["s"]["data"], rtol=1e-6)


def test_trace_of_the_backend_tour():
    import kgraph as kg

    feeds = ("--feed", f"fixed={np.ones((2, 4, 5)).tolist()}", "--feed", f"batch={np.ones((3, 4, 5)).tolist()}")
    code, out, err = kgraph("run", ROOT / "examples" / "backend_tour.kg", *feeds, "--trace")
    assert code == 0, err
    with pytest.warns(kg.KGraphWarning, match="is not used by any output"):
        program = kg.load(ROOT / "examples" / "backend_tour.kg")
    for binding in program.module.bindings:
        assert re.search(rf"^    {binding.name}\b", out, re.M), binding.name
    assert "tiled: float32[4, 4] =\n      [[1. 0. 1. 0.]\n       [0. 1. 0. 1.]" in out
    assert re.search(r"^backend_tour.kg:\d+: da, db = gradients\(loss, \[a, b\]\)", out, re.M)


def test_time_reports_every_stage_and_the_cache_skips_compiling(files, cache_env, tmp_path):
    env = dict(cache_env, KGRAPH_CACHE_DIR=str(tmp_path / "cache"))
    prog = tmp_path / "nocallback.kg"  # print_tensor's host callback makes XLA's result uncacheable
    prog.write_text(PROGRAM.replace('shown = print_tensor(loss, message="loss is ")', "shown = loss"))
    runs = [run_kgraph("run", prog, *FEEDS, "--time", env=env) for _ in range(2)]  # a process each
    for code, out, err in runs:
        assert code == 0, err
        stages = re.findall(r"^  (\w+(?: \w+)?) +\d+\.\d ms", err, re.M)
        assert stages == ["parse", "build", "optimize", "lower", "XLA compile", "execute", "total"]
        assert "shown: float32[] =" in out
    assert "(persistent cache miss)" in runs[0][2] and "(persistent cache hit)" in runs[1][2]
    assert any((tmp_path / "cache" / "xla").iterdir())


def test_cache_is_off_unless_asked(tmp_path, monkeypatch):
    import jax

    from kgraph.cache import cache_dir, enable_compilation_cache

    before = jax.config.jax_compilation_cache_dir
    assert kgraph("check", ROOT / "examples" / "quickstart.kg")[0] in (0, 1)  # cli.main in-process
    assert jax.config.jax_compilation_cache_dir == before  # only the executable turns it on
    monkeypatch.setenv("KGRAPH_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("KGRAPH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert cache_dir() == tmp_path / "xdg" / "kgraph"
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert enable_compilation_cache(blocked / "sub") is None  # cannot be created: nothing changes
    assert jax.config.jax_compilation_cache_dir == before


# ---- ops and the op table ------------------------------------------------------------

def test_ops_lists_every_op_and_runs_an_example():
    from kgraph.docgen import public_ops

    code, out, err = kgraph("ops")
    assert code == 0, err
    for op in public_ops():
        assert op.signature in out and op.doc in out, op.name
    assert "placeholder(name)" not in out and "grad(" not in out
    code, out, err = kgraph("ops", "softmax")
    assert code == 0, err
    assert out.startswith("softmax(x, axis=-1)\n") and "example:\n  output softmax" in out
    assert "result:\n  out0: float32[1, 3] = [[0.09003057 0.24472848 0.66524094]]" in out
    code, out, err = kgraph("ops", "sofmax")
    assert code == 2 and "there is no op 'sofmax'; did you mean 'softmax'?" in err
    assert kgraph("ops", "const")[0] == 2


def test_ops_shows_tile():
    code, out, err = kgraph("ops", "tile")
    assert code == 0 and out.startswith("tile(x, n)") and "result:" in out


def test_docs_op_table_is_generated_from_the_registry():
    from kgraph.docgen import DEFAULT_DOC, END, START, ops_table, with_table

    text = DEFAULT_DOC.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    assert with_table(text, ops_table()) == text, "docs/language.md is stale: run python -m kgraph.docgen"
    code, out, _ = kgraph("ops", "--markdown")
    assert code == 0 and out.strip() == ops_table()


# ---- diagnostics and help -------------------------------------------------------------

def test_colour_on_a_terminal_only(files, cache_env, tmp_path):
    from kgraph.diagnostics import paint

    text = paint(f"{files}/bad.kg:2:5: error: dot: no\n    y = dot(x)\n        ^~~~")
    styles = {text.plain[s.start:s.end]: str(s.style) for s in text.spans}
    assert styles[f"{files}/bad.kg:2:5: "] == "bold" and styles["error"] == "bold red"
    assert styles["        ^~~~"] == "bold green"
    assert str(paint("x.kg:1:1: warning: w").spans[1].style) == "bold magenta"
    env = dict(cache_env, FORCE_COLOR="1", TERM="xterm", KGRAPH_CACHE_DIR=str(tmp_path / "unused"))
    code, _, err = proc("run", files / "bad.kg", "--no-cache", env=env)
    assert code == 1 and "\x1b[" in err and "error" in err and "Traceback" not in err
    assert not (tmp_path / "unused").exists()  # --no-cache: no cache directory either


@pytest.mark.parametrize("command", ["run", "check", "graph", "lower", "ops", "repl"])
def test_every_subcommand_help_has_an_example(command):
    code, out, _ = kgraph(command, "--help")
    assert code == 0 and "examples:" in out and f"kgraph {command}" in out.split("examples:")[1]


def test_error_paths_exit_1_or_2_without_a_traceback(files):
    """Exit 1 for a program's mistake, 2 for a command line's; never a traceback. In this
    process: test_cli.py runs the executable for one of each (a program's mistake, a
    command line argparse refuses) and test_colour_on_a_terminal_only for one more."""
    cases = [(("check", files / "bad.kg"), 1, f"{files / 'bad.kg'}:2:5: error: dot: contraction dims differ"),
             (("lower", files / "prog.kg", "--feed-shape", "x=[a,4]"), 2, "dimensions must be non-negative"),
             (("ops", "sofmax"), 2, "did you mean 'softmax'?")]  # graph's: without dot, above
    for args, status, message in cases:
        code, out, err = kgraph(*args)
        assert (code, message in err, "Traceback" in err) == (status, True, False), (args, err)
