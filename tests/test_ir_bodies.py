"""Bodies (sub-graphs held in attributes): the printer, the verifier and the interpreter.

A fused node's body is a `Body`; loops will hold theirs the same way. These tests build
regions by hand, nested too, as a loop op will, and check each stage against them.
"""
from __future__ import annotations

import jax
import numpy as np
import pytest

from kgraph.ir import Graph, Body, VerifyError, format_ir, verify
from kgraph.lower import make_function
from kgraph.types import TensorType

F3 = TensorType("float32", (3,))


def _outer_with(body: Body) -> Graph:
    g = Graph()
    x = g.make("placeholder", (), {"name": "x"}, F3)
    y = g.make("placeholder", (), {"name": "y"}, F3)
    g.placeholders.update(x=x, y=y)
    g.outputs.append(("z", g.make("fused", [x, y], {"body": body})))
    return g


def _nested() -> Body:
    """Body(a, b) = exp(fused[inner](a, b)) with inner(c, d) = c * d - d."""
    inner = Body.build([F3, F3], lambda g, p: [g.make("subtract", [g.make("multiply", p), p[1]])])
    return Body.build([F3, F3], lambda g, p: [g.make("exp", [g.make("fused", p, {"body": inner})])])


def test_a_nested_region_prints_as_an_indented_block_like_a_jaxpr_body():
    assert format_ir(_outer_with(_nested())) == """\
{ placeholders a:f32[3]=x b:f32[3]=y
  variables -
  let
    c:f32[3] = fused a b
      { lambda ; d:f32[3] e:f32[3] . let
          f:f32[3] = fused d e
            { lambda ; g:f32[3] h:f32[3] . let
                i:f32[3] = multiply g h
                j:f32[3] = subtract i h
              in (j) }
          k:f32[3] = exp f
        in (k) }
  in (z=c) }"""


def test_one_body_object_printed_twice_gets_new_names_each_time():
    """Two fused nodes may hold the same Body object; each printing names its nodes afresh."""
    body = Body.build([F3, F3], lambda g, p: [g.make("multiply", p)])
    g = _outer_with(body)
    x, first = g.placeholders["x"], g.outputs[0][1]
    g.outputs.append(("w", g.make("fused", [first, x], {"body": body})))
    assert format_ir(g) == """\
{ placeholders a:f32[3]=x b:f32[3]=y
  variables -
  let
    c:f32[3] = fused a b
      { lambda ; d:f32[3] e:f32[3] . let
          f:f32[3] = multiply d e
        in (f) }
    g:f32[3] = fused c a
      { lambda ; h:f32[3] i:f32[3] . let
          j:f32[3] = multiply h i
        in (j) }
  in (z=c, w=g) }"""


def test_the_interpreter_evaluates_nested_regions():
    g = _outer_with(_nested())
    fn = make_function([n for _, n in g.outputs], [], list(g.placeholders.values()), [])
    x, y = np.array([1.0, 2.0, 3.0], np.float32), np.array([0.5, -1.0, 2.0], np.float32)
    (z,), _ = jax.jit(fn)({}, {"x": x, "y": y}, None)
    np.testing.assert_allclose(np.asarray(z), np.exp(x * y - y), rtol=1e-6)


def test_equal_regions_are_one_attribute_and_one_node():
    a, b = _nested(), _nested()
    assert a == b and hash(a) == hash(b) and a is not b
    g = _outer_with(a)
    x, y = g.placeholders["x"], g.placeholders["y"]
    assert g.make("fused", [x, y], {"body": b}) is g.outputs[0][1]
    other = Body.build([F3, F3], lambda r, p: [r.make("add", p)])
    assert other != a and g.make("fused", [x, y], {"body": other}) is not g.outputs[0][1]


def test_the_verifier_checks_regions_nested_inside_regions():
    verify(_outer_with(_nested()))
    # A region that uses a node of the enclosing graph is not closed.
    g = _outer_with(_nested())
    x = g.placeholders["x"]
    leaky = Body.build([F3, F3], lambda r, p: [r.make("add", [p[0], x])])
    g.outputs.append(("w", g.make("fused", [x, x], {"body": leaky})))
    with pytest.raises(VerifyError, match="belongs to another graph|inside a region"):
        verify(g)
    # Params out of order are caught, also two levels down.
    swapped = Body.build([F3, F3], lambda r, p: [r.make("add", p)])
    object.__setattr__(swapped, "params", swapped.params[::-1])
    deep = Body.build([F3, F3], lambda r, p: [r.make("fused", p, {"body": swapped})])
    with pytest.raises(VerifyError, match="region parameter 0"):
        verify(_outer_with(deep))


def test_a_fused_node_refuses_inputs_that_its_params_do_not_take():
    from kgraph.ops import OpError

    g = Graph()
    ints = g.make("placeholder", (), {"name": "n"}, TensorType("int32", (3,)))
    with pytest.raises(OpError, match="differ from the body's params"):
        g.make("fused", [ints, ints], {"body": _nested()})
