"""Reading a saved tf_keras model without TensorFlow: the JSON config and the weights.

A `.keras` file is a zip of `config.json`, `metadata.json` and `model.weights.h5`; in the
weights file a layer's arrays sit at `layers/<class in snake case>[_N]/vars/<i>` (N counts
the earlier layers of the same class, in the model's layer order: tf_keras's saving_lib
addresses layers so, not by their names), an RNN's under `.../cell/vars` and a
Bidirectional's under `forward_layer/cell/vars` then `backward_layer/cell/vars`. A legacy
`.h5` file holds the config as the `model_config` attribute and each layer's arrays under
`model_weights/<layer name>`, in the order of its `weight_names` attribute.

A file from a stranger runs no code and cannot exhaust the machine: only JSON and numeric
HDF5 datasets are read (no pickle, no Lambda layer is ever executed), and every size is
checked against a limit before anything is read.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import KGraphError

MAX_CONFIG_BYTES = 16 << 20
MAX_WEIGHT_BYTES = 2 << 30
MAX_ARRAYS = 100_000
SUBGROUPS = ("cell", "forward_layer", "backward_layer")  # the order of Keras's layer.weights


@dataclass
class SavedModel:
    path: str
    config: dict  # {"class_name": "Sequential" | "Functional" | "Model", "config": {...}}
    weights: dict[str, list[np.ndarray]]  # layer name -> its arrays in Keras's weight order
    keras_version: str = ""


def _h5py():
    try:
        import h5py
    except ImportError:
        raise KGraphError("reading Keras models needs h5py, the optional extra kgraph[keras]: "
                          "pip install 'kgraph[keras]'") from None
    return h5py


def snake_case(name: str) -> str:
    """tf_keras's generic_utils.to_snake_case: how saving_lib names a layer's weights group."""
    intermediate = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    return insecure if insecure[0] != "_" else "private" + insecure


def _json(data: bytes, path) -> dict:
    try:
        config = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise KGraphError(f"{path}: the model config is not readable JSON ({str(e)[:80]})") from None
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise KGraphError(f"{path}: the model config is not a Keras model config")
    return config


class _Budget:
    """Counts the bytes and arrays read so far against the limits."""

    def __init__(self, path, limit: int):
        self.path, self.limit, self.used, self.arrays = path, limit, 0, 0

    def read(self, dataset, where: str) -> np.ndarray:
        if dataset.dtype.kind not in "fiub" or dataset.dtype.fields is not None:
            raise KGraphError(f"{self.path}: weight {where} is of type {dataset.dtype}, not a "
                              f"numeric array")
        self.used += int(np.prod(dataset.shape, dtype=np.int64)) * dataset.dtype.itemsize
        self.arrays += 1
        if self.used > self.limit or self.arrays > MAX_ARRAYS:
            raise KGraphError(f"{self.path}: the weights are larger than the limit of {self.limit} "
                              f"bytes (or {MAX_ARRAYS} arrays); pass a larger max_bytes if the file "
                              f"is trusted")
        return np.asarray(dataset[()])


def read_model(path: str | Path, max_bytes: int = MAX_WEIGHT_BYTES) -> SavedModel:
    """The config and weights of a `.keras` or legacy `.h5` model file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
    except OSError as e:
        raise KGraphError(f"cannot read {path}: {e.strerror or e}") from None
    if magic.startswith(b"PK"):
        return _read_keras(path, max_bytes)
    if magic == b"\x89HDF\r\n\x1a\n":
        return _read_legacy_h5(path, max_bytes)
    raise KGraphError(f"{path} is neither a .keras model (a zip) nor a legacy .h5 model (HDF5); "
                      f"a SavedModel directory is not supported: save with model.save('m.keras')")


def _member(z: zipfile.ZipFile, name: str, limit: int, path) -> bytes:
    try:
        info = z.getinfo(name)
    except KeyError:
        raise KGraphError(f"{path} is a zip without {name}: not a saved Keras model") from None
    if info.file_size > limit:
        raise KGraphError(f"{path}: {name} is {info.file_size} bytes, over the limit of {limit}")
    return z.read(info)


def _read_keras(path: Path, max_bytes: int) -> SavedModel:
    try:
        with zipfile.ZipFile(path) as z:
            config = _json(_member(z, "config.json", MAX_CONFIG_BYTES, path), path)
            blob = _member(z, "model.weights.h5", max_bytes + MAX_CONFIG_BYTES, path)
            version = _version(z, path)
    except (zipfile.BadZipFile, OSError) as e:
        raise KGraphError(f"{path} is not a readable .keras file ({e})") from None
    h5py = _h5py()
    budget = _Budget(path, max_bytes)
    try:
        with h5py.File(io.BytesIO(blob), "r") as f:
            weights = _keras_weights(f, config, budget, path)
    except OSError as e:
        raise KGraphError(f"{path}: model.weights.h5 is not a readable HDF5 file ({e})") from None
    return SavedModel(str(path), config, weights, version)


def _version(z: zipfile.ZipFile, path) -> str:
    """The Keras version metadata.json names, if it is there and readable (only a comment uses it)."""
    if "metadata.json" not in z.namelist():
        return ""
    try:
        meta = json.loads(_member(z, "metadata.json", MAX_CONFIG_BYTES, path))
    except (ValueError, RecursionError):
        return ""
    return str(meta.get("keras_version", "")) if isinstance(meta, dict) else ""


def _layer_configs(config: dict) -> list[dict]:
    layers = config["config"].get("layers")
    if not isinstance(layers, list) or not all(isinstance(c, dict) for c in layers):
        raise KGraphError("the model config has no list of layers: only Sequential and functional "
                          "models can be imported (not a subclassed Model)")
    return layers


def _layer_name(layer: dict) -> str:
    return str(layer.get("name") or layer.get("config", {}).get("name"))


def _keras_weights(f, config: dict, budget: _Budget, path) -> dict[str, list[np.ndarray]]:
    root = f.get("layers")
    counts: dict[str, int] = {}
    weights = {}
    for layer in _layer_configs(config):
        group_name = snake_case(str(layer.get("class_name", "")))
        n = counts.get(group_name, -1) + 1
        counts[group_name] = n
        group = root.get(group_name if n == 0 else f"{group_name}_{n}") if root is not None else None
        weights[_layer_name(layer)] = _group_arrays(group, budget, _layer_name(layer)) if group else []
    return weights


def _group_arrays(group, budget: _Budget, where: str) -> list[np.ndarray]:
    arrays = []
    if "vars" in group:
        keys = sorted(group["vars"], key=lambda k: int(k) if k.isdigit() else -1)
        if any(not k.isdigit() for k in keys):
            raise KGraphError(f"{budget.path}: layer {where} has weights that are not numbered")
        arrays += [budget.read(group["vars"][k], f"{where}/vars/{k}") for k in keys]
    # Bidirectional also keeps its unbuilt template `layer`: a group with no arrays is nothing.
    unexpected = [k for k in group if k != "vars" and k not in SUBGROUPS and _holds_arrays(group[k])]
    if unexpected:
        raise KGraphError(f"{budget.path}: layer {where} holds weights of nested layers "
                          f"({', '.join(unexpected)}), which kgraph cannot import")
    for sub in SUBGROUPS:
        if sub in group:
            arrays += _group_arrays(group[sub], budget, f"{where}/{sub}")
    return arrays


def _holds_arrays(group) -> bool:
    found = []
    group.visititems(lambda name, item: found.append(name) if not hasattr(item, "keys") else None)
    return bool(found)


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _read_legacy_h5(path: Path, max_bytes: int) -> SavedModel:
    h5py = _h5py()
    budget = _Budget(path, max_bytes)
    try:
        with h5py.File(path, "r") as f:
            if "model_config" not in f.attrs:
                raise KGraphError(f"{path} is an HDF5 file without a model config: a weights-only "
                                  f"file (save_weights) cannot be imported; save the whole model")
            raw = f.attrs["model_config"]
            if len(raw) > MAX_CONFIG_BYTES:
                raise KGraphError(f"{path}: the model config is over {MAX_CONFIG_BYTES} bytes")
            config = _json(_text(raw).encode(), path)
            version = _text(f.attrs.get("keras_version", ""))
            root = f["model_weights"] if "model_weights" in f else f
            weights = {}
            for layer in _layer_configs(config):
                name = _layer_name(layer)
                group = root.get(name)
                names = [_text(n) for n in group.attrs.get("weight_names", [])] if group is not None else []
                weights[name] = [budget.read(group[n], n) for n in names]
    except OSError as e:
        raise KGraphError(f"{path} is not a readable .h5 model ({e})") from None
    return SavedModel(str(path), config, weights, version)
