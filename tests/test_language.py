"""The language of LANGUAGE.md §2–5, feature by feature, against NumPy."""
import textwrap

import numpy as np
import pytest

import kgraph

from conftest import run, run_both

COVERS = {"getitem", "stop_gradient", "print_tensor", "gradients", "int_shape", "ndim", "count_params",
          "floatx", "epsilon"}


def test_comments_newlines_in_brackets_and_strings():
    out = run_both("""
        # a comment
        a = [[1.0, 2.0],   # rows may span lines inside brackets
             [3.0, 4.0]]
        b = sum(a,
                axis=0)    # and calls too
        msg = 'single' # strings in both quotes
        msg2 = "double"
        output b
        """.replace("\n        ", "\n"))
    np.testing.assert_array_equal(out["b"], [4.0, 6.0])


def test_numbers_and_literals_dtypes():
    out = run("output [1, 2], [1.5, 2], 1e-7, .5, -2, True, [True, False]\n")
    assert out["out0"].dtype == np.int32
    assert out["out1"].dtype == np.float32
    assert out["out2"] == np.float32(1e-7)
    assert out["out3"] == 0.5
    assert out["out4"].dtype == np.int32 and out["out4"] == -2
    assert out["out5"].dtype == np.bool_
    assert out["out6"].dtype == np.bool_


def test_floatx_changes_literals():
    out = run("output [1.5, 2]\n", floatx="float64")
    assert out["out0"].dtype == np.float64


def test_precedence_is_pythons():
    out = run_both("output -2 ** 2, 2 + 3 * 4, (2 + 3) * 4, 7 // 2 * 2, 2 ** 3 ** 2, 10 - 4 - 3\n")
    assert [int(out[f"out{i}"]) for i in range(6)] == [-4, 14, 20, 6, 512, 3]


def test_infix_on_tensors_matches_numpy(rng):
    x = rng.normal(size=(3, 4)).astype(np.float32)
    y = rng.normal(size=(4,)).astype(np.float32)
    out = run_both("""placeholder x: float32[None, 4]
placeholder y: float32[4]
output x + y, x - y, x * y, x / y, -x, x * 2, 2 - x
""", x=x, y=y)
    for got, want in zip(out.values(), [x + y, x - y, x * y, x / y, -x, x * 2, 2 - x]):
        np.testing.assert_allclose(got, want, rtol=1e-6)
        assert got.dtype == np.float32


def test_weak_scalars_keep_dtype():
    out = run("placeholder x: float64[2]\nplaceholder i: int64[2]\noutput x * 2, x + 0.5, i * 2, i + 1\n",
              x=np.ones(2), i=np.ones(2, np.int64))
    assert [v.dtype for v in out.values()] == [np.float64, np.float64, np.int64, np.int64]


def test_float64_and_int64_honoured_without_global_config():
    import jax

    out = run("variable W: float64 = [[3, 3], [5, 5]]\noutput dot(W, W) as ww\n")
    assert out["ww"].dtype == np.float64
    np.testing.assert_array_equal(out["ww"], [[24, 24], [40, 40]])
    assert not jax.config.jax_enable_x64  # the host program's JAX is untouched


def test_integer_division_gives_float():
    out = run("output [1, 2] / 2, [7, -7] // 2, [7, -7] % 3\n")
    assert out["out0"].dtype == np.float32
    np.testing.assert_array_equal(out["out0"], [0.5, 1.0])
    np.testing.assert_array_equal(out["out1"], [3, -4])
    np.testing.assert_array_equal(out["out2"], [1, 2])


def test_named_dims_and_none():
    prog = kgraph.compile("placeholder x: float32[batch, 3]\nplaceholder y: float32[batch, 3]\n"
                          "placeholder s: float32\noutput x + y * s\n")
    assert prog.placeholders == {"x": ("float32", ("batch", 3)), "y": ("float32", ("batch", 3)),
                                 "s": ("float32", ())}
    out = prog.run(x=np.ones((2, 3)), y=np.ones((2, 3)), s=2.0)
    np.testing.assert_array_equal(out["out0"], np.full((2, 3), 3.0))
    with pytest.raises(kgraph.FeedError, match="dimension 'batch' is 5 here but 2 in feed 'x'"):
        prog.run(x=np.ones((2, 3)), y=np.ones((5, 3)), s=2.0)


def test_scalar_placeholder_forms():
    prog = kgraph.compile("placeholder a: float32[]\nplaceholder b: float32\noutput a + b\n")
    assert prog.placeholders == {"a": ("float32", ()), "b": ("float32", ())}
    assert prog.run(a=1.5, b=2)["out0"] == 3.5


def test_def_functions_inline_with_keywords_and_tuples():
    out = run_both("""
def affine(x, w, b):
    h = dot(x, w)
    return h + b

def pair(a):
    return a, a * 2

x = [[1.0, 2.0]]
y = affine(x, [[1.0], [1.0]], b=10.0)
p, q = pair(y)
output y, p, q
""")
    assert out["y"].tolist() == [[13.0]]
    assert out["q"].tolist() == [[26.0]]


def test_shadowing_is_ssa():
    out = run("x = [1.0]\ny = x\nx = x * 3\noutput x, y\n")
    assert out["x"].tolist() == [3.0] and out["y"].tolist() == [1.0]


def test_output_naming_rules():
    prog = kgraph.compile("a = [1.0]\nb = [2.0]\ng = gradients(sum(a * b), [a, b])\n"
                          "output a, a * 2, b as bee, g, gradients(sum(a), [a])\n")
    assert prog.outputs == ["a", "out1", "bee", "g_0", "g_1", "out4_0"]


def test_indexing_and_slicing_as_numpy(rng):
    x = rng.normal(size=(4, 5, 6)).astype(np.float32)
    cases = {"x[0]": x[0], "x[:, 1:3]": x[:, 1:3], "x[..., -1]": x[..., -1], "x[::2]": x[::2],
             "x[:, None]": x[:, None], "x[1, ..., 2:]": x[1, ..., 2:], "x[::-1, 0, ::2]": x[::-1, 0, ::2],
             "x[-1:, :-2]": x[-1:, :-2]}
    src = "placeholder x: float32[None, 5, 6]\n" + "".join(
        f"output {expr} as o{i}\n" for i, expr in enumerate(cases))
    prog = kgraph.compile(src)
    out = prog.run(x=x)
    for i, want in enumerate(cases.values()):
        np.testing.assert_array_equal(out[f"o{i}"], want)
    # static shapes keep None where the run-time size is unknown
    types = {name: node.type.shape for name, node in prog.graph.outputs}
    assert types["o0"] == (5, 6) and types["o1"] == (None, 2, 6) and types["o3"] == (None, 5, 6)


def test_static_helpers_fold_to_python_values():
    with pytest.warns(kgraph.KGraphWarning, match="placeholder 'x' is not used"):  # only its type is
        out = run("placeholder x: float32[None, 4]\nw = zeros((4, 3))\n"
                  "output int_shape(w), ndim(x), count_params(w), epsilon(), cast(int_shape(w)[0], floatx())\n")
    assert out["out0"].tolist() == [4, 3]
    assert out["out1"] == 2 and out["out2"] == 12
    assert out["out3"] == np.float32(1e-7)


def test_unused_bindings_allowed():
    assert run("unused = [1.0] * 3\noutput [2.0]\n")["out0"].tolist() == [2.0]


def test_gradients_of_gradients():
    # d/dx sum(x^3) = 3x^2; d/dx sum(3x^2) = 6x
    out = run_both("""
placeholder x: float64[3]
g, = gradients(sum(x * x * x), [x])
h, = gradients(sum(g), [x])
output g, h
""", x=np.array([1.0, 2.0, -3.0]))
    np.testing.assert_allclose(out["g"], [3.0, 12.0, 27.0])
    np.testing.assert_allclose(out["h"], [6.0, 12.0, -18.0])


def test_gradients_of_non_scalar_loss_sum_it():
    out = run("placeholder x: float64[3]\ng, = gradients(x * x, [x])\noutput g\n", x=np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(out["g"], [2.0, 4.0, 6.0])


def test_gradient_against_intermediate_counts_all_paths():
    out = run("b = [1.0, 2.0]\na = b * 3\nda, db = gradients(sum(a * a), [a, b])\noutput da, db\n")
    np.testing.assert_allclose(out["da"], [6.0, 12.0])
    np.testing.assert_allclose(out["db"], [18.0, 36.0])


def test_stop_gradient():
    out = run("placeholder x: float64[2]\ny = stop_gradient(x) * x\ng, = gradients(sum(y), [x])\noutput g\n",
              x=np.array([2.0, 3.0]))
    np.testing.assert_allclose(out["g"], [2.0, 3.0])


def test_print_tensor_prints_at_run_time(capfd):
    prog = kgraph.compile("placeholder x: float32[2]\noutput print_tensor(x * 2, message='doubled: ')\n")
    capfd.readouterr()
    prog.run(x=np.array([1.0, 2.0]))
    prog.run(x=np.array([3.0, 4.0]))
    printed = capfd.readouterr().out
    assert "doubled: [2. 4.]" in printed and "doubled: [6. 8.]" in printed


def test_variables_hold_initial_values_with_dtype():
    prog = kgraph.compile("variable W: float64 = [[3, 3], [5, 5]]\nvariable b = zeros((3,))\n"
                          "variable r = random_normal_variable((2, 2), mean=0.0, scale=1.0, seed=7)\noutput W\n")
    assert prog.variables["W"].dtype == np.float64
    assert prog.variables["b"].dtype == np.float32
    again = kgraph.compile("variable r = random_normal_variable((2, 2), mean=0.0, scale=1.0, seed=7)\noutput r\n")
    np.testing.assert_array_equal(prog.variables["r"], again.variables["r"])


def test_program_is_callable_and_ir_is_text():
    prog = kgraph.compile("placeholder x: float32[2]\noutput x * 2 as y\n")
    np.testing.assert_array_equal(prog(x=[1, 2])["y"], [2.0, 4.0])
    assert prog.ir() == textwrap.dedent("""\
        { placeholders a:f32[2]=x
          variables -
          let
            b:f32[] = const[value=2.]
            c:f32[2] = multiply a b
          in (y=c) }""")


def test_gradients_of_one_tensor_and_broadcast_crossentropy_target():
    out = run("placeholder x: float64[None, 3]\nl = categorical_crossentropy([[0.0, 1.0, 0.0]], softmax(x))\n"
              "g = gradients(sum(l), x)\noutput l, g\n", x=np.zeros((2, 3)))
    np.testing.assert_allclose(out["l"], [np.log(3)] * 2)
    np.testing.assert_allclose(out["g_0"], [[1 / 3, -2 / 3, 1 / 3]] * 2)
