"""A saved model's config as layers and the calls between them, in an order that runs.

A Sequential model is a chain. A functional model's layers each have inbound nodes, one per
call (a shared layer has several), each a list of `[layer, node, tensor, kwargs]`
references; the calls are put in dependency order with an iterative topological sort.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..errors import KGraphError
from .reader import SavedModel

# Config keys that do not change what a layer computes at inference or in a training step.
IGNORED = frozenset({"name", "trainable", "batch_input_shape", "input_shape", "batch_size",
                     "input_length", "activity_regularizer", "sparse", "ragged", "optional"})
IGNORED_SUFFIXES = ("_initializer", "_regularizer", "_constraint")


@dataclass
class Layer:
    """One layer of the model; `get` records what a translator read, so that an argument
    nobody read is refused rather than silently dropped."""

    name: str
    cls: str
    config: dict
    weights: list[np.ndarray]
    place: str  # "layer 3 of 8 of model 'cnn'"
    inbound: list = field(default_factory=list)  # a functional model's inbound nodes
    read: set = field(default_factory=set)

    def get(self, key: str, default=None):
        self.read.add(key)
        return self.config.get(key, default)

    def where(self) -> str:
        return f"layer '{self.name}' ({self.cls}, {self.place})"

    def refuse(self, what: str) -> KGraphError:
        return KGraphError(f"cannot import {self.where()}: {what}")

    def unread(self) -> list[str]:
        return [k for k in self.config if k not in self.read and k not in IGNORED
                and not k.endswith(IGNORED_SUFFIXES)]


@dataclass
class Call:
    layer: Layer
    node: int  # which call of the layer this is
    inputs: list[tuple[str, int, int]]  # (layer, node, tensor) references


@dataclass
class Model:
    name: str
    inputs: list[Layer]  # InputLayer-like layers, in the model's input order
    outputs: list[tuple[str, int, int]]
    calls: list[Call]  # in an order where each call's inputs are computed before it


def _layers(saved: SavedModel) -> list[Layer]:
    configs = saved.config["config"]["layers"]
    model = saved.config["config"].get("name", "model")
    layers = []
    for i, c in enumerate(configs):
        cfg = c.get("config")
        if not isinstance(cfg, dict) or not isinstance(c.get("class_name"), str):
            raise KGraphError(f"{saved.path}: layer {i + 1} of the model config has no class and config")
        name = str(c.get("name") or cfg.get("name") or f"layer_{i}")
        layers.append(Layer(name, c["class_name"], cfg, saved.weights.get(name, []),
                            f"layer {i + 1} of {len(configs)} of model '{model}'",
                            c.get("inbound_nodes") or []))
    return layers


def build_model(saved: SavedModel) -> Model:
    cls = saved.config.get("class_name")
    if cls == "Sequential":
        return _sequential(saved)
    if cls in ("Functional", "Model"):
        return _functional(saved)
    raise KGraphError(f"{saved.path}: a {cls} model cannot be imported: only Sequential and functional "
                      f"models have a config that says what they compute (a subclassed model's "
                      f"call() is Python code)")


def _sequential(saved: SavedModel) -> Model:
    layers = _layers(saved)
    if layers and layers[0].cls == "InputLayer":
        inputs, rest = layers[:1], layers[1:]
    elif layers and "batch_input_shape" in layers[0].config:
        first = layers[0]
        config = {"batch_input_shape": first.config["batch_input_shape"],
                  "dtype": first.config.get("dtype", "float32"), "name": f"{first.name}_input"}
        inputs, rest = [Layer(config["name"], "InputLayer", config, [], "the model's input")], layers
    else:
        raise KGraphError(f"{saved.path}: the Sequential model has no input shape (it was never built)")
    calls, previous = [], inputs[0].name
    for layer in rest:
        calls.append(Call(layer, 0, [(previous, 0, 0)]))
        previous = layer.name
    return Model(saved.config["config"].get("name", "model"), inputs, [(previous, 0, 0)], calls)


def _reference(ref, layer: Layer) -> tuple[str, int, int]:
    if (isinstance(ref, list) and len(ref) in (3, 4) and isinstance(ref[0], str)
            and all(isinstance(v, int) for v in ref[1:3])):
        if len(ref) == 4 and ref[3]:
            raise layer.refuse(f"it is called with keyword arguments {sorted(ref[3])}, which kgraph "
                               f"does not translate")
        return ref[0], ref[1], ref[2]
    raise layer.refuse(f"its inbound node {ref!r} is not in the [layer, node, tensor] form of tf_keras 2")


def _functional(saved: SavedModel) -> Model:
    layers = _layers(saved)
    by_name = {layer.name: layer for layer in layers}
    config = saved.config["config"]
    inputs = [by_name[ref[0]] for ref in config.get("input_layers", []) if ref[0] in by_name]
    if len(inputs) != len(config.get("input_layers", [])) or not inputs:
        raise KGraphError(f"{saved.path}: the model's input layers are not among its layers")
    calls = []
    for layer in layers:
        if layer.cls == "InputLayer":
            continue
        if not isinstance(layer.inbound, list):
            raise layer.refuse("its inbound nodes are not in the list form of tf_keras 2")
        for node, refs in enumerate(layer.inbound):
            if not isinstance(refs, list):
                raise layer.refuse("its inbound nodes are not in the list form of tf_keras 2")
            calls.append(Call(layer, node, [_reference(r, layer) for r in refs]))
    outputs = [tuple(ref[:3]) for ref in config.get("output_layers", [])]
    return Model(config.get("name", "model"), inputs, outputs, _toposort(calls, inputs, by_name, saved.path))


def _toposort(calls: list[Call], inputs: list[Layer], by_name: dict, path) -> list[Call]:
    """Kahn's algorithm over calls; a call is ready once the calls it reads have run."""
    produced = {(layer.name, 0) for layer in inputs}
    waiting: dict[tuple[str, int], list[int]] = {}
    missing = []
    for i, call in enumerate(calls):
        needs = {(name, node) for name, node, _ in call.inputs} - produced
        missing.append(len(needs))
        for key in needs:
            waiting.setdefault(key, []).append(i)
    ready = deque(i for i, n in enumerate(missing) if n == 0)
    order = []
    while ready:
        i = ready.popleft()
        order.append(calls[i])
        for j in waiting.pop((calls[i].layer.name, calls[i].node), []):
            missing[j] -= 1
            if missing[j] == 0:
                ready.append(j)
    if len(order) != len(calls):
        stuck = next(c for i, c in enumerate(calls) if missing[i] > 0)
        raise stuck.layer.refuse(f"its inputs {stuck.inputs} are never computed (a cycle, or a layer "
                                 f"that is not in the model)")
    return order
