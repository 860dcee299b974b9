"""From a model's calls to a `.kg` program: placeholders, one translator per call, outputs."""
from __future__ import annotations

from ..errors import KGraphError
from .layers_conv import TRANSLATORS as CONV
from .layers_core import TRANSLATORS as CORE
from .layers_norm import TRANSLATORS as NORM
from .layers_rnn import TRANSLATORS as RNN
from .model import Layer, Model
from .writer import Tensor, Writer

DTYPES = {"float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"}


def translators() -> dict:
    return {**CORE, **CONV, **NORM, **RNN}


def _dtype_name(layer: Layer) -> str:
    dtype = layer.get("dtype", "float32")
    if isinstance(dtype, dict):  # a mixed-precision policy: {"class_name": "Policy", "config": {"name"}}
        dtype = dtype.get("config", {}).get("name")
    return dtype if isinstance(dtype, str) else repr(dtype)


def _input(w: Writer, layer: Layer) -> Tensor:
    shape = layer.get("batch_input_shape") or layer.get("batch_shape")
    dtype = _dtype_name(layer)
    if not isinstance(shape, list) or not all(d is None or isinstance(d, int) for d in shape):
        raise layer.refuse(f"its input shape {shape!r} is not a list of sizes")
    if dtype not in DTYPES:
        raise layer.refuse(f"its dtype {dtype!r} is not one kgraph has")
    if layer.get("sparse") or layer.get("ragged"):
        raise layer.refuse("sparse and ragged inputs are not supported")
    return w.placeholder(layer.name, dtype, tuple(shape))


def _check_layer(layer: Layer) -> None:
    dtype = _dtype_name(layer)
    if dtype != "float32":
        raise layer.refuse(f"its dtype (policy) is {dtype!r}: kgraph imports float32 layers")
    unread = layer.unread()
    if unread:
        shown = ", ".join(f"{k}={layer.config[k]!r}" for k in unread[:4])
        raise layer.refuse(f"kgraph does not translate the argument{'s' if len(unread) > 1 else ''} {shown}")


def translate(model: Model, title: str) -> Writer:
    w = Writer(title)
    table = translators()
    env: dict[tuple[str, int, int], Tensor] = {}
    for layer in model.inputs:
        env[(layer.name, 0, 0)] = _input(w, layer)
    for call in model.calls:
        layer = call.layer
        if layer.cls not in table:
            hint = " (a Lambda layer is Python code: kgraph never runs code from a model file)" \
                if layer.cls == "Lambda" else ""
            raise layer.refuse(f"kgraph has no translation for {layer.cls} layers{hint}; "
                               f"docs/keras.md lists the layers it has")
        xs = []
        for ref in call.inputs:
            if ref not in env:
                raise layer.refuse(f"its input {list(ref)} is not computed by the model")
            xs.append(env[ref])
        w.comment(f"{layer.name} ({layer.cls})" + (f", call {call.node + 1}" if call.node else ""))
        outs = table[layer.cls](w, layer, xs)
        _check_layer(layer)
        for i, t in enumerate(outs):
            env[(layer.name, call.node, i)] = t
    for ref in model.outputs:
        if ref not in env:
            raise KGraphError(f"the model's output {list(ref)} is not computed by its layers")
        w.output(env[ref], ref[0])
    return w
