"""`kgraph run` end to end: feeds, formats, errors, exit codes. Through cli.main in this process,
and the real executable for what the interpreter's own start decides (no traceback, argparse's
exit 2)."""
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kgraph.cli import main
from kgraph.errors import KGraphError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def subprocess_kgraph(*args, stdin: bytes | None = None, cwd=None):
    """The real command in a fresh process (slow: a JAX import each)."""
    proc = subprocess.run([sys.executable, "-m", "kgraph", *map(str, args)], input=stdin,
                          capture_output=True, cwd=cwd, timeout=120)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def kgraph(*args, stdin: bytes | None = None, cwd=None):
    """The command's main() in this process: the same code path, without a JAX import each."""
    out, err = io.StringIO(), io.StringIO()
    old_cwd, old_stdin = os.getcwd(), sys.stdin
    try:
        if cwd:
            os.chdir(cwd)
        if stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:  # argparse
                code = e.code
    finally:
        os.chdir(old_cwd)
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


PROGRAM = """\
placeholder x: float32[None, 2]
placeholder k: int32
y = x * 2
output y, sum(x) as total, k + 1 as k1
"""


@pytest.fixture(scope="module")
def prog_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    path = d / "prog.kg"
    path.write_text(PROGRAM)
    x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    np.save(d / "x.npy", x)
    np.savez(d / "one.npz", x)
    np.savez(d / "two.npz", a=x, b=x * 10)
    np.savetxt(d / "x.csv", x, delimiter=",")
    np.save(d / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (d / "bad.npy").write_bytes(b"not a npy file")
    return path


def test_every_feed_form_gives_the_same_result(prog_file):
    d = prog_file.parent
    forms = [f"x={d / 'x.npy'}", f"x={d / 'one.npz'}", f"x={d / 'two.npz'}:a", f"x={d / 'x.csv'}",
             "x=[[1, 2], [3, 4]]"]
    for form in forms:
        code, out, err = kgraph("run", prog_file, "--feed", form, "--feed", "k=3", "--format", "json")
        assert code == 0, (form, err)
        data = json.loads(out)
        assert list(data) == ["y", "total", "k1"]
        assert data["y"] == {"dtype": "float32", "shape": [2, 2], "data": [[2.0, 4.0], [6.0, 8.0]]}
        assert data["total"]["data"] == 10.0
        assert data["k1"] == {"dtype": "int32", "shape": [], "data": 4}


def test_feed_from_stdin_and_npz_output(prog_file, tmp_path):
    buf = __import__("io").BytesIO()
    np.save(buf, np.ones((3, 2), np.float32))
    out_file = tmp_path / "out.npz"
    code, out, err = kgraph("run", prog_file, "--feed", "x=-", "--feed", "k=1", "--out", out_file,
                            stdin=buf.getvalue())
    assert code == 0, err
    with np.load(out_file) as z:
        assert list(z.keys()) == ["y", "total", "k1"]
        np.testing.assert_array_equal(z["y"], np.full((3, 2), 2.0))


def test_text_format_is_readable(prog_file):
    code, out, err = kgraph("run", prog_file, "--feed", "x=[[1, 2]]", "--feed", "k=0")
    assert code == 0, err
    assert out.splitlines() == ["y: float32[1, 2] = [[2. 4.]]", "total: float32[] = 3.0", "k1: int32[] = 1"]


@pytest.mark.parametrize("feeds, message", [
    (["x=[[1, 2, 3]]", "k=1"], "prog.kg:1:1: error: feed 'x': shape mismatch: x is declared float32[None, 2], "
                               "got int64[1, 3] (axis 1: 3 != 2)"),
    (["x=[[1, 2]]"], "prog.kg:2:1: error: placeholder 'k' (int32[]) needs a feed"),
    (["x=[[1, 2]]", "k=1.5"], "prog.kg:2:1: error: feed 'k': cannot convert float64[] to the placeholder's "
                              "dtype: k is declared int32[]"),
    (["x=[[1, 2]]", "k=1", "z=3"], "the program has no placeholder 'z' (placeholders: x, k)"),
    (["x=nofile.npy", "k=1"], "prog.kg:1:1: error: feed 'x' (placeholder x: float32[None, 2]): no such file: nofile.npy"),
    (["x=[[1, 2]", "k=1"], "is neither a file (.npy, .npz, .csv) nor a JSON literal"),
    (["x", "k=1"], "--feed 'x': expected NAME=VALUE"),
    (["x=[[\"a\", \"b\"]]", "k=1"], "expected numbers for placeholder x"),
])
def test_feed_errors(prog_file, feeds, message):
    args = [a for f in feeds for a in ("--feed", f)]
    code, out, err = kgraph("run", prog_file, *args, cwd=prog_file.parent)
    assert code == 1
    assert message in err
    assert "Traceback" not in err
    assert out == ""


def test_pickled_and_corrupt_files_are_refused(prog_file):
    d = prog_file.parent
    code, _, err = kgraph("run", prog_file, "--feed", f"x={d / 'obj.npy'}", "--feed", "k=1")
    assert code == 1 and "pickled objects, which kgraph never loads" in err
    code, _, err = kgraph("run", prog_file, "--feed", f"x={d / 'bad.npy'}", "--feed", "k=1")
    assert code == 1 and "is not a valid .npy file" in err and "Traceback" not in err
    code, _, err = kgraph("run", prog_file, "--feed", f"x={d / 'two.npz'}", "--feed", "k=1")
    assert code == 1 and "holds 2 arrays (a, b); choose one" in err
    code, _, err = kgraph("run", prog_file, "--feed", f"x={d / 'two.npz'}:c", "--feed", "k=1")
    assert code == 1 and "has no array 'c'" in err


def test_program_error_shows_place_and_caret_and_debug_shows_traceback(tmp_path):
    bad = tmp_path / "bad.kg"
    bad.write_text("x = [1.0, 2.0]\ny = x + [1.0, 2.0, 3.0]\noutput y\n")
    code, out, err = subprocess_kgraph("run", bad)
    assert code == 1
    assert err.splitlines() == [
        f"{bad}:2:5: error: add: shapes cannot be broadcast together: x is float32[2], "
        f"[1.0, 2.0, 3.0] is float32[3] (2 != 3)",
        "    y = x + [1.0, 2.0, 3.0]",
        "        ^~~~~~~~~~~~~~~~~~~"]
    # --debug lets the error out of main(), for the interpreter to print its traceback.
    with pytest.raises(KGraphError, match="shapes cannot be broadcast together"):
        main(["run", str(bad), "--debug"])


def test_bad_command_line_exits_2(prog_file):
    assert kgraph("run", prog_file, "--format", "yaml")[0] == 2
    assert kgraph("run")[0] == 2
    assert subprocess_kgraph("nonsense")[0] == 2
    code, out, err = kgraph("run", prog_file.parent / "missing.kg")
    assert code == 1 and "no such program" in err and "Traceback" not in err


def test_help_teaches_with_examples():
    code, out, _ = kgraph("run", "--help")
    assert code == 0 and "examples:" in out and "--feed" in out and "x=data.npz:key" in out
    code, out, _ = kgraph("--help")
    assert code == 0 and "kgraph run examples/quickstart.kg" in out


def test_opt_levels_floatx_and_seed(tmp_path):
    src = tmp_path / "r.kg"
    src.write_text("r = random_normal((2,), seed=None)\noutput [1.5] * 2 as v, r\n")
    outs = []
    for args in (["-O0"], ["-O2", "--floatx", "float64"], ["--seed", "3"], ["--seed", "3"]):
        code, out, err = kgraph("run", src, "--format", "json", *args)
        assert code == 0, err
        outs.append(json.loads(out))
    assert outs[0]["v"]["dtype"] == "float32" and outs[1]["v"]["dtype"] == "float64"
    assert outs[2]["r"] == outs[3]["r"]  # same --seed, same draw
    assert outs[0]["r"] != outs[2]["r"]


def test_device_cpu_and_missing_device(prog_file):
    code, out, err = kgraph("run", prog_file, "--feed", "x=[[1, 2]]", "--feed", "k=0", "--device", "cpu")
    assert code == 0, err
    code, out, err = kgraph("run", prog_file, "--feed", "x=[[1, 2]]", "--feed", "k=0", "--device", "tpu")
    if code != 0:  # no TPU here: a clear error, not a traceback
        assert code == 1 and "no tpu device is available" in err and "Traceback" not in err
