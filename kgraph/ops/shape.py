"""Shape ops: reshape, permute, expand/squeeze, flatten, concatenate, stack, tile,
repeat, reverse, one_hot, gather and the run-time `shape`.

Shape rules carry unknown (None) and named dimensions through wherever the result
is determined by them: reshape((batch, 3, 4), (-1, 12)) is (batch, 12).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ShapeError
from ..types import TensorType, dims_agree, is_int, promote
from .registry import Op, OpError, axis_arg


def merge_dims(a, b):
    """The dim of two dims that agree: a known size wins, then a name, then None."""
    if a == b or b is None:
        return a
    if a is None:
        return b
    if isinstance(a, int):
        return a
    return b if isinstance(b, int) else None  # two different names: only the run time knows


def _ints(value, what: str) -> tuple[int, ...]:
    value = (value,) if isinstance(value, int) else value
    if not isinstance(value, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise OpError(f"{what} must be an int or a tuple of ints, got {value!r}", kind="argument")
    return value


def _scaled(d, times: int):
    """A dim repeated `times` times: unknown stays unknown unless times is 0 or 1."""
    if isinstance(d, int) or times == 0:
        return d * times if isinstance(d, int) else 0
    return d if times == 1 else None


def one_axis(axis, ndim: int) -> int:
    """A single axis, normalised to 0..ndim-1."""
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise OpError(f"axis must be an int, got {axis!r}", kind="argument")
    return axis_arg(axis, ndim)[0]


def _promoted(dtypes) -> str:
    dtype = str(dtypes[0])
    for d in dtypes[1:]:
        dtype = promote(dtype, str(d))
    return dtype


# ---- reshape and friends -------------------------------------------------------------

def reshaped(shape: tuple, target: tuple) -> tuple:
    """The static result of reshaping `shape` into `target` (ints, at most one -1)."""
    if sum(1 for d in target if d == -1) > 1 or any(d < -1 for d in target):
        raise OpError(f"the new shape {target} may only have one -1 and no other "
                      f"negative size", kind="argument")
    known_x = int(np.prod([d for d in shape if isinstance(d, int)], dtype=np.int64))
    unknown_x = [d for d in shape if not isinstance(d, int)]
    known_t = int(np.prod([d for d in target if d != -1], dtype=np.int64))
    if -1 in target:
        if known_t == 0:
            raise OpError(f"cannot infer the -1 of {target} for a size-0 shape", kind="argument")
        if unknown_x:
            # With one unknown dim and everything else equal, -1 is that very dim (batch_flatten).
            fill = unknown_x[0] if len(unknown_x) == 1 and known_x == known_t else None
        elif known_x % known_t:
            raise OpError(f"cannot reshape into shape {target}: {known_x} elements are not a "
                          f"multiple of {known_t}: {{0}}")
        else:
            fill = known_x // known_t
        return tuple(fill if d == -1 else d for d in target)
    if (not unknown_x and known_x != known_t) or (unknown_x and (known_t % known_x if known_x else known_t)):
        raise OpError(f"cannot reshape into shape {target} ({known_t} elements), "
                      f"{'a multiple of ' * bool(unknown_x)}{known_x} elements: {{0}}")
    return target


def _reshape_type(types, attrs):
    (x,) = types
    return TensorType(x.dtype, reshaped(x.shape, _ints(attrs["shape"], "shape")))


def _lower_reshape(ctx, node, inputs):
    (x,) = inputs
    target = _ints(node.attr("shape"), "shape")
    known = int(np.prod([d for d in target if d != -1], dtype=np.int64))
    if not (x.size % known == 0 if -1 in target else x.size == known):
        # Only a dim unknown at compile time gets here: the static check could not see it.
        raise ShapeError(f"reshape: cannot reshape a value of shape {tuple(x.shape)} into shape "
                         f"{target} ({x.size} elements)", node.span)
    return jnp.reshape(x, target)


def _batch_flatten_type(types, attrs):
    (x,) = types
    if x.ndim == 0:
        return TensorType(x.dtype, (1, 1))
    return TensorType(x.dtype, (x.shape[0], reshaped(x.shape[1:], (-1,))[0]))


def _lower_batch_flatten(x):
    return jnp.reshape(x, (x.shape[0] if x.ndim else 1, int(np.prod(x.shape[1:], dtype=np.int64))))


def _permute_type(types, attrs):
    (x,) = types
    pattern = _ints(attrs["pattern"], "pattern")
    if sorted(pattern) != list(range(x.ndim)):
        raise OpError(f"pattern {pattern} is not a permutation of the axes: {{0}}")
    return TensorType(x.dtype, tuple(x.shape[i] for i in pattern))


def _expand_axis(axis, ndim: int) -> int:
    if not isinstance(axis, int) or isinstance(axis, bool) or not -ndim - 1 <= axis <= ndim:
        raise OpError(f"axis {axis!r} is out of range: {{0}}")
    return axis if axis >= 0 else axis + ndim + 1


def _expand_type(types, attrs):
    (x,) = types
    axis = _expand_axis(attrs["axis"], x.ndim)
    return TensorType(x.dtype, x.shape[:axis] + (1,) + x.shape[axis:])


def _squeeze_type(types, attrs):
    (x,) = types
    if x.ndim == 0:
        raise OpError("needs a tensor of rank 1 or more: {0}")
    axis = one_axis(attrs["axis"], x.ndim)
    if isinstance(x.shape[axis], int) and x.shape[axis] != 1:
        raise OpError(f"cannot squeeze axis {attrs['axis']}, of size {x.shape[axis]}: {{0}}")
    return TensorType(x.dtype, x.shape[:axis] + x.shape[axis + 1:])


# ---- joining ---------------------------------------------------------------------------

def _joined_shape(types, axis=None) -> list:
    """The merged shape of tensors that must agree on every dim except `axis`."""
    if not types:
        raise OpError("needs at least one tensor", kind="argument")
    shape = list(types[0].shape)
    for i, t in enumerate(types[1:], 1):
        if t.ndim != len(shape) or not all(dims_agree(a, b) for j, (a, b) in enumerate(zip(shape, t.shape))
                                           if j != axis):
            where = "" if axis is None else f" except along axis {axis}"
            raise OpError("shapes must agree%s: {0}, {%d}" % (where, i))
        shape = [a if j == axis else merge_dims(a, b) for j, (a, b) in enumerate(zip(shape, t.shape))]
    return shape


def _concat_axis(axis, ndim: int) -> int:
    if ndim == 0:
        raise OpError("cannot concatenate scalars (use stack): {0}")
    return one_axis(axis, ndim)  # Keras: axis %= rank


def _concatenate_type(types, attrs):
    axis = _concat_axis(attrs["axis"], types[0].ndim if types else 1)
    shape = _joined_shape(types, axis)
    sizes = [t.shape[axis] for t in types]
    shape[axis] = sum(sizes) if all(isinstance(d, int) for d in sizes) else None
    return TensorType(_promoted([t.dtype for t in types]), tuple(shape))


def _lower_concatenate(*tensors, axis):
    dtype = _promoted([t.dtype for t in tensors])
    return jnp.concatenate([t.astype(dtype) for t in tensors], axis=_concat_axis(axis, tensors[0].ndim))


def _stack_axis(axis, ndim: int) -> int:
    if not isinstance(axis, int) or isinstance(axis, bool) or not -ndim - 1 <= axis <= ndim:
        raise OpError(f"axis {axis!r} is out of range for stacking tensors of rank {ndim}")
    return axis % (ndim + 1)


def _stack_type(types, attrs):
    shape = _joined_shape(types)
    axis = _stack_axis(attrs["axis"], len(shape))
    return TensorType(_promoted([t.dtype for t in types]), tuple(shape[:axis] + [len(types)] + shape[axis:]))


def _lower_stack(*tensors, axis):
    dtype = _promoted([t.dtype for t in tensors])
    return jnp.stack([t.astype(dtype) for t in tensors], axis=_stack_axis(axis, tensors[0].ndim))


def _build_stack(builder, site, args):
    x = args["x"]
    if isinstance(x, list):
        return builder.make_node("stack", args, site)
    # One tensor is the sequence of its slices along axis 0 (tf.stack iterates it), so
    # stacking them along `axis` moves axis 0 there.
    if x.type.ndim == 0:
        raise ShapeError(f"stack: {site.label('x')} is {x.type}; a single tensor is stacked as "
                         f"the sequence of its slices, so it needs rank 1 or more", site.arg_span("x"))
    try:
        axis = _stack_axis(args["axis"], x.type.ndim - 1)
    except OpError as e:
        raise ShapeError(f"stack: {e.template}: {site.label('x')} is {x.type}", site.span) from None
    if axis == 0:
        return x
    pattern = tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, x.type.ndim))
    return builder.make_node("permute_dimensions", {"x": x, "pattern": pattern}, site)


# ---- repetition ------------------------------------------------------------------------

def _tile_type(types, attrs):
    (x,) = types
    n = _ints(attrs["n"], "n")
    if len(n) != x.ndim or any(m < 0 for m in n):
        raise OpError(f"n={attrs['n']!r} must give one non-negative multiple per axis: {{0}}")
    return TensorType(x.dtype, tuple(_scaled(d, m) for d, m in zip(x.shape, n)))


def _repeat_elements_type(types, attrs):
    (x,) = types
    rep = attrs["rep"]
    if not isinstance(rep, int) or isinstance(rep, bool) or rep < 0:
        raise OpError(f"rep must be a non-negative int, got {rep!r}", kind="argument")
    if x.ndim == 0:
        raise OpError("needs a tensor of rank 1 or more: {0}")
    axis = one_axis(attrs["axis"], x.ndim)
    return TensorType(x.dtype, tuple(_scaled(d, rep) if i == axis else d for i, d in enumerate(x.shape)))


def _repeat_type(types, attrs):
    (x,) = types
    n = attrs["n"]
    if x.ndim != 2:
        raise OpError("expects a 2-D tensor (samples, dim): {0}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise OpError(f"n must be a non-negative int, got {n!r}", kind="argument")
    return TensorType(x.dtype, (x.shape[0], n, x.shape[1]))


def _reverse_type(types, attrs):
    (x,) = types
    if x.ndim == 0:
        raise OpError("needs a tensor of rank 1 or more: {0}")
    axis_arg(_ints(attrs["axes"], "axes"), x.ndim)
    return x


# ---- lookups ---------------------------------------------------------------------------

def _one_hot_type(types, attrs):
    (indices,) = types
    n = attrs["num_classes"]
    if not is_int(indices.dtype):
        raise OpError("indices must be integers, but {0}", kind="dtype")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise OpError(f"num_classes must be a non-negative int, got {n!r}", kind="argument")
    return TensorType("float32", indices.shape + (n,))  # tf.one_hot's default dtype, not floatx()


def _gather_type(types, attrs):
    reference, indices = types
    if not is_int(indices.dtype):
        raise OpError("indices must be integers, but {1}", kind="dtype")
    if reference.ndim == 0:
        raise OpError("needs a reference of rank 1 or more: {0}")
    if reference.shape[0] == 0 and indices.size() != 0:  # NumPy raises an IndexError too
        raise OpError("cannot gather from an empty axis: {0}")
    return TensorType(reference.dtype, indices.shape + reference.shape[1:])


def _lower_gather(reference, indices):
    # tf.gather raises on a bad index (on CPU); here one reads as the fill value (NaN for floats).
    n = reference.shape[0]
    indices = jnp.where(indices < 0, n, indices)
    return jnp.take(reference, indices, axis=0, mode="fill")


def _build_shape(builder, site, args):
    x = args["x"]
    if x.type.is_static():
        return builder.constant(np.asarray(x.shape, dtype=np.int32))
    return builder.make_node("shape", args, site)


OPS = [
    Op("reshape(x, shape)", infer=_reshape_type, lower=None, lower_node=_lower_reshape,
       doc="Reshapes a tensor to a shape of ints, at most one of them -1 (inferred).",
       example="x = [[1, 2, 3], [4, 5, 6]]\noutput reshape(x, (3, 2)), reshape(x, (-1,))",
       category="shape"),
    Op("permute_dimensions(x, pattern)", infer=_permute_type,
       lower=lambda x, *, pattern: jnp.transpose(x, pattern),
       doc="Permutes the axes of a tensor: output axis i is input axis pattern[i].",
       example="x = zeros((2, 3, 4))\noutput int_shape(permute_dimensions(x, (0, 2, 1)))",
       category="shape"),
    Op("expand_dims(x, axis=-1)", infer=_expand_type,
       lower=lambda x, *, axis: jnp.expand_dims(x, _expand_axis(axis, x.ndim)),
       doc="Adds a 1-sized axis at index `axis`.",
       example="output expand_dims([1, 2, 3]), expand_dims([1, 2, 3], 0)", category="shape"),
    Op("squeeze(x, axis)", infer=_squeeze_type, lower=lambda x, *, axis: jnp.squeeze(x, axis),
       doc="Removes the 1-sized axis `axis`.", example="output squeeze([[1, 2, 3]], 0)",
       category="shape"),
    Op("flatten(x)", infer=lambda t, a: TensorType(t[0].dtype, reshaped(t[0].shape, (-1,))),
       lower=lambda x: jnp.reshape(x, (-1,)),
       doc="Flattens a tensor to 1-D.", example="output flatten([[1, 2], [3, 4]])", category="shape"),
    Op("batch_flatten(x)", infer=_batch_flatten_type, lower=_lower_batch_flatten,
       doc="Flattens each sample of a batch: (batch, d1, d2, ...) → (batch, d1 * d2 * ...).",
       example="output int_shape(batch_flatten(ones((2, 3, 4, 5))))", category="shape"),
    Op("concatenate(tensors, axis=-1)", infer=_concatenate_type, lower=_lower_concatenate,
       tensors=(), tensor_lists=("tensors",),
       doc="Concatenates a list of tensors along an axis.",
       example="a = [[1, 2, 3], [4, 5, 6]]\noutput concatenate([a, a]), concatenate([a, a], axis=0)",
       category="shape"),
    Op("stack(x, axis=0)", infer=_stack_type, lower=_lower_stack, tensors=(), tensor_lists=("x",),
       build=_build_stack,
       doc="Stacks a list of rank-R tensors into a rank R+1 tensor (one tensor is the list of its "
           "slices along axis 0).",
       example="a = [[1, 2], [3, 4]]\nb = [[10, 20], [30, 40]]\noutput stack([a, b]), stack([a, b], axis=-1)",
       category="shape"),
    Op("tile(x, n)", infer=_tile_type, lower=lambda x, *, n: jnp.tile(x, _ints(n, "n")),
       doc="Tiles x: n holds one multiple per axis (an int for a 1-D x).",
       example="output tile([[1, 2]], (2, 3)), tile([1, 2], 2)", category="shape"),
    Op("repeat_elements(x, rep, axis)", infer=_repeat_elements_type,
       lower=lambda x, *, rep, axis: jnp.repeat(x, rep, axis=axis),
       doc="Repeats the elements of a tensor along an axis, like numpy.repeat.",
       example="output repeat_elements([1, 2, 3], rep=2, axis=0)", category="shape"),
    Op("repeat(x, n)", infer=_repeat_type, lower=lambda x, *, n: jnp.repeat(x[:, None, :], n, axis=1),
       doc="Repeats a 2-D tensor: (samples, dim) → (samples, n, dim).",
       example="output repeat([[1, 2], [3, 4]], 2)", category="shape"),
    Op("reverse(x, axes)", infer=_reverse_type,
       lower=lambda x, *, axes: jnp.flip(x, axis_arg(_ints(axes, "axes"), x.ndim)),
       doc="Reverses a tensor along the given axes (an int or a tuple).",
       example="output reverse([[1, 2], [3, 4]], 1), reverse([[1, 2], [3, 4]], (0, 1))",
       category="shape"),
    Op("one_hot(indices, num_classes)", infer=_one_hot_type, tensors=("indices",),
       lower=lambda indices, *, num_classes: jax.nn.one_hot(indices, num_classes, dtype=jnp.float32),
       doc="The one-hot encoding of an integer tensor (float32; an index out of range is all zeros).",
       example="output one_hot([0, 2, 1], 3)", category="shape"),
    Op("gather(reference, indices)", infer=_gather_type, lower=_lower_gather,
       tensors=("reference", "indices"),
       doc="The slices reference[i] along axis 0 for each index i of an integer tensor.",
       example="x = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]\noutput gather(x, [2, 0]), gather(x, [[0], [1]])",
       category="shape"),
    Op("shape(x)", infer=lambda t, a: TensorType("int32", (t[0].ndim,)),
       lower=lambda x: jnp.asarray(x.shape, dtype=jnp.int32), build=_build_shape,
       doc="The run-time shape of a tensor, as an int32 tensor (a constant where the shape is static).",
       example="output shape(ones((2, 3)))", category="shape"),
]
