"""Numerical stability: forms that overflow or cancel, replaced by JAX's stable functions.

Each replacement is the same function, computed without the intermediate that
overflows (softmax of large logits underflowing to 0, then log(0) = -inf) or the
subtraction that cancels (exp(x) - 1 for small x). The new ops lower to
jax.nn.log_softmax, jax.nn.softplus, jnp.log1p, jnp.expm1 and jax.nn.logsumexp,
whose gradients are finite where the originals' are NaN.

A crossentropy of a softmax (binary: of a sigmoid) is built over the logits by the
front end, as Keras computes it (ops/nn.py), so no rule here needs to know of it.
"""
from __future__ import annotations

from .patterns import Rule


RULES = [
    Rule("log-softmax", "log(softmax(x, axis=a))", "log_softmax(x, axis=a)"),
    Rule("log-sigmoid", "log(sigmoid(x))", "-softplus(-x)"),
    Rule("log1p", "log(1 + x)", "log1p(x)"),
    Rule("expm1", "exp(x) - 1", "expm1(x)"),
    Rule("logsumexp", "log(sum(exp(x), axis=a, keepdims=k))", "logsumexp(x, axis=a, keepdims=k)"),
]
