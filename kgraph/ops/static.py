"""Front-end functions that make no node of their own: gradients and the static helpers.

`int_shape`, `ndim`, `count_params`, `floatx`, `image_data_format` and `epsilon` are folded at compile
time into Python values; `gradients` makes one `grad` node per target.
"""
from __future__ import annotations

from ..errors import ArgumentError, DTypeError
from ..ir import Node, depends_on
from ..types import is_float
from .nn import EPSILON
from .registry import Op


def _build_gradients(builder, call, args):
    loss, targets = args["loss"], args["variables"]
    if isinstance(targets, Node):
        targets = [targets]  # tf.gradients takes one tensor too, and still returns a list
    if not is_float(loss.dtype):
        raise DTypeError(f"gradients: the loss must be floating point, but {call.label('loss')} "
                         f"is {loss.type}", call.arg_span("loss"))
    out = []
    for i, target in enumerate(targets):
        if not is_float(target.dtype):
            raise DTypeError(f"gradients: cannot differentiate with respect to an integer tensor: "
                             f"{call.label('variables', i)} is {target.type}",
                             call.arg_span("variables", i))
        if not depends_on(loss, target):
            builder.warn(f"gradients: the loss does not depend on {call.label('variables', i)}; "
                         f"its gradient is zeros", call.arg_span("variables", i))
            out.append(builder.make_node("zeros", {"shape": target.shape, "dtype": target.dtype}, call)
                       if target.type.is_static()
                       else builder.make_node("zeros_like", {"x": target, "dtype": None}, call))
            continue
        out.append(builder.graph.make("grad", (loss, *targets), {"index": i}, span=call.span))
    return out


def _build_int_shape(builder, call, args):
    return tuple(args["x"].shape)


def _build_ndim(builder, call, args):
    return args["x"].type.ndim


def _build_count_params(builder, call, args):
    x = args["x"]
    size = x.type.size()
    if size is None:
        raise ArgumentError(f"count_params: {call.label('x')} is {x.type}, whose size is not known "
                            f"until run time", call.arg_span("x"))
    return size


def _static(signature, build, doc, example, tensors=("x",), tensor_lists=()):
    return Op(signature, infer=None, lower=None, build=build, doc=doc, example=example,
              tensors=tensors, tensor_lists=tensor_lists, category="static")


OPS = [
    Op("gradients(loss, variables)", infer=None, lower=None, build=_build_gradients,
       tensors=("loss",), tensor_lists=("variables",), category="gradients",
       doc="The gradients of sum(loss) with respect to each tensor in `variables`, as a list.",
       example="x = [1.0, 2.0, 3.0]\ndx, = gradients(sum(x * x), [x])\noutput dx"),
    _static("int_shape(x)", _build_int_shape, "The static shape of a tensor as a tuple (None for unknown dims).",
            "output int_shape(zeros((2, 3)))"),
    _static("ndim(x)", _build_ndim, "The number of axes of a tensor.", "output ndim(zeros((2, 3)))"),
    _static("count_params(x)", _build_count_params, "The number of elements of a tensor.",
            "output count_params(zeros((2, 3)))"),
    _static("floatx()", lambda b, c, a: b.floatx, "The default float dtype, as a string.",
            "output cast(1, floatx())", tensors=()),
    _static("image_data_format()", lambda b, c, a: b.image_data_format,
            "The data format the image ops use when data_format is None: 'channels_last' "
            "unless set.",
            "output conv2d(ones((1, 2, 2, 1)), ones((1, 1, 1, 1)), data_format=image_data_format())",
            tensors=()),
    _static("epsilon()", lambda b, c, a: EPSILON, "The fuzz factor used in numeric expressions (1e-7).",
            "output epsilon()", tensors=()),
]
