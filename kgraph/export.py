"""Exported programs: a `.kgx` file that runs without the source or the compiler.

`export_program(prog, "model.kgx")` lowers the optimised program once with
`jax.export`: `None` and named dimensions become symbolic dimensions (a named
dimension is one symbol wherever it appears), so one artifact serves every batch
size. The file is a zip holding

    manifest.json        {"format": "kgraph.kgx", "version": 1, signature, platforms, ...}
    program.jaxexport    the serialized jax.export.Exported (StableHLO, a flatbuffer)
    variables/<i>.npy    each variable's value (bfloat16 stored as its uint16 bits)

Loading (`load_exported`, or `kgraph.load("model.kgx")`) reads JSON, `.npy` files
with `allow_pickle=False` and the flatbuffer: no pickle and no code from the file.
A manifest with a newer `version` is refused with a clear error.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from itertools import chain, count
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import limits, npyfile
from .device import find_device, platform_of, running
from .version import __version__
from .errors import FeedError, KGraphError, KGraphWarning
from .feeds import check_feed, learning_phase_value
from .manifest import check_manifest
from .types import TensorType, np_dtype

FORMAT = "kgraph.kgx"
VERSION = 2  # 2: a program that reads learning_phase() takes the phase as an argument
PLATFORMS = ("cpu", "cuda")
NOT_EXPORTABLE = {"print_tensor": "it prints from inside the compiled code through a host callback"}


def _jax_export():
    try:
        from jax import export
        import flatbuffers  # noqa: F401 - jax.export's serializer needs it
    except ImportError:
        raise KGraphError("exported programs need the 'flatbuffers' package: pip install flatbuffers") from None
    return export


# ---- writing ---------------------------------------------------------------------

def initial_values_warning(program) -> KGraphWarning:
    """A program that trains (it has `update` statements) exported with its initial values is
    almost always a mistake: the trained values live in a state file."""
    return KGraphWarning(f"{program.filename} has update statements ({', '.join(program.updates)}) "
                         f"but is exported with its variables' initial values; pass the trained "
                         f"state with --state ckpt.npz (Python: prog.load_state(path) before "
                         f"prog.export(...))")


def _leaf_entry(name: str, t: TensorType) -> dict:
    return {"name": name, "dtype": t.dtype, "shape": list(t.shape)}


def _export_shapes(placeholders, share_batch: bool) -> dict[str, list]:
    """Each placeholder's shape for export: a None becomes a fresh dimension name, or, with
    `share_batch`, every None on axis 0 becomes one shared `batch` dimension."""
    taken = {d for n in placeholders for d in n.shape if isinstance(d, str)}
    fresh = (f"d{i}" for i in count())
    batch = next(b for b in chain(["batch"], (f"batch_{i}" for i in count(1))) if b not in taken)
    shapes = {}
    for node in placeholders:
        dims = []
        for axis, d in enumerate(node.shape):
            if d is None:
                d = batch if share_batch and axis == 0 else next(s for s in fresh if s not in taken)
            dims.append(d)
        shapes[node.attr("name")] = dims
    return shapes


def _feed_specs(placeholders, shapes: dict[str, list], export) -> dict:
    scope = export.SymbolicScope()
    specs = {}
    for node in placeholders:
        dims = shapes[node.attr("name")]
        shape = export.symbolic_shape(", ".join(map(str, dims)), scope=scope) if dims else ()
        specs[node.attr("name")] = jax.ShapeDtypeStruct(shape, jnp.dtype(node.dtype))
    return specs


def export_program(program, path: str | Path, platforms=PLATFORMS) -> Path:
    """Write `program` as a self-contained `.kgx` artifact; returns the path."""
    graph = program.graph
    for node in graph.all_nodes():
        if node.op in NOT_EXPORTABLE:
            raise KGraphError(f"{node.op} cannot be exported: {NOT_EXPORTABLE[node.op]}; remove it "
                              f"(or run the .kg source) to export", node.span)
    live = {n.id for n in graph.live_nodes()}
    placeholders = [n for n in graph.placeholders.values() if n.id in live]
    variables = [n for n in graph.variables.values() if n.id in live]
    phased = any(n.op == "learning_phase" for n in graph.all_nodes())
    exported, blob, shapes = _serialize(program, placeholders, variables, phased, platforms)
    values = program.variables
    manifest = _manifest(program, exported, blob, shapes, placeholders, variables, values, phased)
    return _write(Path(path), manifest, blob, values)


def _serialize(program, placeholders, variables, phased: bool, platforms):
    """The program as a `jax.export.Exported`, its serialized bytes and the feed shapes it
    was exported for."""
    export = _jax_export()
    updated = [name for name, _ in program.graph.updates]
    function = program.as_jax_function(updates=True, rng=True)

    def exported_function(variables, key, *phase_and_feeds):
        *phase, feeds = phase_and_feeds
        outputs, state = function(variables, key, **feeds, **({"training": phase[0]} if phase else {}))
        return outputs, {name: state[name] for name in updated}

    variable_specs = {n.attr("name"): jax.ShapeDtypeStruct(n.shape, jnp.dtype(n.dtype)) for n in variables}
    key_spec = jax.ShapeDtypeStruct((2,), jnp.uint32)
    # The learning phase (LANGUAGE.md §9) stays a run-time argument, as in the compiled program.
    phase_spec = (jax.ShapeDtypeStruct((), jnp.bool_),) if phased else ()
    # Every None its own symbolic dimension if the program allows it; otherwise (it adds or
    # compares two placeholders' batches) the None dims on axis 0 are one `batch`.
    attempts = [_export_shapes(placeholders, share) for share in (False, True)]
    if attempts[0] == attempts[1]:
        attempts = attempts[:1]
    with running():
        for i, shapes in enumerate(attempts):
            try:
                exported = export.export(jax.jit(exported_function), platforms=tuple(platforms))(
                    variable_specs, key_spec, *phase_spec, _feed_specs(placeholders, shapes, export))
                return exported, bytes(exported.serialize()), shapes
            except Exception as e:  # noqa: BLE001 - the last attempt's error is reported
                if i + 1 < len(attempts):
                    continue
                message = e.message if isinstance(e, KGraphError) else str(e).split("\n")[0]
                raise KGraphError(f"cannot export {program.filename} for every size of its None "
                                  f"dimensions: {message}; name the dimensions that must agree "
                                  f"(placeholder x: float32[batch, 4]) and export again") from None


def _manifest(program, exported, blob: bytes, shapes, placeholders, variables, values, phased) -> dict:
    """manifest.json: what the artifact takes, returns and holds (kgraph/manifest.py checks it)."""
    used = {n.attr("name") for n in variables}
    return {
        "format": FORMAT, "version": 2 if phased else 1, "learning_phase": phased,
        "kgraph_version": _kgraph_version(), "jax_version": jax.__version__,
        "source": program.filename, "floatx": program.floatx, "seed": program.seed,
        "platforms": list(exported.platforms),
        "placeholders": [dict(_leaf_entry(n.attr("name"), n.type), exported_shape=shapes[n.attr("name")])
                         for n in placeholders],
        "outputs": [_leaf_entry(name, n.type) for name, n in program.graph.outputs],
        "variables": [dict(_leaf_entry(name, TensorType(a.dtype.name, a.shape)), file=f"variables/{i}.npy",
                           used=name in used)
                      for i, (name, a) in enumerate(values.items())],
        "updates": [name for name, _ in program.graph.updates],
        "program_sha256": hashlib.sha256(blob).hexdigest(),
    }


def _write(path: Path, manifest: dict, blob: bytes, values: dict) -> Path:
    """The .kgx zip: the manifest, the serialized program and one .npy per variable."""
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("manifest.json", json.dumps(manifest, indent=2))
            z.writestr("program.jaxexport", blob)
            for entry in manifest["variables"]:
                z.writestr(entry["file"], npyfile.npy_bytes(values[entry["name"]]))
    except OSError as e:
        raise KGraphError(f"cannot write {path}: {e.strerror or e}") from None
    return path


def _kgraph_version() -> str:
    return __version__


# ---- reading ---------------------------------------------------------------------

def _shape(entry: dict) -> tuple:
    return tuple(entry["shape"])


class ExportedProgram:
    """A program loaded from a `.kgx` file: the same `run`/`placeholders`/`outputs`/`variables`."""

    def __init__(self, path: Path, manifest: dict, exported, values: dict[str, np.ndarray],
                 device: str | None = None):
        self.filename = str(path)
        self.manifest = manifest
        self.seed = manifest["seed"]
        self.floatx = manifest["floatx"]
        self._exported = exported
        self._initial = {k: v.copy() for k, v in values.items()}
        self._values = {k: v.copy() for k, v in values.items()}
        # Feeds are checked against the exported shapes: dims that became one symbol must agree.
        self._leaves = {e["name"]: SimpleNamespace(type=TensorType(e["dtype"], tuple(e["exported_shape"])))
                        for e in manifest["placeholders"]}
        self._used = [e["name"] for e in manifest["variables"] if e["used"]]
        self._device = device
        self._call = None
        self._runs = 0
        self.training = False  # the learning phase of a run that does not say (--learning-phase)

    @property
    def placeholders(self) -> dict[str, tuple[str, tuple]]:
        return {e["name"]: (e["dtype"], _shape(e)) for e in self.manifest["placeholders"]}

    @property
    def outputs(self) -> list[str]:
        return [e["name"] for e in self.manifest["outputs"]]

    @property
    def variables(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._values.items()}

    @property
    def platforms(self) -> list[str]:
        return list(self.manifest["platforms"])

    def check_feeds(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        for name in feeds:
            if name not in self._leaves:
                raise FeedError(f"feed '{name}' matches no placeholder (placeholders: "
                                f"{', '.join(self._leaves) or 'none'})")
        named: dict = {}
        out = {}
        for name, leaf in self._leaves.items():
            if name not in feeds:
                raise FeedError(f"placeholder '{name}' ({leaf.type}) needs a feed: "
                                f"`--feed {name}=...` or run({name}=...)")
            out[name] = check_feed(name, leaf, feeds[name], None, named)
            if any(d == 0 for d in out[name].shape):
                raise FeedError(f"feed '{name}': an exported program takes no empty dimension "
                                f"(got shape {out[name].shape})")
        return out

    def run(self, training: Any = None, to_numpy: bool = True, **feeds: Any) -> dict[str, np.ndarray]:
        """Run once: a dict from output name to numpy array, in output order; `training` sets
        the learning phase (default `self.training`, False unless set), and `to_numpy=False`
        returns JAX arrays, as Program.run."""
        arrays = self.check_feeds(feeds)
        phase = self.training if training is None else learning_phase_value(training)
        phase_arg = (np.bool_(phase),) if self.manifest.get("learning_phase") else ()
        device = find_device(self._device) if self._device else None
        platform = platform_of(device)
        if platform not in self.platforms:
            raise KGraphError(f"{self.filename} was exported for {', '.join(self.platforms)}; this "
                              f"device is {platform} (export again with that platform)")
        variables = {name: self._values[name] for name in self._used}
        with running(True, device):
            if self._call is None:
                self._call = jax.jit(self._exported.call)
            key = jax.random.fold_in(jax.random.PRNGKey(self.seed), self._runs)
            outputs, state = self._call(variables, key, *phase_arg, arrays)
            convert = np.asarray if to_numpy else (lambda value: value)
            result = {name: convert(outputs[name]) for name in self.outputs}
            for name, value in state.items():
                self._values[name] = np.asarray(value)
        self._runs += 1
        return result

    __call__ = run

    def reset(self) -> None:
        """Variables back to the values stored in the file."""
        self._values = {k: v.copy() for k, v in self._initial.items()}
        self._runs = 0


def _read_variable(z: zipfile.ZipFile, entry: dict, path: Path) -> np.ndarray:
    what = f"{path}: {entry['file']}"
    array = npyfile.read_member(z, z.getinfo(entry["file"]), what)
    array = npyfile.from_bits(array, np_dtype(entry["dtype"]))
    if array.dtype != np_dtype(entry["dtype"]) or array.shape != _shape(entry):
        raise KGraphError(f"variable '{entry['name']}' in the artifact is {array.dtype}{list(array.shape)}, "
                          f"its manifest says {entry['dtype']}{entry['shape']}")
    return array


def _read_manifest(z: zipfile.ZipFile, path: Path) -> dict:
    text = npyfile.read_member_bytes(z, "manifest.json", f"{path}: manifest.json")
    limits.check_json_depth(text.decode("utf-8", "replace"), f"the nesting depth of {path}'s manifest")
    manifest = json.loads(text)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise KGraphError(f"{path} is not a kgraph exported program (no '{FORMAT}' manifest)")
    version = manifest.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise KGraphError(f"{path} is format version {version!r} of {FORMAT}, written by a newer "
                          f"kgraph ({manifest.get('kgraph_version', '?')}); this kgraph "
                          f"({_kgraph_version()}) reads versions up to {VERSION}: upgrade kgraph")
    try:
        check_manifest(manifest)
    except ValueError as e:
        raise KGraphError(f"{path} has a damaged manifest: {e}") from None
    return manifest


def _read_program(z: zipfile.ZipFile, manifest: dict, path: Path):
    blob = npyfile.read_member_bytes(z, "program.jaxexport", f"{path}: program.jaxexport")
    digest = manifest.get("program_sha256")
    if digest is not None and hashlib.sha256(blob).hexdigest() != digest:
        raise KGraphError(f"{path}: program.jaxexport does not match its manifest's checksum "
                          f"(the file is damaged)")
    try:
        return _jax_export().deserialize(bytearray(blob))
    except Exception as e:  # noqa: BLE001 - the flatbuffer reader raises many kinds on damaged bytes
        raise KGraphError(f"{path}: cannot read its serialized program ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''})") from None


def load_exported(path: str | Path, device: str | None = None) -> ExportedProgram:
    """Load a `.kgx` artifact written by `kgraph export` (JSON, .npy and StableHLO only).

    Every part is checked before it is used (see npyfile.py and manifest.py): the file is
    a regular one within max_file_bytes, the zip's members pass their CRC check, the
    manifest matches its schema, each variable's .npy header is read safely and sized.
    """
    path = Path(path)
    with npyfile.open_regular(path, "exported program", KGraphError) as f:
        try:
            with zipfile.ZipFile(f) as z:
                claimed = sum(info.file_size for info in z.infolist())
                limits.check("max_file_bytes", claimed, f"the bytes the members of {path} claim")
                manifest = _read_manifest(z, path)
                values = {e["name"]: _read_variable(z, e, path) for e in manifest["variables"]}
                exported = _read_program(z, manifest, path)
        except npyfile.CONTAINER_ERRORS + (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise KGraphError(f"{path} is not a valid kgraph exported program "
                              f"({type(e).__name__}: {e})") from None
        except ValueError as e:
            if isinstance(e, KGraphError):
                raise
            raise KGraphError(f"{path} is not a valid kgraph exported program ({e})") from None
    return ExportedProgram(path, manifest, exported, values, device=device)
