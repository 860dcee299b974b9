"""What an op is: one entry holding its whole story.

An `Op` has its Keras signature (argument names and defaults), which arguments are
tensors, its shape-and-dtype rule (`infer`), its JAX lowering (`lower`), whether it
may be constant-folded, its documentation and a runnable example. Front-end sugar
that is more than "make one node" (Keras's softmax-aware crossentropy, say) sits in
the same entry as `build`.
"""
from __future__ import annotations

import ast as pyast
from dataclasses import dataclass, field
from typing import Any, Callable

from ..types import DimMismatch, TensorType, broadcast_shapes, is_float, promote

REQUIRED = object()


class OpError(Exception):
    """A shape, dtype or argument problem found by an op's rule.

    The message may name operands as ``{0}``, ``{1}``...; the builder fills them in
    as "`x` is float32[None, 4]", using the source text of each argument.
    """

    def __init__(self, template: str, kind: str = "shape"):
        super().__init__(template)
        self.template = template
        self.kind = kind


@dataclass(frozen=True)
class Param:
    name: str
    default: Any = REQUIRED
    kind: str = "static"  # "tensor", "tensors" (a list of tensors), "function" or "static"

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def parse_signature(signature: str, tensors: tuple[str, ...], tensor_lists: tuple[str, ...],
                    functions: tuple[str, ...] = ()):
    """'sum(x, axis=None, keepdims=False)' → (name, params)."""
    fn = pyast.parse(signature.strip(), mode="eval").body
    assert isinstance(fn, pyast.Call), signature
    params = []
    for a in fn.args:
        params.append(a.id)
    defaults = {k.arg: pyast.literal_eval(k.value) for k in fn.keywords}
    out = []
    for name in params + list(defaults):
        kind = ("tensor" if name in tensors else "tensors" if name in tensor_lists
                else "function" if name in functions else "static")
        out.append(Param(name, defaults.get(name, REQUIRED), kind))
    return fn.func.id, tuple(out)


@dataclass(frozen=True)
class Op:
    signature: str
    infer: Callable[[list[TensorType], dict], TensorType] | None
    lower: Callable[..., Any] | None
    doc: str
    example: str = ""
    tensors: tuple[str, ...] = ("x",)
    tensor_lists: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()  # arguments that are function values (rnn's step_function)
    # Tensor arguments without a Keras default that may still be None (batch norm's gamma, beta).
    nullable: tuple[str, ...] = ()
    # Static arguments that may also be known only at run time (a random op's shape: shape(x)); the
    # op's `build` takes them as given, tensors included.
    runtime: tuple[str, ...] = ()
    foldable: bool = True
    elementwise: bool = False
    # Never merged with an equal-looking node (unseeded random draws, prints): the
    # builder gives each call its own `uid` attribute.
    unique: bool = False
    # Keras fills a `dtype=None` argument with floatx() for most ops; *_like ops keep x's dtype.
    dtype_none_is_floatx: bool = True
    # build(builder, call, args) -> value: front-end logic beyond making one node.
    build: Callable[..., Any] | None = None
    # lower_node(ctx, node, inputs) -> value: lowering that needs the interpreter.
    lower_node: Callable[..., Any] | None = None
    # host(**attrs) -> np.ndarray: an op without tensor inputs computed by NumPy, bit for bit
    # its lowering's value (a variable initialised with it needs no XLA compile; consteval.py).
    host: Callable[..., Any] | None = None
    category: str = ""
    # Facts the passes use, kept with the op rather than in sets beside the passes:
    commutative: bool = False  # op(x, y) == op(y, x): cse merges them, patterns match both orders
    positive: bool = False  # every value it produces is > 0 (where defined): log/sqrt rules use it
    # The activation a loss reads as its logits (Keras's _get_logits): the builder builds the
    # loss over the activation's input, with from_logits=True (nn.py).
    reads_logits: str | None = None
    leaf: bool = False  # a value a run is given (placeholder, variable): Node.is_leaf
    name: str = field(init=False)
    params: tuple[Param, ...] = field(init=False)

    def __post_init__(self):
        name, params = parse_signature(self.signature, self.tensors, self.tensor_lists, self.functions)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "params", params)

    @property
    def creates_nodes(self) -> bool:
        return self.infer is not None


# ---- helpers for shape and dtype rules ----------------------------------------

def elementwise_type(types: list[TensorType], dtype: str | None = None) -> TensorType:
    try:
        shape = broadcast_shapes(*(t.shape for t in types))
    except DimMismatch as e:
        operands = ", ".join("{%d}" % i for i in range(len(types)))
        raise OpError(f"shapes cannot be broadcast together: {operands} ({e})") from None
    if dtype is None:
        dtype = types[0].dtype
        for t in types[1:]:
            dtype = promote(dtype, t.dtype)
    return TensorType(dtype, shape)


def require_float(types: list[TensorType], what: str = "") -> None:
    for i, t in enumerate(types):
        if not is_float(t.dtype):
            raise OpError("expects a floating-point tensor, but {%d}%s" % (i, what), kind="dtype")


def axis_arg(axis, ndim: int) -> tuple[int, ...] | None:
    """Normalise an axis attribute (None, int or tuple) to sorted non-negative ints."""
    if axis is None:
        return None
    axes = axis if isinstance(axis, tuple) else (axis,)
    out = []
    for a in axes:
        if not isinstance(a, int) or isinstance(a, bool):
            raise OpError(f"axis must be an int or a tuple of ints, got {a!r}", kind="argument")
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise OpError(f"axis {a} is out of range: {{0}}", kind="shape")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise OpError(f"repeated axis in {axis!r}", kind="argument")
    return tuple(sorted(out))
