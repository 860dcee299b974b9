"""Numerical stability: forms that overflow or cancel, replaced by JAX's stable functions.

Each replacement is the same function, computed without the intermediate that
overflows (softmax of large logits underflowing to 0, then log(0) = -inf) or the
subtraction that cancels (exp(x) - 1 for small x). The new ops lower to
jax.nn.log_softmax, jax.nn.softplus, jnp.log1p, jnp.expm1 and jax.nn.logsumexp,
whose gradients are finite where the originals' are NaN.

A crossentropy of a softmax (binary: of a sigmoid) is computed from the logits
underneath at every level, as Keras does (ops/nn.py `logits_read`, which the
lowering follows); the `crossentropy-logits` rules make that explicit in the IR,
so later passes and readers see the stable form, and the softmax is dead. The
rewriter keeps what a crossentropy reads the same across rewrites (rewrite.py).
"""
from __future__ import annotations

from ..ir import Node
from ..ops.nn import logits_read
from .patterns import Rule


def from_logits(rw, b: dict, node: Node) -> Node | None:
    """The crossentropy over the logits that its lowering reads through to anyway."""
    logits = logits_read(node.op, node.srcs[1])
    if logits is None or logits_read(node.op, logits) is not None:
        return None  # a softmax over another axis; or z is one too, and would be read again
    return rw.make(node.op, [node.srcs[0], logits], dict(node.attrs, from_logits=True))


RULES = [
    Rule("log-softmax", "log(softmax(x, axis=a))", "log_softmax(x, axis=a)"),
    Rule("log-sigmoid", "log(sigmoid(x))", "-softplus(-x)"),
    Rule("log1p", "log(1 + x)", "log1p(x)"),
    Rule("expm1", "exp(x) - 1", "expm1(x)"),
    Rule("logsumexp", "log(sum(exp(x), axis=a, keepdims=k))", "logsumexp(x, axis=a, keepdims=k)"),
    Rule("crossentropy-logits", "categorical_crossentropy(t, softmax(z))", from_logits),
    Rule("sparse-crossentropy-logits", "sparse_categorical_crossentropy(t, softmax(z))", from_logits),
    Rule("binary-crossentropy-logits", "binary_crossentropy(t, sigmoid(z))", from_logits),
]
