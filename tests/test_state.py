"""`update` statements (LANGUAGE.md §8) and state: semantics, compile errors, save/load/reset."""
import os
import textwrap
import zipfile

import ml_dtypes
import numpy as np
import pytest

import kgraph
from kgraph.state import load_state_file, save_state_file


def compile_(source: str, **options) -> kgraph.Program:
    return kgraph.compile(textwrap.dedent(source), filename="model.kg", **options)


# ---- semantics -------------------------------------------------------------------

@pytest.mark.parametrize("opt_level", [0, 2])
def test_all_updates_read_the_values_at_the_start_of_the_run(opt_level):
    prog = compile_("""\
        variable a = [1.0, 2.0]
        variable b = [3.0, 4.0]
        variable n: int32 = 0
        update a = b
        update b = a
        update_add(n, 1)
        output a, b, n
        """, opt_level=opt_level)
    out = prog.run()
    # Outputs see the values at the start of the run, too.
    np.testing.assert_array_equal(out["a"], [1, 2])
    np.testing.assert_array_equal(out["n"], 0)
    assert prog.variables["a"].tolist() == [3, 4] and prog.variables["b"].tolist() == [1, 2]
    prog.run()
    assert prog.variables["a"].tolist() == [1, 2] and prog.variables["b"].tolist() == [3, 4]
    assert prog.variables["n"] == 2 and prog.variables["n"].dtype == np.int32
    assert prog.updates == ["a", "b", "n"]


def test_update_add_and_update_sub_match_numpy():
    prog = compile_("""\
        placeholder g: float64[2, 2]
        variable W: float64 = [[1, 2], [3, 4]]
        variable V: float64 = [[1, 2], [3, 4]]
        variable c: int64 = 10
        update_add(W, g * 2)
        update_sub(x=V, decrement=g)
        update_sub(c, 3)
        output sum(W) as total
        """)
    g = np.array([[0.5, -1.0], [0.25, 2.0]])
    assert prog.run(g=g)["total"] == 10
    np.testing.assert_array_equal(prog.variables["W"], [[2, 0], [3.5, 8]])
    np.testing.assert_array_equal(prog.variables["V"], [[0.5, 3], [2.75, 2]])
    assert prog.variables["c"] == 7 and prog.variables["c"].dtype == np.int64


def test_gradient_descent_step_matches_a_numpy_reference():
    prog = compile_("""\
        placeholder x: float64[None, 3]
        placeholder y: float64[None]
        variable w: float64 = [0.5, -0.25, 1.0]
        err = dot(x, w) - y
        loss = sum(err * err)
        dw, = gradients(loss, [w])
        update w = w - 0.01 * dw
        output loss
        """)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    w = np.array([0.5, -0.25, 1.0])
    for _ in range(3):
        loss = prog.run(x=x, y=y)["loss"]
        err = x @ w - y
        np.testing.assert_allclose(loss, err @ err, rtol=1e-12)
        w = w - 0.01 * 2 * x.T @ err
        np.testing.assert_allclose(prog.variables["w"], w, rtol=1e-12)


def test_a_program_with_updates_and_no_output_is_valid():
    prog = compile_("""\
        variable n: int32 = 0
        update n = n + 1
        """)
    assert prog.run() == {} and prog.outputs == []
    assert prog.run() == {} and prog.variables["n"] == 2


def test_updates_survive_dead_code_elimination_and_show_in_the_ir():
    prog = compile_("""\
        placeholder x: float32[3]
        variable s = zeros((3,))
        unused = x * 100.0
        update s = s + x
        output sum(x) as total
        """)
    assert "s<-" in prog.ir()
    prog.run(x=[1, 2, 3])
    prog.run(x=[1, 2, 3])
    np.testing.assert_array_equal(prog.variables["s"], [2, 4, 6])


def test_an_update_inside_a_function_updates_the_variable_passed_in():
    prog = compile_("""\
        variable W = [1.0, 2.0]
        def sgd(p, g):
            update_sub(p, 0.5 * g)
            return p
        output sgd(W, [2.0, 2.0]) as before
        """)
    assert prog.run()["before"].tolist() == [1, 2]
    assert prog.variables["W"].tolist() == [0, 1]


def test_python_numbers_and_literals_take_the_variables_dtype():
    prog = compile_("""\
        variable h: float16 = [1, 2]
        variable i: int8 = 5
        variable k: float64 = [0.5, 0.5]
        update h = [3, 4]
        update_add(i, 2)
        update k = [1, 2]
        output h
        """)
    prog.run()
    v = prog.variables
    assert v["h"].dtype == np.float16 and v["h"].tolist() == [3, 4]
    assert v["i"].dtype == np.int8 and v["i"] == 7
    assert v["k"].dtype == np.float64 and v["k"].tolist() == [1, 2]


def test_variables_returns_copies_and_untouched_variables_keep_their_buffers():
    prog = compile_("""\
        variable a = [1.0]
        variable c = [5.0]
        update a = a + c
        update_add(c, [0.0])
        output a
        """)
    prog.variables["a"][0] = 100.0  # a copy: the program is not changed
    for _ in range(3):
        prog.run()
    assert prog.variables["a"].tolist() == [16.0]


def test_an_update_may_copy_a_variable_that_is_not_updated():
    prog = compile_("""\
        variable a = [1.0, 2.0]
        variable b = [0.0, 0.0]
        variable c = [7.0, 8.0]
        update a = c
        update b = c
        output c
        """)
    for _ in range(3):  # c's buffer must survive the donation of a and b
        assert prog.run()["c"].tolist() == [7, 8]
    assert prog.variables["a"].tolist() == [7, 8] and prog.variables["b"].tolist() == [7, 8]


def test_unseeded_random_ops_draw_fresh_values_each_run():
    prog = compile_("""\
        variable r = zeros((4,))
        update r = random_uniform((4,))
        output r
        """)
    prog.run()
    first = prog.variables["r"]
    prog.run()
    assert not np.array_equal(first, prog.variables["r"])
    prog.reset()
    prog.run()
    np.testing.assert_array_equal(prog.variables["r"], first)  # same seed, same run count


# ---- compile errors ------------------------------------------------------------------

ERRORS = [
    ("""\
     placeholder x: float32[3]
     update x = x * 2
     """, kgraph.KGraphError, """\
model.kg:2:8: error: cannot update placeholder 'x': only variables can be updated
    update x = x * 2
           ^"""),
    ("""\
     variable W = [1.0, 2.0]
     W = W * 2
     update W = W + 1
     output W
     """, kgraph.KGraphError, """\
model.kg:3:8: error: cannot update `W`: it is a tensor computed by the program, not a variable \
(the name was rebound at line 2; the variable 'W' is declared at line 1)
    update W = W + 1
           ^"""),
    ("""\
     k = 3
     update_add(k, 1)
     """, kgraph.KGraphError, """\
model.kg:2:12: error: cannot update `k`: it is 3, not a variable
    update_add(k, 1)
               ^"""),
    ("""\
     variable W = [1.0, 2.0]
     update W = W * 2
     update_sub(W, [1.0, 1.0])
     """, kgraph.KGraphError, """\
model.kg:3:1: error: variable 'W' is already updated at line 2; a run updates each variable once \
(combine the two into one update)
    update_sub(W, [1.0, 1.0])
    ^~~~~~~~~~~~~~~~~~~~~~~~~
model.kg:2:1: note: the first update
    update W = W * 2
    ^~~~~~~~~~~~~~~~"""),
    ("""\
     placeholder x: float32[None, 2]
     variable W = [1.0, 2.0]
     update W = x[0] + x
     """, kgraph.ShapeError, """\
model.kg:3:12: error: update of 'W': the new value `x[0] + x` is float32[None, 2], but W is \
float32[2]; an update keeps the variable's shape
    update W = x[0] + x
               ^~~~~~~~"""),
    ("""\
     variable W = [1.0, 2.0]
     update_add(W, 1.0)
     """, kgraph.ShapeError, """\
model.kg:2:15: error: update of 'W': the increment `1.0` is float32[], but W is float32[2]; an \
update keeps the variable's shape
    update_add(W, 1.0)
                  ^~~"""),
    ("""\
     variable W = [1.0, 2.0]
     update W = zeros((2,), dtype='float64')
     """, kgraph.DTypeError, """\
model.kg:2:12: error: update of 'W': the new value `zeros((2,), dtype='float64')` is float64[2], \
but W is float32[2]; an update keeps the variable's dtype (convert with cast(..., 'float32'))
    update W = zeros((2,), dtype='float64')
               ^~~~~~~~~~~~~~~~~~~~~~~~~~~~"""),
    ("""\
     variable n: int32 = 0
     update_add(n, 0.5)
     """, kgraph.DTypeError, """\
model.kg:2:15: error: update of 'n': the increment `0.5` is float32[], but n is int32[]; an update \
keeps the variable's dtype (convert with cast(..., 'int32'))
    update_add(n, 0.5)
                  ^~~"""),
    ("""\
     variable W = [1.0, 2.0]
     y = update_add(W, [1.0, 1.0])
     output y
     """, kgraph.KGraphError, """\
model.kg:2:5: error: `update_add(...)` is a statement and has no value; write it on a line of its own
    y = update_add(W, [1.0, 1.0])
        ^~~~~~~~~~~~~~~~~~~~~~~~~"""),
    ("""\
     variable W = [1.0, 2.0]
     update_add(W)
     """, kgraph.ArgumentError, """\
model.kg:2:1: error: update_add() missing required argument 'increment' (signature: update_add(x, increment))
    update_add(W)
    ^~~~~~~~~~~~~"""),
    ("""\
     variable W = [1.0, 2.0]
     update_sub(W, delta=[1.0, 1.0])
     """, kgraph.ArgumentError, """\
model.kg:2:15: error: update_sub() got an unexpected keyword argument 'delta'
    update_sub(W, delta=[1.0, 1.0])
                  ^~~~~~~~~~~~~~~~"""),
    ("""\
     variable W = [1.0, 2.0]
     update V = W
     """, kgraph.NameError, """\
model.kg:2:8: error: unknown name 'V'
    update V = W
           ^"""),
]


@pytest.mark.parametrize("source,cls,expected", ERRORS, ids=range(len(ERRORS)))
def test_update_errors_point_at_the_mistake(source, cls, expected):
    with pytest.raises(cls) as info:
        kgraph.compile(textwrap.dedent(source), filename="model.kg")
    assert info.value.render() == expected
    assert (info.value.filename, info.value.line) == ("model.kg", int(expected.split(":")[1]))


def test_a_user_function_named_update_add_is_an_ordinary_call():
    prog = compile_("""\
        def update_add(a, b):
            return a + b
        output update_add(1.0, 2.0) as s
        """)
    assert prog.run()["s"] == 3


# ---- save, load, reset -----------------------------------------------------------------

COUNTER = """\
variable w = [1.0, 2.0, 3.0]
variable n: int64 = 0
variable h: bfloat16 = [0.5]
update w = w * 2
update_add(n, 1)
update h = h + 0.25
output n
"""


def test_save_load_and_reset_round_trip(tmp_path):
    prog = compile_(COUNTER)
    prog.run()
    prog.run()
    path = tmp_path / "ckpt.npz"
    prog.save_state(path)
    saved = prog.variables
    prog.reset()
    assert prog.variables["n"] == 0 and prog.variables["w"].tolist() == [1, 2, 3]
    assert prog.run()["n"] == 0
    prog.load_state(path)
    for name, value in prog.variables.items():
        assert value.dtype == saved[name].dtype and np.array_equal(value, saved[name]), name
    assert prog.run()["n"] == 2 and prog.variables["w"].tolist() == [8, 16, 24]
    assert prog.variables["h"].dtype == ml_dtypes.bfloat16 and float(prog.variables["h"][0]) == 1.25
    with np.load(path, allow_pickle=False) as z:  # a plain .npz: one array per variable
        assert sorted(z.files) == ["h", "n", "w"] and z["w"].tolist() == [4, 8, 12]


def test_a_state_file_that_does_not_match_is_refused_and_nothing_changes(tmp_path):
    other = compile_("variable w = [1.0, 2.0]\nvariable n: int32 = 0\nvariable extra = 1.0\n"
                     "output w\n")
    path = tmp_path / "other.npz"
    other.save_state(path)
    before = path.read_bytes()
    prog = compile_(COUNTER)
    prog.run()
    with pytest.raises(kgraph.StateError) as info:
        prog.load_state(path)
    message = str(info.value)
    assert "variable 'w' is float32[3] in the program but float32[2] in the file" in message
    assert "variable 'n' is int64[] in the program but int32[] in the file" in message
    assert "variable 'h' (bfloat16[1]) is missing from the file" in message
    assert "the file has arrays the program has no variables for: extra" in message
    assert prog.variables["n"] == 1 and path.read_bytes() == before


@pytest.mark.parametrize("content,reason", [
    (b"not a zip file", "not a readable state file"),
    (b"", "not a readable state file"),
])
def test_unreadable_state_files_are_state_errors(tmp_path, content, reason):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(kgraph.StateError, match=reason):
        compile_(COUNTER).load_state(path)
    with pytest.raises(kgraph.StateError, match="no such state file"):
        compile_(COUNTER).load_state(tmp_path / "missing.npz")


def test_a_single_npy_or_a_pickle_is_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(kgraph.StateError, match="single .npy array"):
        load_state_file(tmp_path / "a.npy", {})
    np.savez(tmp_path / "p.npz", w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(kgraph.StateError, match="pickled"):
        load_state_file(tmp_path / "p.npz", {"w": ("float32", (1,))})


def test_a_truncated_state_file_is_refused(tmp_path):
    path = tmp_path / "ckpt.npz"
    prog = compile_(COUNTER)
    prog.save_state(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(kgraph.StateError):
        prog.load_state(path)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save_state_file(path, {"w": np.arange(3.0)})
    path.chmod(0o640)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    # A failure while writing leaves the old file as it was, and no temporary file behind.
    monkeypatch.setattr(np.lib.format, "write_array", fail)
    with pytest.raises(kgraph.StateError, match="No space left on device"):
        save_state_file(path, {"w": np.arange(5.0)})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]
    monkeypatch.undo()

    # The new file replaces the old one by rename (a new inode), keeping its permissions.
    inode = path.stat().st_ino
    save_state_file(path, {"w": np.arange(5.0)})
    assert path.stat().st_ino != inode and path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert zipfile.ZipFile(path).testzip() is None


def test_a_variable_named_file_can_be_saved(tmp_path):
    # np.savez(file, **arrays) would take it for its own argument.
    prog = compile_("variable file = [1.0]\nvariable allow_pickle = [2.0]\noutput file\n")
    prog.save_state(tmp_path / "s.npz")
    prog.load_state(tmp_path / "s.npz")
    assert prog.variables["allow_pickle"].tolist() == [2.0]


def test_an_unwritable_state_path_is_a_state_error(tmp_path):
    with pytest.raises(kgraph.StateError, match="cannot write state file"):
        compile_(COUNTER).save_state(tmp_path / "no-such-dir" / "ckpt.npz")


def test_the_examples_in_docs_training_md_run():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "training.md").read_text()
    blocks = re.findall(r"```kg\n(.*?)```", text, re.S)
    assert "least-squares" in blocks[0] and "def sgd" in blocks[1]  # the two that train
    fit, sgd = (kgraph.compile(b, filename="training.md") for b in blocks[:2])
    losses = [float(fit.run()["loss"]) for _ in range(20)]
    assert losses[-1] < losses[0] / 10 and fit.variables["steps"] == 20
    assert sgd.run()["before"].tolist() == [1, 2] and sgd.variables["W"].tolist() == [0, 1]
