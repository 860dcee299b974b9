"""`kgraph import`: saved tf_keras models as .kg programs, checked against Keras's own outputs.

The fixtures in tests/keras_models/ were made by tf_keras 2.21 (make_models.py, run in a
separate TensorFlow venv): each NAME.keras (one legacy NAME.h5) with NAME.npz holding its
fixed inputs (`in:`), `model.predict` outputs (`out:`) and, for batch norm, training-mode
outputs (`train:`) and moving statistics after that step (`after:`). CI has no TensorFlow:
these tests read only the committed files (and need h5py, in the test extra).
"""
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kgraph
from kgraph.cli import main as cli_main
from kgraph.keras_import import write_import


MODELS = Path(__file__).resolve().parent / "keras_models"
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}
# Every fixture whose layers this kgraph has the ops for.
READY = ["legacy_h5", "shapes", "shared", "two_in_two_out", "activations"]


def model_file(name: str) -> Path:
    return MODELS / (name + (".h5" if name == "legacy_h5" else ".keras"))


def reference(name: str) -> dict[str, dict[str, np.ndarray]]:
    with np.load(MODELS / f"{name}.npz") as data:
        parts: dict[str, dict] = {}
        for key in data.files:
            kind, _, rest = key.partition(":")
            parts.setdefault(kind, {})[rest] = data[key]
    return parts


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """name -> (program with the imported weights loaded, the .kg source); imported once each."""
    folder = tmp_path_factory.mktemp("imported")
    cache = {}

    def get(name):
        if name not in cache:
            kg, state = write_import(model_file(name), folder / f"{name}.kg")
            prog = kgraph.load(kg)
            prog.load_state(state)
            cache[name] = prog, kg.read_text()
        return cache[name]
    return get


@pytest.mark.parametrize("name", READY)
def test_outputs_equal_keras_predict(imported, name):
    prog, _ = imported(name)
    ref = reference(name)
    out = prog.run(**ref["in"])
    assert list(out) == list(ref["out"])
    for key, want in ref["out"].items():
        np.testing.assert_allclose(out[key], want, **TOLERANCE, err_msg=f"{name}: {key}")


def test_the_program_reads_like_a_person_wrote_it(imported):
    _, source = imported("shared")
    lines = source.splitlines()
    assert "placeholder first: float32[None, 4]" in lines and "placeholder second: float32[None, 4]" in lines
    assert "variable shared_dense_kernel = zeros((4, 3))" in lines  # declared once, used twice
    assert "# shared_dense (Dense)" in lines and "# shared_dense (Dense), call 2" in lines
    assert "shared_dense = sigmoid(dot(first, shared_dense_kernel) + shared_dense_bias)" in lines
    assert "hi = maximum(maximum(shared_dense, shared_dense_2), avg)" in lines
    assert lines[-1] == "output out"
    _, source = imported("two_in_two_out")
    assert source.splitlines()[-1] == "output score, kind"


def test_cli_import_writes_the_program_and_the_state_beside_it(tmp_path, capsys):
    assert cli_main(["import", str(model_file("two_in_two_out")), "-o", str(tmp_path / "m.kg")]) == 0
    assert (tmp_path / "m.npz").exists()
    ref = reference("two_in_two_out")
    for name, array in ref["in"].items():
        np.save(tmp_path / f"{name}.npy", array)
    capsys.readouterr()
    assert cli_main(["run", str(tmp_path / "m.kg"), "--state", str(tmp_path / "m.npz"), "--format", "json",
                     "--feed", f"left={tmp_path / 'left.npy'}", "--feed", f"right={tmp_path / 'right.npy'}"]) == 0
    out = json.loads(capsys.readouterr().out)
    for name, want in ref["out"].items():
        np.testing.assert_allclose(np.array(out[name]["data"]), want, **TOLERANCE)
    assert cli_main(["import", str(model_file("legacy_h5")), "-o", str(tmp_path / "l.kg"),
                     "--state", str(tmp_path / "weights.npz")]) == 0
    with np.load(tmp_path / "weights.npz") as state:
        assert sorted(state.files) == ["d1_bias", "d1_kernel", "d2_kernel", "d3_bias", "d3_kernel"]


def test_python_api_returns_source_and_state():
    source, state = kgraph.import_keras(model_file("shapes"))
    assert set(state) == {"proj_kernel", "proj_bias", "out_kernel", "out_bias"}
    assert "repeat = repeat(proj, 3)" not in source  # a binding never hides an op
    assert "repeat_out = repeat(proj, 3)" in source
    prog = kgraph.compile(source)
    assert prog.state_signature() == {k: ("float32", v.shape) for k, v in state.items()}


# ---- refusals: every one names the layer, its class and its place -------------------

def edited(tmp_path: Path, name: str, edit) -> Path:
    """A copy of a fixture whose config.json went through `edit(config)`."""
    out = tmp_path / f"edited_{name}.keras"
    with zipfile.ZipFile(model_file(name)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return out


def layer_config(config: dict, name: str) -> dict:
    return next(c for c in config["config"]["layers"] if c["config"].get("name") == name)


@pytest.mark.parametrize("edit, message", [
    (lambda c: layer_config(c, "proj")["config"].update(activation="relu7"),
     "layer 'proj' (Dense, layer 2 of 7 of model 'shapes'): activation 'relu7' is not an activation"),
    (lambda c: layer_config(c, "proj").update(class_name="Lambda"),
     "layer 'proj' (Lambda, layer 2 of 7 of model 'shapes'): kgraph has no translation for Lambda "
     "layers (a Lambda layer is Python code"),
    (lambda c: layer_config(c, "out")["config"].update(kernel_size=3),
     "layer 'out' (Dense, layer 7 of 7 of model 'shapes'): kgraph does not translate the argument kernel_size=3"),
    (lambda c: layer_config(c, "out")["config"].update(dtype="float16"),
     "layer 'out' (Dense, layer 7 of 7 of model 'shapes'): its dtype (policy) is 'float16'"),
    (lambda c: layer_config(c, "proj")["config"].update(units=5),
     "layer 'proj' (Dense, layer 2 of 7 of model 'shapes'): its kernel is [6, 4] in the file, [6, 5] from its config"),
    (lambda c: c.update(class_name="MyModel"), "a MyModel model cannot be imported"),
])
def test_what_cannot_be_translated_is_refused(tmp_path, edit, message):
    with pytest.raises(kgraph.KGraphError) as e:
        kgraph.import_keras(edited(tmp_path, "shapes", edit))
    assert message in str(e.value)


def test_the_cli_reports_a_refusal_without_a_traceback(tmp_path, capsys):
    path = edited(tmp_path, "shapes", lambda c: layer_config(c, "proj").update(class_name="Lambda"))
    assert cli_main(["import", str(path), "-o", str(tmp_path / "x.kg")]) == 1
    err = capsys.readouterr().err
    assert "error: cannot import layer 'proj' (Lambda" in err and "Traceback" not in err
    assert not (tmp_path / "x.kg").exists()


# ---- files from strangers ---------------------------------------------------------

def test_sizes_are_checked_before_reading(tmp_path):
    with pytest.raises(kgraph.KGraphError, match="larger than the limit of 100 bytes"):
        kgraph.import_keras(model_file("shapes"), max_bytes=100)
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b" " * (17 << 20))
        z.writestr("model.weights.h5", b"")
    with pytest.raises(kgraph.KGraphError, match="config.json is 17825792 bytes, over the limit"):
        kgraph.import_keras(bomb)


def test_not_a_model(tmp_path):
    (tmp_path / "m.keras").write_bytes(b"hello")
    with pytest.raises(kgraph.KGraphError, match="neither a .keras model"):
        kgraph.import_keras(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "z.keras", "w") as z:
        z.writestr("config.json", "{not json")
    with pytest.raises(kgraph.KGraphError, match="not readable JSON"):
        kgraph.import_keras(tmp_path / "z.keras")
    import h5py

    with h5py.File(tmp_path / "w.h5", "w") as f:
        f.create_dataset("kernel", data=np.zeros(3))
    with pytest.raises(kgraph.KGraphError, match="without a model config: a weights-only file"):
        kgraph.import_keras(tmp_path / "w.h5")


def test_a_missing_h5py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(kgraph.KGraphError, match=r"needs h5py, the optional extra kgraph\[keras\]"):
        kgraph.import_keras(model_file("shapes"))


def test_object_arrays_are_refused(tmp_path):
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.array([b"x"], dtype=h5py.string_dtype()))
        f.create_dataset("layers/dense/vars/1", data=np.zeros(4, np.float32))
    path = tmp_path / "strings.keras"
    with zipfile.ZipFile(model_file("shapes")) as zin, zipfile.ZipFile(path, "w") as zout:
        zout.writestr("config.json", zin.read("config.json"))
        zout.writestr("model.weights.h5", buffer.getvalue())
    with pytest.raises(kgraph.KGraphError, match="weight proj/vars/0 is of type object, not a numeric array"):
        kgraph.import_keras(path)
