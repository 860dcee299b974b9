"""Random tensors: normal, uniform, truncated normal, Bernoulli, and variables' initial values.

Each Keras function is up to three IR ops. `random_normal` (and its siblings) is the
unseeded form with a static shape: `unique` (never merged by CSE, never folded)
and lowered with `lower_node`, which folds the node's `uid` into the interpreter's
per-run key (`Interpreter.rng`, set by `Program.run`), so every run draws fresh
values. With a `seed`, the front end makes `random_normal_seeded` instead: a pure
function of its attributes, so it may be constant-folded and merged.

A shape known only at run time (`random_uniform(shape(x))`, `(shape(x)[0], 10)`)
makes `random_normal_shaped`: its inputs are the tensors whose dims the shape
reads, and its `dims` attribute says which (an int, or (input, axis)); the
lowering reads the dims off the inputs, where JAX knows them. It draws from its
seed when it has one (the same values every run), else from the run's key.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from ..errors import ArgumentError
from ..ir import Node
from ..types import TensorType, is_float
from ..values import is_number
from .creation import static_shape
from .registry import Op, OpError
from .training import draw_key


def _check(attrs) -> None:
    if not is_float(attrs["dtype"]):
        raise OpError(f"random values must have a floating-point dtype, got {attrs['dtype']}",
                      kind="dtype")
    seed = attrs["seed"]
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise OpError(f"seed must be an int, got {seed!r}", kind="argument")
    for name, value in attrs.items():  # the distribution's parameters: mean, stddev, low, p, ...
        if name not in NOT_PARAMETERS and not is_number(value):
            raise OpError(f"{name} must be a number known at compile time, got {value!r}",
                          kind="argument")


NOT_PARAMETERS = frozenset({"shape", "dtype", "seed", "dims", "of", "uid", "has_of"})


def _random_type(types, attrs):
    _check(attrs)
    return TensorType(attrs["dtype"], static_shape(attrs["shape"]))


def _shaped_type(types, attrs):
    _check(attrs)
    return TensorType(attrs["dtype"], tuple(d if isinstance(d, int) else types[d[0]].shape[d[1]]
                                            for d in attrs["dims"]))


# ---- the distributions: draw(key, shape, sample_dtype, *parameters) -------------------------

def _normal(key, shape, sample_dtype, mean, stddev):
    return jax.random.normal(key, shape, sample_dtype) * stddev + mean


def _uniform(key, shape, sample_dtype, low, high):
    return jax.random.uniform(key, shape, sample_dtype, low, high)


def _truncated_normal(key, shape, sample_dtype, mean, stddev):
    """Within two standard deviations of the mean (tf.random.truncated_normal re-draws the rest)."""
    return jax.random.truncated_normal(key, -2.0, 2.0, shape, sample_dtype) * stddev + mean


def _bernoulli(key, shape, sample_dtype, p):
    """tf_keras: where(uniform(shape) <= p, 1, 0)."""
    return (jax.random.uniform(key, shape, sample_dtype) <= p).astype(sample_dtype)


# ---- run-time shapes ---------------------------------------------------------------------

def _index_of(node: Node):
    """getitem(s, i) with one int index: i, else None."""
    index = node.attr("index")
    if node.op == "getitem" and isinstance(index, tuple) and len(index) == 1 and isinstance(index[0], int):
        return index[0]
    return None


def _dims_of(value, sources: list) -> list:
    """A shape value's dims: ints, or (source number, axis) for a dim read off a tensor."""
    def source(node):
        if node not in sources:
            sources.append(node)
        return sources.index(node)

    if isinstance(value, Node):
        if value.op == "shape":
            x = value.srcs[0]
            return [(source(x), i) for i in range(x.type.ndim)]
        if value.op == "const" and value.type.ndim == 1 and value.dtype.startswith("int"):
            return [int(v) for v in value.attr("value").array]
        raise ValueError
    if isinstance(value, (tuple, list)):
        dims = []
        for item in value:
            if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
                dims.append(item)
            elif isinstance(item, Node) and item.op == "const" and item.type.ndim == 0:
                dims.append(int(item.attr("value").array))
            elif isinstance(item, Node) and _index_of(item) is not None and item.srcs[0].op == "const":
                dims.append(int(item.srcs[0].attr("value").array[_index_of(item)]))  # a static shape's
            elif isinstance(item, Node) and _index_of(item) is not None and item.srcs[0].op == "shape":
                x = item.srcs[0].srcs[0]
                dims.append((source(x), _index_of(item) % x.type.ndim))
            else:
                raise ValueError
        return dims
    raise ValueError


def _is_runtime(shape) -> bool:
    return isinstance(shape, Node) or (isinstance(shape, (tuple, list))
                                       and any(isinstance(d, Node) for d in shape))


def _build_runtime_shape(builder, site, name, args):
    sources: list = []
    try:
        dims = _dims_of(args["shape"], sources)
    except ValueError:
        raise ArgumentError(f"{name}: shape must be a tuple of ints, shape(x), or a tuple of ints "
                            f"and entries of shape(x) such as shape(x)[0]; got {site.label('shape')}",
                            site.arg_span("shape")) from None
    bound = {k: v for k, v in args.items() if k != "shape"}
    if not sources:
        return builder.make_node(name if args["seed"] is None else name + "_seeded",
                                 dict(bound, shape=tuple(dims)), site)
    return builder.make_node(name + "_shaped", dict(bound, of=sources, dims=tuple(dims)), site)


def _random_ops(signature, draw, doc, example, seeded_example, runtime=False, warning=None):
    """The unseeded op of `signature`, its seeded IR twin `<name>_seeded` and, with `runtime`,
    `<name>_shaped` for shapes known at run time."""
    name = signature[: signature.index("(")]
    params = signature[signature.index("(") + 1: -1].split(", ")
    rest = signature[len(name) + 1:]  # "shape, mean=0.0, ...)"
    names = [p.split("=")[0] for p in params[1:] if not p.startswith(("dtype", "seed"))]

    def sample(key, attrs, shape):
        dtype = attrs["dtype"]
        sample_dtype = jnp.float64 if dtype == "float64" else jnp.float32
        # As floats: a Python int past int32 (stddev=2**31) would overflow JAX's argument parsing.
        return draw(key, shape, sample_dtype, *(float(attrs[n]) for n in names)).astype(dtype)

    def lower_seeded(**attrs):
        return sample(jax.random.PRNGKey(attrs["seed"]), attrs, attrs["shape"])

    def lower_fresh(ctx, node, inputs):
        return sample(draw_key(ctx, node), node.kw, node.attr("shape"))

    def lower_shaped(ctx, node, inputs):
        shape = tuple(d if isinstance(d, int) else inputs[d[0]].shape[d[1]] for d in node.attr("dims"))
        return sample(draw_key(ctx, node), node.kw, shape)

    def build(builder, site, args):
        if warning:
            builder.warn(warning, site.span)
        if _is_runtime(args["shape"]):
            return _build_runtime_shape(builder, site, name, args)
        return builder.make_node(name if args["seed"] is None else name + "_seeded", args, site)

    ops = [Op(signature, infer=_random_type, lower=None, lower_node=lower_fresh, tensors=(),
              runtime=("shape",) if runtime else (), foldable=False, unique=True, build=build, doc=doc,
              example=example, category="creation"),
           Op(name + "_seeded(" + rest, infer=_random_type, lower=lower_seeded, tensors=(),
              category="internal", example=seeded_example,
              doc=f"{name} with a seed (an IR op; write `{name}(..., seed=0)`): the same values every run.")]
    if runtime:
        shaped = f"{name}_shaped(of, dims, " + ", ".join(params[1:]) + ")"
        ops.append(Op(shaped, infer=_shaped_type, lower=None, lower_node=lower_shaped, tensors=(),
                      tensor_lists=("of",), foldable=False, unique=True, category="internal",
                      example=f"x = ones((2, 3))\noutput {name}(shape(x), seed=0)",
                      doc=f"{name} of a shape known at run time (an IR op, made by `{name}(shape(x))` "
                          f"where x has a None dimension; this example's shape is static)."))
    return ops


OPS = [
    *_random_ops("random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None)", _normal,
                 "Values drawn from a normal distribution: fresh every run, or fixed by `seed`; the "
                 "shape may be known only at run time (shape(x)).",
                 "x = ones((4, 3))\noutput random_normal((2, 3), mean=0.0, stddev=1.0), "
                 "random_normal(shape(x))",
                 "output random_normal((2, 3), mean=0.0, stddev=1.0, seed=0)", runtime=True),
    *_random_ops("random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None)", _uniform,
                 "Values drawn uniformly from [minval, maxval): fresh every run, or fixed by `seed`; "
                 "the shape may be known only at run time (shape(x)).",
                 "x = ones((4, 3))\noutput random_uniform((2, 3)), random_uniform((shape(x)[0], 2), seed=1)",
                 "output random_uniform((2, 3), seed=1)", runtime=True),
    *_random_ops("truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None)",
                 _truncated_normal,
                 "Values from a normal distribution truncated to two standard deviations around the "
                 "mean (TF re-draws the others): fresh every run, or fixed by `seed`.",
                 "output truncated_normal((2, 3), stddev=0.5)",
                 "output truncated_normal((2, 3), seed=0)", runtime=True),
    *_random_ops("random_bernoulli(shape, p=0.0, dtype=None, seed=None)", _bernoulli,
                 "Ones with probability p and zeros otherwise (floats): fresh every run, or fixed by "
                 "`seed`.",
                 "output random_bernoulli((2, 4), p=0.5)", "output random_bernoulli((2, 4), p=0.5, seed=0)",
                 runtime=True),
    *_random_ops("random_binomial(shape, p=0.0, dtype=None, seed=None)", _bernoulli,
                 "The deprecated name of random_bernoulli (with tf_keras's deprecation warning).",
                 "output random_binomial((2, 4), p=0.5)", "output random_binomial((2, 4), p=0.5, seed=0)",
                 runtime=True, warning="random_binomial is deprecated, and will be removed in a future "
                                       "version. Please use random_bernoulli instead."),
    *_random_ops("random_normal_variable(shape, mean, scale, dtype=None, seed=None)", _normal,
                 "A variable's initial values from a normal distribution (deterministic for a seed).",
                 "output random_normal_variable((2, 2), mean=0.0, scale=1.0)",
                 "variable W = random_normal_variable((2, 2), mean=0.0, scale=1.0, seed=0)\noutput W"),
    *_random_ops("random_uniform_variable(shape, low, high, dtype=None, seed=None)", _uniform,
                 "A variable's initial values drawn uniformly from [low, high) (deterministic for a seed).",
                 "output random_uniform_variable((2, 2), low=-1.0, high=1.0)",
                 "variable W = random_uniform_variable((2, 2), low=-1.0, high=1.0, seed=0)\noutput W"),
]
