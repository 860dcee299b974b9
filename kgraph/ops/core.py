"""The ops every program has: leaves, constants, indexing, gradients, printing."""
from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ShapeError
from ..ir import depends_on
from ..sharding import tracing_on_mesh
from ..types import TensorType, is_float
from .registry import Op, OpError


def _leaf_type(types, attrs):
    raise OpError("leaves are made with an explicit type")  # never inferred


def _lower_const(*, value):
    return jnp.asarray(value.array)


# ---- indexing -----------------------------------------------------------------
# An index is a tuple of items: an int, None (a new axis), Ellipsis, or
# ("slice", start, stop, step) with ints or None.

def _getitem_type(types, attrs):
    (x,), index = types, attrs["index"]
    if not isinstance(index, tuple):  # getitem(x, 3) written as a call: x[3] is the way
        raise OpError(f"index must be a tuple of indices (write x[i, j]), got {index!r}",
                      kind="argument")
    n_real = sum(1 for it in index if it is not None and it is not Ellipsis)
    if sum(1 for it in index if it is Ellipsis) > 1:
        raise OpError("an index can only have a single ellipsis ('...')", kind="argument")
    if n_real > x.ndim:
        raise OpError(f"too many indices: {n_real} for {{0}}")
    shape, axis = [], 0
    for it in _expanded(index, x.ndim):
        if it is None:
            shape.append(1)
            continue
        dim = x.shape[axis]
        if isinstance(it, int):
            if isinstance(dim, int) and not -dim <= it < dim:
                raise OpError(f"index {it} is out of bounds for axis {axis} with size {dim}: {{0}}")
        else:
            _, start, stop, step = it
            if step == 0:
                raise OpError("slice step cannot be zero", kind="argument")
            if isinstance(dim, int):
                shape.append(len(range(*slice(start, stop, step).indices(dim))))
            elif start is None and stop is None and step in (None, 1):
                shape.append(dim)
            else:
                shape.append(None)
        axis += 1
    return TensorType(x.dtype, tuple(shape))


def _expanded(index, ndim: int) -> list:
    """The index with its ellipsis and the trailing axes written out as full slices."""
    n_real = sum(1 for it in index if it is not None and it is not Ellipsis)
    items = []
    for it in index:
        if it is Ellipsis:
            items += [("slice", None, None, None)] * (ndim - n_real)
        else:
            items.append(it)
    return items + [("slice", None, None, None)] * (ndim - sum(1 for it in items if it is not None))


def _to_index(index):
    out = []
    for it in index:
        if isinstance(it, tuple):
            out.append(slice(it[1], it[2], it[3]))
        else:
            out.append(it)
    return tuple(out)


def _lower_getitem(x, *, index):
    # A dimension unknown at compile time is known here (jit traces each new shape), so an
    # integer index past it is NumPy's IndexError, not XLA's clamp; checked while tracing,
    # it costs nothing at run time. (An exported program's symbolic dims cannot be checked.)
    axis = 0
    for it in _expanded(index, x.ndim):
        if it is None:
            continue
        size = x.shape[axis]
        if isinstance(it, int) and isinstance(size, int) and not -size <= it < size:
            raise ShapeError(f"getitem: index {it} is out of bounds for axis {axis} with size {size} "
                             f"(a size known only at run time)")
        axis += 1
    return x[_to_index(index)]


# ---- gradients ----------------------------------------------------------------

def _grad_type(types, attrs):
    loss, targets = types[0], types[1:]
    target = targets[attrs["index"]]
    if not is_float(loss.dtype):
        raise OpError("gradients: the loss must be floating point, but {0}", kind="dtype")
    if not is_float(target.dtype):
        raise OpError("gradients: cannot differentiate with respect to an integer tensor: "
                      "{%d}" % (attrs["index"] + 1), kind="dtype")
    return target


def _gradients(ctx, loss, targets, values):
    """The gradients of sum(loss), and the loss as the differentiated forward pass computed it."""
    def forward(*vals):
        return ctx.evaluate_with(loss, dict(zip(targets, vals)))

    value, pullback = jax.vjp(forward, *values)
    return value, pullback(jnp.ones_like(value))


def _lower_grad(ctx, node, inputs):
    """The gradients of one (loss, targets) group are computed together and shared.

    As tf.gradients, each target's gradient counts every path from it to the loss:
    where one target is computed from another, overriding both at once would cut
    the paths through the inner one, so such groups are differentiated one target
    at a time.
    """
    key = ("grad", node.srcs)
    if key not in ctx.memo:
        loss, targets = node.srcs[0], node.srcs[1:]
        nested = any(t is not u and depends_on(t, u) for t in targets for u in targets)
        if nested:
            ctx.memo[key] = [_gradients(ctx, loss, [t], [v])[1][0] for t, v in zip(targets, inputs[1:])]
        else:
            value, ctx.memo[key] = _gradients(ctx, loss, targets, inputs[1:])
            if loss.id in ctx.env and not loss.is_leaf:
                # Later uses of the loss read the forward pass the gradient ran, so XLA can drop
                # the first one (it does not merge two equal loops, a scan's say, by itself).
                ctx.env[loss.id] = value
    return ctx.memo[key][node.attr("index")]


def _lower_print(x, *, message, uid):
    def show(value):
        print(f"{message}{np.asarray(value)}", file=sys.stdout, flush=True)

    # In program order on one device; JAX orders effects on no more than one.
    jax.debug.callback(show, x, ordered=not tracing_on_mesh())
    return x


OPS = [
    Op("placeholder(name)", infer=_leaf_type, lower=None, tensors=(), foldable=False, leaf=True,
       doc="A value fed at run time.", category="internal"),
    Op("variable(name)", infer=_leaf_type, lower=None, tensors=(), foldable=False, leaf=True,
       doc="A variable: a value kept by the program across runs.", category="internal"),
    Op("const(value)", infer=_leaf_type, lower=_lower_const, tensors=(),
       host=lambda *, value: np.array(value.array),
       doc="A compile-time constant.", category="internal"),
    Op("getitem(x, index)", infer=_getitem_type, lower=_lower_getitem,
       doc="NumPy basic indexing: x[0], x[:, 1:3], x[..., -1], x[::2], x[:, None].",
       example="x = [[1, 2, 3], [4, 5, 6]]\noutput x[:, 1:], x[..., -1], x[::-1, None]",
       category="core"),
    Op("grad(loss, targets, index)", infer=_grad_type, lower=None, lower_node=_lower_grad,
       tensors=("loss",), tensor_lists=("targets",), foldable=False,
       doc="One gradient of a `gradients` call (an IR op; write `gradients(loss, [v...])`).",
       category="internal"),
    Op("stop_gradient(variables)", infer=lambda t, a: t[0], lower=jax.lax.stop_gradient,
       tensors=("variables",),
       doc="Returns `variables` unchanged, but no gradient flows through it.",
       example="x = [1.0, 2.0]\ny = stop_gradient(x) * x\noutput gradients(sum(y), [x])",
       category="gradients"),
    Op("print_tensor(x, message='')", infer=lambda t, a: t[0], lower=_lower_print,
       foldable=False, unique=True,
       doc="Returns `x`, and prints `message` and its value every time the program runs.",
       example="x = [1.0, 2.0]\noutput print_tensor(x * 2, message='x * 2 = ')",
       category="debugging"),
]
