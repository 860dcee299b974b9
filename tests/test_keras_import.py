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
from forkserver import run_script
from kgraph.cli import main as cli_main
from kgraph.keras_import import write_import


MODELS = Path(__file__).resolve().parent / "keras_models"
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}
# Every fixture whose layers this kgraph has the ops for.
READY = ["mlp", "cnn_bn", "legacy_h5", "shapes", "shared", "two_in_two_out", "activations", "conv1d",
         "conv3d", "conv2d_kinds", "global_pools", "lstm_text", "gru", "bilstm", "rnn_norm",
         "variants", "no_input_layer", "causal_separable"]


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


def test_training_mode_equals_keras_and_moves_the_statistics_as_keras(imported):
    prog, source = imported("cnn_bn")
    ref = reference("cnn_bn")
    start = prog.variables
    prog.run(**ref["in"])  # a plain run is model.predict: the statistics stay
    for name, value in start.items():
        np.testing.assert_array_equal(prog.variables[name], value, err_msg=name)
    out = prog.run(**ref["in"], training=True)
    np.testing.assert_allclose(out["classes"], ref["train"]["classes"], **TOLERANCE)
    assert not np.allclose(ref["train"]["classes"], ref["out"]["classes"], **TOLERANCE)
    for key, want in ref["after"].items():
        got = prog.variables[key.replace("/", "_")]
        assert not np.allclose(start[key.replace("/", "_")], want, **TOLERANCE), key  # it moved
        np.testing.assert_allclose(got, want, **TOLERANCE, err_msg=key)
    prog.load_state(prog_state(prog))  # the module's program goes back to the imported weights
    assert "update bn_moving_mean = in_train_phase(moving_average_update(bn_moving_mean, bn_mean, 0.99), " \
           "bn_moving_mean)" in source


def prog_state(prog) -> Path:
    return Path(prog.filename).with_suffix(".npz")


@pytest.mark.slow
def test_dropout_follows_the_learning_phase(imported, tmp_path, capsys):
    prog, source = imported("mlp")
    assert "drop = in_train_phase(dropout(hidden, 0.3), hidden)" in source.splitlines()
    ref = reference("mlp")
    x = np.repeat(ref["in"]["features"], 200, axis=0)
    probe = kgraph.compile(source.replace("output probs", "output probs, hidden, drop"))
    probe.load_state(prog_state(prog))
    plain = probe.run(features=x)
    np.testing.assert_array_equal(plain["drop"], plain["hidden"])
    train = probe.run(features=x, training=True)
    kept = train["drop"] != 0
    live = plain["hidden"] != 0
    np.testing.assert_allclose(train["drop"][kept], plain["hidden"][kept] / 0.7, rtol=1e-6)
    assert abs(1 - kept[live].mean() - 0.3) < 0.03  # K.dropout: drops 30% and scales the rest
    assert not np.allclose(train["probs"], plain["probs"])
    np.save(tmp_path / "x.npy", ref["in"]["features"])
    args = ["run", prog.filename, "--state", str(prog_state(prog)), "--feed", f"features={tmp_path / 'x.npy'}",
            "--format", "json"]
    assert cli_main(args) == 0
    np.testing.assert_allclose(json.loads(capsys.readouterr().out)["probs"]["data"], ref["out"]["probs"],
                               **TOLERANCE)
    assert cli_main(args + ["--learning-phase", "1", "--seed", "3"]) == 0
    assert not np.allclose(json.loads(capsys.readouterr().out)["probs"]["data"], ref["out"]["probs"], **TOLERANCE)


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
    prog.load_state(state)  # the dict, as a state file
    np.testing.assert_array_equal(prog.variables["proj_kernel"], state["proj_kernel"])
    with pytest.raises(kgraph.StateError, match="the state given does not match the program: variable "
                       "'out_bias' .* is missing"):
        prog.load_state({k: v for k, v in state.items() if k != "out_bias"})


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


@pytest.mark.parametrize("name, layer, change, message", [
    ("lstm_text", "lstm", {"dropout": 0.2}, "layer 'lstm' (LSTM, layer 3 of 4 of model 'lstm_text'): "
     "dropout=0.2 is not translated"),
    ("cnn_bn", "conv", {"data_format": "channels_first"}, "layer 'conv' (Conv2D, layer 2 of 9 of model "
     "'cnn_bn'): data_format='channels_first': kgraph translates channels_last layers only"),
    ("cnn_bn", "bn", {"axis": [1]}, "layer 'bn' (BatchNormalization, layer 3 of 9 of model 'cnn_bn'): "
     "axis=[1]: kgraph translates batch normalization over the last axis only"),
    ("lstm_text", "positive", {"activation": {"class_name": "MyActivation"}}, "layer 'positive' (Dense, "
     "layer 4 of 4 of model 'lstm_text'): activation {'class_name': 'MyActivation'} is not a built-in"),
])
def test_arguments_that_would_change_the_values_are_refused(tmp_path, name, layer, change, message):
    path = edited(tmp_path, name, lambda c: layer_config(c, layer)["config"].update(change))
    with pytest.raises(kgraph.KGraphError) as e:
        kgraph.import_keras(path)
    assert message in str(e.value)


def test_a_mask_is_never_dropped(tmp_path):
    def flatten_after_embedding(config):
        layers = config["config"]["layers"]
        layers[2] = {"class_name": "Flatten", "config": {"name": "flat", "data_format": "channels_last"}}
    with pytest.raises(kgraph.KGraphError, match="layer 'flat' \\(Flatten, layer 3 of 4 of model 'lstm_text'\\): "
                       "its input carries a mask"):
        kgraph.import_keras(edited(tmp_path, "lstm_text", flatten_after_embedding))


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


# ---- a round trip: import, train further with kgraph run --epochs, export, run elsewhere ----

def training_program(source: str, output: str, variables: list[str]) -> str:
    """The imported program with a squared-error SGD step in place of its output statement."""
    body = source.rstrip().rsplit("\n", 1)[0]
    grads = [f"g_{v}" for v in variables]
    lines = [body, "placeholder target: float32[None, 2]",
             f"loss = mean(square({output} - target))",
             f"{', '.join(grads)} = gradients(loss, [{', '.join(variables)}])"]
    lines += [f"update {v} = {v} - 0.1 * {g}" for v, g in zip(variables, grads)]
    return "\n".join(lines + ["output loss", ""])


@pytest.mark.slow
def test_round_trip_import_train_export_run_in_a_new_process(tmp_path, capsys):
    kg, state = write_import(model_file("legacy_h5"), tmp_path / "model.kg")
    original = dict(np.load(state))
    source = kg.read_text()
    (tmp_path / "train.kg").write_text(training_program(source, "d3", sorted(original)))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    target = np.stack([x[:, 0] ** 2, np.abs(x[:, 1])], axis=1).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "target.npy", target)
    feeds = ["--feed", f"x={tmp_path / 'x.npy'}", "--feed", f"target={tmp_path / 'target.npy'}"]
    before = kgraph.load(tmp_path / "train.kg")
    before.load_state(state)
    loss_before = float(before.run(x=x, target=target)["loss"])
    assert cli_main(["run", str(tmp_path / "train.kg"), *feeds, "--state", str(state), "--epochs", "30",
                     "--batch-size", "8", "--quiet"]) == 0
    trained = dict(np.load(state))
    assert set(trained) == set(original) and not np.allclose(trained["d1_kernel"], original["d1_kernel"])
    after = kgraph.load(tmp_path / "train.kg")
    after.load_state(state)
    assert float(after.run(x=x, target=target)["loss"]) < 0.5 * loss_before
    assert cli_main(["export", str(kg), "-o", str(tmp_path / "model.kgx"), "--state", str(state),
                     "--platform", "cpu"]) == 0
    assert "warning" not in capsys.readouterr().err
    script = ("import sys, numpy as np, kgraph\nm = kgraph.load(sys.argv[1])\nx = np.load(sys.argv[2])\n"
              "np.savez('out.npz', one=m.run(x=x[:1])['d3'], all=m.run(x=x)['d3'])\n")
    code, _, err = run_script(script, tmp_path / "model.kgx", tmp_path / "x.npy", cwd=tmp_path)  # a new process
    assert code == 0, err
    predict = kgraph.load(kg)
    predict.load_state(state)
    want = predict.run(x=x)["d3"]
    with np.load(tmp_path / "out.npz") as out:
        np.testing.assert_allclose(out["all"], want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out["one"], want[:1], rtol=1e-5, atol=1e-6)


# ---- examples/keras_import: the committed program is what the import writes ------------

def test_the_example_cnn_imports_to_the_committed_program(tmp_path):
    example = Path(__file__).resolve().parent.parent / "examples" / "keras_import"
    kg, state = write_import(example / "cnn.keras", tmp_path / "cnn.kg")
    assert kg.read_text() == (example / "cnn.kg").read_text()
    with np.load(state) as fresh, np.load(example / "cnn.npz") as committed:
        assert fresh.files == committed.files
        for name in fresh.files:
            np.testing.assert_array_equal(fresh[name], committed[name], err_msg=name)
    prog = kgraph.load(example / "cnn.kg")
    prog.load_state(example / "cnn.npz")
    with np.load(example / "keras_predictions.npz") as keras:
        np.testing.assert_allclose(prog.run(pixels=keras["pixels"])["digit"], keras["digit"], **TOLERANCE)


def test_the_program_shown_in_docs_keras_md_is_what_the_import_writes(tmp_path):
    doc = (Path(__file__).resolve().parent.parent / "docs" / "keras.md").read_text()
    start = doc.index("# mlp.keras: ")
    kg, _ = write_import(model_file("mlp"), tmp_path / "mlp.kg")
    assert doc[start:doc.index("```", start)] == kg.read_text()
