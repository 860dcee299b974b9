"""Keras activations by name, as .kg expressions (tf_keras 2.21's definitions)."""
from __future__ import annotations

from .model import Layer
from .writer import Writer

SELU = """\
def selu(x):
    return 1.0507009873554805 * elu(x, alpha=1.6732632423543772)"""
GELU = """\
def gelu(x):
    return 0.5 * x * (1.0 + erf(x * 0.7071067811865476))"""
GELU_TANH = """\
def gelu_tanh(x):
    return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))"""
SWISH = """\
def swish(x):
    return x * sigmoid(x)"""
MISH = """\
def mish(x):
    return x * tanh(softplus(x))"""

# name -> (a template over {x}, the helper def it needs or None)
ACTIVATIONS = {
    "linear": ("{x}", None),
    "relu": ("relu({x})", None),
    "sigmoid": ("sigmoid({x})", None),
    "tanh": ("tanh({x})", None),
    "softmax": ("softmax({x})", None),
    "softplus": ("softplus({x})", None),
    "softsign": ("softsign({x})", None),
    "elu": ("elu({x})", None),
    "exponential": ("exp({x})", None),
    "hard_sigmoid": ("hard_sigmoid({x})", None),  # tf_keras 2: clip(0.2 x + 0.5, 0, 1)
    "selu": ("selu({x})", SELU),
    "gelu": ("gelu({x})", GELU),  # approximate=False, tf_keras's default
    "swish": ("swish({x})", SWISH),
    "silu": ("swish({x})", SWISH),
    "mish": ("mish({x})", MISH),
}


def activation(w: Writer, layer: Layer, x: str, key: str = "activation") -> str:
    """`x` with the layer's activation applied, as an expression."""
    name = layer.get(key, "linear")
    if name is None:
        name = "linear"
    if not isinstance(name, str):
        raise layer.refuse(f"{key} {name!r} is not a built-in activation named by a string "
                           f"(custom activations are Python code)")
    if name not in ACTIVATIONS:
        raise layer.refuse(f"{key} '{name}' is not an activation kgraph translates "
                           f"(it knows {', '.join(sorted(ACTIVATIONS))})")
    template, helper = ACTIVATIONS[name]
    if helper is not None:
        w.helper(name if name != "silu" else "swish", helper)
    return template.format(x=x)
