"""Issue 11's checklist: every concrete input its text names, run through the command line.

Each row is one input the issue found crashing, hanging or exhausting kgraph, as a user
meets it: `kgraph run`/`check` on a file, a feed, a state file or a `.kgx`. Each must end
with exit 0 (it works), 1 (a located error: `p.kg:LINE:COL: error:` for a program, the
file's name for a feed, state file or export) or 2 (a bad command line), never 70 and
never a traceback. tests/test_robustness.py holds the finer tests of each (the Python
API, the message's wording, kin of each input); this file is the issue's list, whole.
"""
from __future__ import annotations

import io
import os
import sys
import zipfile

import numpy as np
import pytest

import kgraph
from kgraph.export import export_program
from test_robustness import TERABYTES, cli, manifest_change, npy_header, npz_of, rewrite_kgx

PROGRAM = "p.kg"  # every row's program is written to tmp_path / PROGRAM


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def program_row(source, code, *needles, feeds=()):
    """A row that runs `source` as p.kg (with `--feed` values), expecting `code` and needles."""
    def make(tmp_path):
        (tmp_path / PROGRAM).write_text(source)
        return ["run", tmp_path / PROGRAM] + [a for f in feeds for a in ("--feed", f)]
    return make, code, needles


def run_with(source, *options):
    def make(tmp_path):
        (tmp_path / PROGRAM).write_text(source)
        return ["run", tmp_path / PROGRAM, *[o(tmp_path) if callable(o) else o for o in options]]
    return make


def file_at(name, data):
    """An option value: writes `data` (bytes, or a function of the path) to tmp_path/name."""
    def make(tmp_path):
        path = tmp_path / name
        data(path) if callable(data) else path.write_bytes(data)
        return path
    return make


def feed_of(name, data):
    where = file_at(name, data)
    return lambda tmp_path: f"x={where(tmp_path)}"


def _stored_npz(path):
    npz_of(path, {"x.npy": npy(np.arange(1000, dtype=np.float32))})


def _crc_damaged(path):
    _stored_npz(path)
    data = bytearray(path.read_bytes())
    data[500] ^= 0xFF  # inside the stored array's bytes
    path.write_bytes(bytes(data))


def _truncated(path):
    _stored_npz(path)
    path.write_bytes(path.read_bytes()[:2000])


def _bad_deflate(path):
    npz_of(path, {"x.npy": npy(np.arange(1000, dtype=np.float32))}, zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    data[80:88] = b"\xff" * 8  # inside the deflate stream
    path.write_bytes(bytes(data))


FEED_PROGRAM = "placeholder x: float32[None, 3]\noutput sum(x)\n"
COUNTER = ("placeholder x: float32[None, 2]\nvariable w = zeros((2,))\n"
           "loss = mean(square(x * w - 1.0))\ng, = gradients(loss, [w])\n"
           "update w = w - 0.1 * g\noutput loss\n")
STATE_PROGRAM = "variable w = zeros((2,))\noutput w\n"


def state_row(name, data, *needles):
    return run_with(STATE_PROGRAM, "--state", file_at(name, data)), 1, (name, *needles)


def feed_row(name, data, *needles):
    return run_with(FEED_PROGRAM, "--feed", feed_of(name, data)), 1, (name, *needles)


def _kgx(tmp_path):
    path = tmp_path / "good.kgx"
    export_program(kgraph.compile("placeholder x: float32[None, 2]\nvariable w = ones((2,))\n"
                                  "output x * w\n"), path)
    return path


def kgx_row(change, *needles):
    def make(tmp_path):
        bad = rewrite_kgx(_kgx(tmp_path), tmp_path / "bad.kgx", change)
        return ["run", bad, "--feed", "x=[[1, 2]]"]
    return make, 1, ("bad.kgx", *needles)


def _member(name, edit):
    return lambda n, d: edit(d) if n == name else d


def _fifo(path):
    os.mkfifo(path)


NESTED_CALLS = "output " + "abs(" * 500 + "-1.0" + ")" * 500 + "\n"
ONES_3000 = "output " + " + ".join(["1"] * 3000) + "\n"

CHECKLIST = {
    # ---- recursion ----------------------------------------------------------------------
    "500 nested calls": program_row(NESTED_CALLS, 0, "1.0"),
    "a 3,000-term 1 + 1 + ...": program_row(ONES_3000, 0, "3000"),
    "a literal list nested 500 deep": program_row("output " + "[" * 500 + "1" + "]" * 500, 1,
                                                  "p.kg:1:8: error:", "at most 64 dimensions"),
    "a JSON feed nested 50,000 deep": program_row(FEED_PROGRAM, 1, "max_depth", "--max-depth",
                                                  feeds=["x=" + "[" * 50_000 + "]" * 50_000]),
    # ---- unbounded work at compile time -------------------------------------------------
    "10 ** 10 ** 10": program_row("output 10 ** 10 ** 10", 1, "p.kg:1:", "max_int_digits"),
    "2 ** 20000 as an output": program_row("output 2 ** 20000", 1, "p.kg:1:", "max_int_digits"),
    "a 5,000-digit literal": program_row("output " + "7" * 5000, 1, "p.kg:1:8", "max_int_digits"),
    "seed=2**64": program_row("output random_normal((2,), seed=2**64)", 1, "p.kg:1:",
                              "does not fit in int64"),
    "x[2**64]": program_row("placeholder x: float32[None, 3]\noutput x[2**64]", 1, "p.kg:2:",
                            "does not fit in int64"),
    "ones((2**64,))": program_row("output ones((2**64,))", 1, "p.kg:1:", "does not fit in int64"),
    "10**400": program_row("output 10**400", 1, "p.kg:1:8", "does not fit in int32"),
    "arange(0, 1e308)": program_row("output arange(0, 1e308)", 1, "p.kg:1:8",
                                    "more elements than float32 can count"),
    # ---- what XLA would abort on, or run out of memory for ------------------------------
    "ones((2**62,))": program_row("output ones((2**62,))", 1, "p.kg:1:8", "max_elements"),
    "eye(2**40)": program_row("output eye(2**40)", 1, "p.kg:1:8", "max_elements"),
    "one_hot(x, 10**12)": program_row("placeholder x: int32[None]\noutput one_hot(x, 10**12)", 1,
                                      "p.kg:2:8", "max_elements"),
    "random_normal((2**40,))": program_row("output random_normal((2**40,))", 1, "p.kg:1:8",
                                           "max_elements"),
    "ones((100000, 100000))": program_row("output ones((100000, 100000))", 1, "p.kg:1:8",
                                          "max_elements"),
    "the integer mean of an empty feed": (
        run_with("placeholder x: int32[None]\noutput mean(x)\n", "--feed",
                 feed_of("empty.npy", npy(np.zeros(0, np.int32)))), 0, ("0",)),
    # ---- small files that ask for terabytes ---------------------------------------------
    "a 100-byte .npy header claiming 10^12 x 3 floats, as a file":
        feed_row("big.npy", npy_header(TERABYTES), "max_file_bytes", "--max-file-bytes"),
    "... in a .npz": feed_row("big.npz", lambda p: npz_of(p, {"x.npy": npy_header(TERABYTES)}),
                              "max_file_bytes"),
    "a state-file member of 4 TB": state_row(
        "s.npz", lambda p: npz_of(p, {"w.npy": npy_header((2**39,))}), "max_file_bytes"),
    "kgraph check /dev/zero": (lambda tmp_path: ["check", "/dev/zero"], 1,
                               ("/dev/zero", "a character device")),
    "a FIFO as --state": (run_with(COUNTER, "--feed", "x=[[1, 2]]", "--epochs", "1", "--state",
                                   file_at("fifo.npz", _fifo)), 1,
                          ("fifo.npz", "a FIFO (named pipe), not a regular file")),
    # ---- corrupt containers -------------------------------------------------------------
    "a truncated .npz feed": feed_row("cut.npz", _truncated, "not a valid .npz archive"),
    "a CRC-damaged .npz feed": feed_row("crc.npz", _crc_damaged, "not a valid .npz archive"),
    "a truncated .npz state file": state_row("cut.npz", _truncated, "not a readable state file"),
    "a bad deflate stream": feed_row("deflate.npz", _bad_deflate, "not a valid .np"),
    "a garbage .npy header": feed_row("garbage.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': <<<<<\n",
                                      "not a valid .npy file"),
    "a .npy named .npz": state_row("really.npz", npy(np.zeros(2, np.float32)),
                                   "single .npy array, not a .npz"),
    "a state member that is not a .npy": state_row(
        "txt.npz", lambda p: npz_of(p, {"w.txt": b"hello"}), "not a .npy array"),
    "a truncated program.jaxexport": kgx_row(_member("program.jaxexport", lambda d: d[: len(d) // 2]),
                                             "checksum"),
    "a mutated program.jaxexport": kgx_row(
        _member("program.jaxexport", lambda d: d[:100] + bytes([d[100] ^ 1]) + d[101:]), "checksum"),
    "a .kgx manifest missing its seed": kgx_row(manifest_change(lambda m: m.pop("seed")),
                                                "manifest has no field 'seed'"),
    "a .kgx manifest's variables of the wrong type": kgx_row(
        manifest_change(lambda m: m.update(variables={"w": 1})), "manifest.variables must be a list"),
    "a .kgx manifest's platforms of the wrong type": kgx_row(
        manifest_change(lambda m: m.update(platforms="cpu")), "manifest.platforms must be a list"),
    # ---- edge values --------------------------------------------------------------------
    "argmax of a zero-size constant": program_row("output argmax(zeros((0,)))", 1, "p.kg:1:8",
                                                  "empty axis"),
    "gather(ones((0, 2)), [0])": program_row("output gather(ones((0, 2)), [0])", 1, "p.kg:1:8",
                                             "cannot gather from an empty axis"),
    "softmax(x, axis=None)": program_row("placeholder x: float32[2, 2]\noutput softmax(x, axis=None)",
                                         0, "0.5", feeds=["x=[[1, 1], [2, 2]]"]),
    "int_shape(x)[::0]": program_row("placeholder x: float32[None, 3]\noutput int_shape(x)[::0]", 1,
                                     "p.kg:2:", "slice step cannot be zero"),
    "a NUL character in a string literal": program_row('output ones((2,), dtype="a\0b")', 1,
                                                       "p.kg:1:", "cannot hold a NUL character"),
    "a batch clash in categorical_crossentropy at run time": program_row(
        "placeholder x: float32[None, 3]\nplaceholder y: float32[None, 3]\n"
        "output categorical_crossentropy(x, softmax(y))", 1, "p.kg:3:8",
        "run-time shapes do not agree", feeds=["x=[[1, 0, 0], [0, 1, 0]]", "y=[[1, 2, 3], [1, 2, 3], [1, 2, 3]]"]),
    "x[5] on a 2-row batch": program_row("placeholder x: float32[None, 3]\noutput x[5]", 1, "p.kg:2:8",
                                         "index 5 is out of bounds for axis 0 with size 2",
                                         feeds=["x=[[1, 2, 3], [4, 5, 6]]"]),
    # ---- the command line ---------------------------------------------------------------
    "--seed -1 with training": (run_with(COUNTER, "--feed", "x=[[1, 2]]", "--epochs", "2",
                                         "--seed", "-1"), 2, ("--seed",)),
    "an absurd --feed-shape": ((lambda tmp_path: ["lower", file_at(PROGRAM, FEED_PROGRAM.encode())(
        tmp_path), "--feed-shape", "x=[99999999999999,3]"]), 1, ("max_elements", "--max-elements")),
    "outputs named file and allow_pickle, --out results": (
        run_with("file = [1.0, 2.0]\nallow_pickle = [3]\noutput file, allow_pickle\n", "--out",
                 lambda tmp_path: tmp_path / "results"), 0, ("wrote 2 outputs to", "results.npz")),
}


@pytest.mark.parametrize("row", list(CHECKLIST), ids=list(CHECKLIST))
def test_issue_11_input(row, tmp_path, monkeypatch):
    make, code, needles = CHECKLIST[row]
    monkeypatch.chdir(tmp_path)
    got, text = cli(*make(tmp_path))
    assert got == code, text[-2000:]
    for needle in needles:
        assert needle in text, (needle, text[-2000:])
    assert "Traceback" not in text and "internal error" not in text


def test_issue_11_outputs_named_as_savez_keywords_are_both_written(tmp_path):
    make, _, _ = CHECKLIST["outputs named file and allow_pickle, --out results"]
    assert cli(*make(tmp_path))[0] == 0
    with np.load(tmp_path / "results.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["allow_pickle", "file"]


@pytest.mark.parametrize("stdin, needles", [
    ("/dev/zero", ["standard input", "does not start with the .npy magic bytes"]),  # never ends
    ("big.npy", ["standard input", "max_file_bytes"]),  # the 100-byte header, on stdin
])
def test_issue_11_feed_on_standard_input(tmp_path, monkeypatch, stdin, needles):
    (tmp_path / PROGRAM).write_text(FEED_PROGRAM)
    if stdin == "big.npy":
        (tmp_path / stdin).write_bytes(npy_header(TERABYTES))
        stdin = tmp_path / stdin
    with open(stdin, "rb") as raw:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw))
        code, text = cli("run", tmp_path / PROGRAM, "--feed", "x=-")
    assert code == 1 and all(n in text for n in needles), text
    assert "Traceback" not in text
