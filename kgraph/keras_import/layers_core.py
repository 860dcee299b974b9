"""Translators for the core layers: Dense, Activation, Dropout, shapes, Embedding, merges,
normalization. Each takes (writer, layer, inputs) and returns the layer's output tensors."""
from __future__ import annotations

import math

from ..ops import REGISTRY
from .activations import activation
from .model import Layer
from .writer import Tensor, Writer, literal


def weights(w: Writer, layer: Layer, roles: list[str], shapes: list[tuple] | None = None) -> dict[str, str]:
    """The layer's arrays as variables named `<layer>_<role>` (declared on the first call of
    a shared layer, reused after); a count or a shape that does not match is refused."""
    cache = w.layer_variables
    if layer.name in cache:
        return cache[layer.name]
    if len(layer.weights) != len(roles):
        raise layer.refuse(f"the file has {len(layer.weights)} weight arrays for it, its config "
                           f"says {len(roles)} ({', '.join(roles) or 'none'})")
    for i, (role, array) in enumerate(zip(roles, layer.weights)):
        want = shapes[i] if shapes else None
        if want is not None and tuple(array.shape) != tuple(want):
            raise layer.refuse(f"its {role} is {list(array.shape)} in the file, {list(want)} from its config")
    names = {role: w.variable(f"{layer.name}_{role}", array) for role, array in zip(roles, layer.weights)}
    cache[layer.name] = names
    return names


def need(layer: Layer, *ops: str) -> None:
    """Refuse the layer, naming the op, when this kgraph lacks an op its translation uses."""
    for op in ops:
        if op not in REGISTRY:
            raise layer.refuse(f"its translation needs the {op} op, which this kgraph does not have")


def one(layer: Layer, xs: list[Tensor]) -> Tensor:
    if len(xs) != 1:
        raise layer.refuse(f"it takes one input here, but is called on {len(xs)}")
    return xs[0]


def no_mask(layer: Layer, x: Tensor) -> None:
    if x.mask is not None:
        raise layer.refuse("its input carries a mask (from Embedding(mask_zero=True)), which this "
                           "layer would have to honour; kgraph translates masks for RNN layers only")


def channels_last(layer: Layer) -> None:
    fmt = layer.get("data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise layer.refuse(f"data_format='{fmt}': kgraph translates channels_last layers only")


def dense(w, layer, xs):
    x = one(layer, xs)
    units, use_bias = layer.get("units"), layer.get("use_bias", True)
    roles = ["kernel", "bias"] if use_bias else ["kernel"]
    v = weights(w, layer, roles, [(x.shape[-1], units), (units,)])
    expr = f"dot({x.name}, {v['kernel']})" + (f" + {v['bias']}" if use_bias else "")
    return [Tensor(w.let(layer.name, activation(w, layer, expr)), x.shape[:-1] + (units,), mask=x.mask)]


def activation_layer(w, layer, xs):
    x = one(layer, xs)
    return [Tensor(w.let(layer.name, activation(w, layer, x.name)), x.shape, mask=x.mask)]


def dropout(w, layer, xs):
    x = one(layer, xs)
    need(layer, "dropout", "in_train_phase")
    rate = float(layer.get("rate"))
    noise, seed = layer.get("noise_shape"), layer.get("seed")
    if noise is not None:
        raise layer.refuse(f"noise_shape={noise!r} is not translated")
    if rate == 0.0:
        return [x]
    seeded = f", seed={int(seed)}" if seed is not None else ""
    expr = f"in_train_phase(dropout({x.name}, {rate!r}{seeded}), {x.name})"
    return [Tensor(w.let(layer.name, expr), x.shape, mask=x.mask)]


def rescaling(w, layer, xs):
    x = one(layer, xs)
    scale, offset = layer.get("scale", 1.0), layer.get("offset", 0.0)
    if not all(isinstance(v, (int, float)) for v in (scale, offset)):
        raise layer.refuse("a scale or offset that is not a number is not translated")
    expr = f"{x.name} * {float(scale)!r}" + (f" + {float(offset)!r}" if offset else "")
    return [Tensor(w.let(layer.name, expr), x.shape, mask=x.mask)]


def flatten(w, layer, xs):
    x = one(layer, xs)
    no_mask(layer, x)
    channels_last(layer)
    rest = x.shape[1:]
    size = math.prod(rest) if None not in rest else None
    return [Tensor(w.let(layer.name, f"batch_flatten({x.name})"), (x.shape[0], size))]


def reshape(w, layer, xs):
    x = one(layer, xs)
    no_mask(layer, x)
    target = list(layer.get("target_shape"))
    if -1 in target:
        if None in x.shape[1:]:
            raise layer.refuse(f"target_shape={target} has a -1 and the input's shape "
                               f"{list(x.shape)} is not fully known")
        target[target.index(-1)] = math.prod(x.shape[1:]) // math.prod(d for d in target if d != -1)
    expr = f"reshape({x.name}, {literal(tuple([-1] + target))})"
    return [Tensor(w.let(layer.name, expr), (x.shape[0],) + tuple(target))]


def permute(w, layer, xs):
    x = one(layer, xs)
    no_mask(layer, x)
    dims = tuple(layer.get("dims"))
    pattern = (0,) + dims
    expr = f"permute_dimensions({x.name}, {literal(pattern)})"
    return [Tensor(w.let(layer.name, expr), tuple(x.shape[i] for i in pattern))]


def repeat_vector(w, layer, xs):
    x = one(layer, xs)
    no_mask(layer, x)
    n = int(layer.get("n"))
    return [Tensor(w.let(layer.name, f"repeat({x.name}, {n})"), (x.shape[0], n, x.shape[1]))]


def embedding(w, layer, xs):
    x = one(layer, xs)
    dim, size = layer.get("output_dim"), layer.get("input_dim")
    v = weights(w, layer, ["embeddings"], [(size, dim)])
    tokens = x.name if x.dtype.startswith("int") else f"cast({x.name}, 'int32')"
    mask = None
    out = w.let(layer.name, f"gather({v['embeddings']}, {tokens})")
    if layer.get("mask_zero", False):
        mask = w.let(f"{layer.name}_mask", f"not_equal({x.name}, 0)")
    return [Tensor(out, x.shape + (dim,), mask=mask)]


def _broadcast(layer: Layer, shapes: list[tuple]) -> tuple:
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for dims in zip(*padded):
        known = {d for d in dims if d not in (None, 1)}
        if len(known) > 1:
            raise layer.refuse(f"its inputs' shapes {shapes} do not broadcast")
        out.append(known.pop() if known else (None if None in dims else 1))
    return tuple(out)


def merge(template: str):
    """Add, Subtract, Multiply, Average, Maximum, Minimum: one expression over the inputs."""
    def translate(w, layer, xs):
        if len(xs) < 2 or (layer.cls == "Subtract" and len(xs) != 2):
            raise layer.refuse(f"it is called on {len(xs)} inputs")
        for x in xs:
            no_mask(layer, x)
        names = [x.name for x in xs]
        if template == "+":
            expr = " + ".join(names)
        elif template == "-":
            expr = f"{names[0]} - {names[1]}"
        elif template == "*":
            expr = " * ".join(names)
        elif template == "mean":
            expr = f"({' + '.join(names)}) / {len(names)}"
        else:
            expr = names[0]
            for name in names[1:]:
                expr = f"{template}({expr}, {name})"
        return [Tensor(w.let(layer.name, expr), _broadcast(layer, [x.shape for x in xs]))]
    return translate


def concatenate(w, layer, xs):
    axis = int(layer.get("axis", -1))
    for x in xs:
        no_mask(layer, x)
    rank = xs[0].ndim
    a = axis % rank
    sizes = [x.shape[a] for x in xs]
    shape = list(xs[0].shape)
    shape[a] = None if None in sizes else sum(sizes)
    expr = f"concatenate([{', '.join(x.name for x in xs)}], axis={axis})"
    return [Tensor(w.let(layer.name, expr), tuple(shape))]


def _axes(layer: Layer, ndim: int) -> list[int]:
    axis = layer.get("axis", -1)
    axes = sorted(a % ndim for a in (axis if isinstance(axis, list) else [axis]))
    if axes != list(range(ndim - len(axes), ndim)) or 0 in axes:
        raise layer.refuse(f"axis={axis!r}: kgraph translates normalization over the last axes only")
    return axes


def layer_normalization(w, layer, xs):
    x = one(layer, xs)
    axes = _axes(layer, x.ndim)
    eps, center, scale = float(layer.get("epsilon", 1e-3)), layer.get("center", True), layer.get("scale", True)
    feature = tuple(x.shape[a] for a in axes)
    roles = (["gamma"] if scale else []) + (["beta"] if center else [])
    v = weights(w, layer, roles, [feature] * len(roles))
    ax = axes[0] if len(axes) == 1 else tuple(axes)
    ax = -1 if ax == x.ndim - 1 else ax
    expr = (f"({x.name} - mean({x.name}, axis={literal(ax)}, keepdims=True)) / "
            f"sqrt(var({x.name}, axis={literal(ax)}, keepdims=True) + {eps!r})")
    expr += f" * {v['gamma']}" if scale else ""
    expr += f" + {v['beta']}" if center else ""
    return [Tensor(w.let(layer.name, expr), x.shape, mask=x.mask)]


TRANSLATORS = {
    "Dense": dense,
    "Activation": activation_layer,
    "Dropout": dropout,
    "Rescaling": rescaling,
    "Flatten": flatten,
    "Reshape": reshape,
    "Permute": permute,
    "RepeatVector": repeat_vector,
    "Embedding": embedding,
    "Add": merge("+"),
    "Subtract": merge("-"),
    "Multiply": merge("*"),
    "Average": merge("mean"),
    "Maximum": merge("maximum"),
    "Minimum": merge("minimum"),
    "Concatenate": concatenate,
    "LayerNormalization": layer_normalization,
}
