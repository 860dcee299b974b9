"""`kgraph import`: a saved tf_keras model as a readable `.kg` program and a state file.

    source, state = kgraph.import_keras("model.keras")   # the .kg text, {variable: array}

reads the model's JSON config and its weights with h5py (the optional extra
`kgraph[keras]`), never TensorFlow, and never runs code from the file. See docs/keras.md
for the layers and arguments it translates and what it refuses.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import KGraphError
from ..state import save_state_file
from .model import build_model
from .reader import MAX_WEIGHT_BYTES, read_model
from .translate import translate

__all__ = ["import_keras", "write_import"]


def import_keras(path: str | Path, max_bytes: int = MAX_WEIGHT_BYTES) -> tuple[str, dict[str, np.ndarray]]:
    """The `.kg` program for a saved tf_keras model and its weights, by variable name.

    Raises KGraphError, naming the layer, its class and its place in the model, for
    anything it cannot translate exactly.
    """
    saved = read_model(path, max_bytes=max_bytes)
    model = build_model(saved)
    version = saved.keras_version
    title = (f"{Path(path).name}: the {saved.config['class_name']} model '{model.name}'"
             f"{' (saved by Keras ' + version + ')' if version else ''}, imported by `kgraph import`.\n"
             f"Its weights are in a state file: kgraph run THIS.kg --state WEIGHTS.npz --feed ...")
    writer = translate(model, title)
    return writer.text(), writer.state


def write_import(path: str | Path, output: str | Path, state: str | Path | None = None,
                 max_bytes: int = MAX_WEIGHT_BYTES) -> tuple[Path, Path]:
    """Import `path` and write the program to `output` and the weights to `state`
    (default: `output` with the suffix .npz). Returns both paths."""
    output = Path(output)
    state = Path(state) if state else output.with_suffix(".npz")
    source, arrays = import_keras(path, max_bytes=max_bytes)
    source = source.replace("THIS.kg", output.name).replace("WEIGHTS.npz", state.name)
    try:
        output.write_text(source, encoding="utf-8")
    except OSError as e:
        raise KGraphError(f"cannot write {output}: {e.strerror or e}") from None
    save_state_file(state, arrays)
    return output, state
