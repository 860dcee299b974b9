"""`kgraph repl` driven through standard input, as a learner's session would go.

The long session runs in a process of its own (tests/forkserver.py), to its exit status; the
shorter ones through cli.main in this process (the same code path)."""
import os
from pathlib import Path

import pytest

from forkserver import run_kgraph
from test_cli import kgraph

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return dict(os.environ, KGRAPH_CACHE_DIR=str(tmp_path_factory.mktemp("cache")))


def repl(script: str, *args, env):
    return run_kgraph("repl", *args, stdin=script, env=env)


def repl_here(script: str, *args):
    return kgraph("repl", *args, stdin=script.encode())


SESSION = """\
x = [[1.0, 2.0], [3.0, 4.0]]
x + 1
sum(x, axis=1)
dot(x, [1.0, 2.0, 3.0])
int_shape(zeros((2, 3)))
placeholder p: float32[None, 2]
p * 2
:feed p=[[1, 2]]
p * 2
def square(a):
    return a * a
square(x)
total = sum(
    square(x))
total
nosuch(1)
grads = gradients(sum(x * x), [x])
grads
:bogus
:names
:ir
:ops softmax
:help
:reset
total
y = 1 +
"""


def test_a_session_grows_a_program_and_survives_its_errors(env):
    code, out, err = repl(SESSION, env=env)
    assert code == 1  # a statement failed, and the input was not a terminal
    blocks = out.split("\n")
    assert "float32[2, 2] =\n  [[2. 3.]\n   [4. 5.]]" in out  # x + 1: type, then value
    assert "float32[2] = [3. 7.]" in blocks
    assert "(2, 3)" in blocks
    assert "float32[None, 2]  (no value until it is fed: :feed p=...)" in blocks
    assert "float32[1, 2] = [[2. 4.]]" in blocks
    assert "float32[2, 2] =\n  [[ 1.  4.]\n   [ 9. 16.]]" in out  # the def, then its call
    assert "float32[] = 30." in blocks  # a statement over two lines, then its name
    assert "[0] float32[2, 2] =\n  [[2. 4.]\n   [6. 8.]]" in out  # a list of gradients
    # Errors inline, at the line of standard input, and the session goes on.
    assert "<stdin>:4:1: error: dot: contraction dims differ: x is float32[2, 2]" in err
    assert "<stdin>:16:1: error: unknown op 'nosuch'" in err
    assert "error: unknown command ':bogus'; :help lists them" in err
    assert "Traceback" not in err
    # :names, :ir, :ops, :help, :reset
    assert "p: float32[None, 2]  placeholder  (fed)" in blocks and "square: function(a)" in blocks
    assert "total: float32[]  tensor" in blocks
    assert "{ placeholders -" in out and "in (total=" in out and "grads=" not in out
    assert "softmax(x, axis=-1)\n  Softmax of a tensor" in out and "result:" in out
    assert ":feed NAME=VALUE" in out
    assert "(everything forgotten)" in blocks
    assert "<stdin>:25:1: error: unknown name 'total'" in err  # forgotten by :reset
    assert "<stdin>:26:8: error: expected an expression" in err  # a syntax error, in place


def test_a_clean_session_exits_0_and_quit_stops_it():
    code, out, err = repl_here("y = zeros((2,))\ny + 1\n:quit\ny + 2\n")
    assert code == 0, err
    assert out.split("\n") == ["float32[2] = [1. 1.]", ""]


def test_repl_starts_from_a_file_with_feeds(tmp_path):
    prog = tmp_path / "start.kg"
    prog.write_text("placeholder x: float32[None, 2]\nw = [[1.0], [2.0]]\ny = dot(x, w)\noutput y\n")
    code, out, err = repl_here("y\ny * 10\n", prog, "--feed", "x=[[1, 1]]")
    assert code == 0, err
    assert out.split("\n") == [f"loaded {prog}: x, w, y", "float32[1, 1] = [[3.]]",
                               "float32[1, 1] = [[30.]]", ""]
    bad = tmp_path / "bad.kg"
    bad.write_text("y = nosuch(1)\n")
    code, out, err = repl_here("", bad)
    assert code == 1 and f"{bad}:1:5: error: unknown op 'nosuch'" in err


def test_tile_of_eye_in_the_repl():
    code, out, err = repl_here("tile(eye(2), (2, 2))\n")
    assert code == 0, err
    assert out == ("float32[4, 4] =\n  [[1. 0. 1. 0.]\n   [0. 1. 0. 1.]\n   [1. 0. 1. 0.]\n"
                   "   [0. 1. 0. 1.]]\n")


def test_image_data_format_in_the_repl():
    script = "x = ones((1, 2, 3, 3))\nint_shape(pool2d(x, (2, 2)))\n"
    code, out, err = repl_here(script, "--image-data-format", "channels_first")
    assert code == 0, err
    assert "(1, 2, 2, 2)" in out
    code, out, err = repl_here(script)
    assert code == 0, err
    assert "(1, 1, 2, 3)" in out
