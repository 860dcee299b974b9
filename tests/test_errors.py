"""User mistakes: each gives `file:line:col: error: ...`, the line and a caret (golden text)."""
import textwrap

import pytest

import kgraph


def error_of(source: str) -> kgraph.KGraphError:
    with pytest.raises(kgraph.KGraphError) as info:
        kgraph.compile(textwrap.dedent(source), filename="model.kg")
    return info.value


GOLDEN = [
    # (program, exception class, rendered error)
    ("""\
     placeholder x: float32[None, 4, 5]
     variable W = zeros((4, 3))
     y = dot(x, W)
     output y
     """, kgraph.ShapeError, """\
model.kg:3:5: error: dot: contraction dims differ: x is float32[None, 4, 5], W is float32[4, 3] (5 != 4)
    y = dot(x, W)
        ^~~~~~~~~"""),
    ("""\
     x = softmx([1.0, 2.0])
     output x
     """, kgraph.NameError, """\
model.kg:1:5: error: unknown op 'softmx'; did you mean 'softmax'?
    x = softmx([1.0, 2.0])
        ^~~~~~"""),
    ("""\
     value = [1.0]
     output valeu
     """, kgraph.NameError, """\
model.kg:2:8: error: unknown name 'valeu'; did you mean 'value'?
    output valeu
           ^~~~~"""),
    ("""\
     x = [1.0]
     output sum(x, axes=0)
     """, kgraph.ArgumentError, """\
model.kg:2:15: error: sum() got an unexpected keyword argument 'axes'; did you mean 'axis'?
    output sum(x, axes=0)
                  ^~~~~~"""),
    ("""\
     x = [1.0]
     output x +
     """, kgraph.ParseError, """\
model.kg:2:11: error: expected an expression, found end of line
    output x +
              ^"""),
    ("""\
     y = (1 + 2
     output y
     """, kgraph.ParseError, """\
model.kg:2:1: error: '(' at line 1, column 5 was never closed (expected ')' before 'output')
    output y
    ^~~~~~"""),
    ("""\
     placeholder x float32[3]
     output x
     """, kgraph.ParseError, """\
model.kg:1:15: error: expected ':' and a type after the placeholder's name (e.g. `placeholder x: float32[None, 4]`), found 'float32'
    placeholder x float32[3]
                  ^~~~~~~"""),
    ("""\
     placeholder x: float23[3]
     output x
     """, kgraph.DTypeError, """\
model.kg:1:16: error: unknown dtype 'float23'; did you mean 'float32'? (dtypes: float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, bool)
    placeholder x: float23[3]
                   ^~~~~~~~~~"""),
    ("""\
     x = [1.0]
     """, kgraph.KGraphError, """\
model.kg:1:1: error: the program has no `output` statement; add one, e.g. `output y`
    x = [1.0]
    ^"""),
    ("""\
     x = [1.0] $ 2
     output x
     """, kgraph.ParseError, """\
model.kg:1:11: error: unexpected character '$'
    x = [1.0] $ 2
              ^"""),
    ("""\
     a, b = [1.0, 2.0, 3.0]
     output a
     """, kgraph.KGraphError, """\
model.kg:1:1: error: cannot unpack 3 values into 2 names (a, b)
    a, b = [1.0, 2.0, 3.0]
    ^~~~~~~~~~~~~~~~~~~~~~"""),
    ("""\
     x = sum(axis=0, [1.0, 2.0])
     output x
     """, kgraph.ParseError, """\
model.kg:1:17: error: positional argument follows keyword argument
    x = sum(axis=0, [1.0, 2.0])
                    ^~~~~~~~~~"""),
    ("""\
     x = 2 * ([1.0, 2.0] + [1.0, 2.0, 3.0])
     output x
     """, kgraph.ShapeError, """\
model.kg:1:10: error: add: shapes cannot be broadcast together: [1.0, 2.0] is float32[2], [1.0, 2.0, 3.0] is float32[3] (2 != 3)
    x = 2 * ([1.0, 2.0] + [1.0, 2.0, 3.0])
             ^~~~~~~~~~~~~~~~~~~~~~~~~~~~"""),
]


@pytest.mark.parametrize("source, cls, rendered", GOLDEN)
def test_golden_error(source, cls, rendered):
    err = error_of(source)
    assert isinstance(err, cls)
    assert err.render() == rendered
    assert (err.filename, err.line, err.column) == ("model.kg",) + tuple(
        int(p) for p in rendered.split(":")[1:3])


def test_shape_error_in_def_body_reports_body_line_and_call_site():
    err = error_of("""\
        placeholder x: float32[None, 4, 5]
        variable W = zeros((4, 3))
        def layer(a):
            h = dot(a, W)
            return h
        y = layer(x)
        output y
        """)
    assert isinstance(err, kgraph.ShapeError)
    assert (err.line, err.column) == (4, 9)
    assert err.render() == """\
model.kg:4:9: error: dot: contraction dims differ: a is float32[None, 4, 5], W is float32[4, 3] (5 != 4)
        h = dot(a, W)
            ^~~~~~~~~
model.kg:6:5: note: in the call to 'layer' here
    y = layer(x)
        ^~~~~~~~"""


@pytest.mark.parametrize("source, message, line", [
    ("x = zeros((1,))\noutput x(1)\n", "'x' is a tensor float32[1], not a function", 2),
    ("x = [1.0]\noutput x(1)\n", "'x' is a list of 1 values, not a function", 2),
    ("def f(a):\n    return f(a)\noutput f(1.0)\n", "function 'f' calls itself; recursion is not supported", 2),
    ("def f(a):\n    b = a\noutput f(1.0)\n", "function 'f' has no `return`", 1),
    ("def f(a):\n    return a\noutput f(1.0, 2.0)\n", "f() takes 1 arguments but 2 were given", 3),
    ("def f(a):\n    return a\noutput f(b=1.0)\n", "f() got an unexpected keyword argument 'b'", 3),
    ("x = [1.0]\noutput sum(x, 0, False, 3)\n", "sum() takes at most 3 arguments", 2),
    ("output sum()\n", "sum() missing required argument 'x'", 1),
    ("x = zeros((1,))\noutput sum(x, axis=x)\n", "sum(): 'axis' must be known at compile time, but x is a tensor", 2),
    ("output [[1, 2], [3]]\n", "a literal array must be rectangular", 1),
    ("placeholder x: float32[3]\nplaceholder x: float32[3]\noutput x\n",
     "placeholder 'x' is already declared at line 1", 2),
    ("placeholder x: float32[3]\nvariable W = x * 2\noutput W\n",
     "the initial value of variable 'W' must be computable at compile time, but it depends on placeholder 'x'", 2),
    ("x = zeros((1,))\noutput x[0, 1]\n", "too many indices: 2 for x is float32[1]", 2),
    ("x = zeros((1,))\noutput x[3]\n", "index 3 is out of bounds for axis 0 with size 1", 2),
    ("x = zeros((1,))\noutput x[x]\n", "indexing with a tensor is not supported; use gather(x, indices)", 2),
    ("def f(a):\n    placeholder z: float32\n    return a\noutput f(1.0)\n",
     "`placeholder` is only allowed at the top level", 2),
    ("return 1\n", "`return` outside a function", 1),
    ("x = 1 / 0\noutput x\n", "division by zero", 1),
    ("output [1.0] + [1.0, 2.0, 3.0] * [1.0, 2.0]\n", "multiply: shapes cannot be broadcast together", 1),
])
def test_error_messages(source, message, line):
    err = error_of(source)
    assert message in err.message
    assert err.line == line
    assert err.render().startswith(f"model.kg:{line}:")


def test_unconnected_gradient_warns_and_gives_zeros():
    with pytest.warns(kgraph.KGraphWarning, match="does not depend on w"):
        prog = kgraph.compile("w = [1.0, 2.0]\nv = [3.0]\ng, = gradients(sum(v * v), [w])\noutput g\n")
    assert prog.run()["g"].tolist() == [0.0, 0.0]


def test_unused_placeholder_warns():
    with pytest.warns(kgraph.KGraphWarning, match="placeholder 'x' is not used"):
        kgraph.compile("placeholder x: float32[3]\noutput [1.0]\n")


@pytest.mark.parametrize("source, column, needle", [
    # a name error near the end of a 2,000-character line
    ("output " + "1.0 + " * 330 + "zz", 1988, "zz"),
    # a syntax error at column ~2,000 of a 5,000-character line: text after the caret too
    ("output " + "1.0 + " * 332 + ") + " + "2.0 + " * 500 + "1.0", 2000, ")"),
    # a short line is shown whole, a long one cut after the caret
    ("output zz + " + "1.0 + " * 330 + "1.0", 8, "zz"),
])
def test_a_long_line_shows_a_window_around_the_caret(source, column, needle):
    from kgraph.errors import WINDOW

    e = error_of(source)
    head, shown, caret = e.render().split("\n")
    assert head.startswith(f"model.kg:1:{column}: error:")
    assert len(shown) <= 4 + WINDOW + 6 < len(source)  # not the whole line ...
    at = caret.index("^")
    assert shown[at:at + len(needle)] == needle  # ... nor cut before the caret, and aligned
    text = shown.strip()
    assert text.startswith("...") == (column > WINDOW)
    assert text.removeprefix("...").removesuffix("...") in source


def test_a_line_of_the_window_size_is_shown_whole():
    from kgraph.errors import WINDOW

    source = "output " + "1.0 + " * ((WINDOW - 10) // 6) + "zz"
    assert len(source) <= WINDOW
    head, shown, caret = error_of(source).render().split("\n")
    assert shown == "    " + source and caret == " " * (4 + len(source) - 2) + "^~"
