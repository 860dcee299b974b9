"""`kgraph export` and .kgx files: one artifact for every batch size, no source, no pickle."""
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kgraph
from forkserver import run_script
from kgraph.cli import main as cli_main
from kgraph.export import export_program, load_exported

ROOT = Path(__file__).resolve().parent.parent

MODEL = """\
placeholder x: float32[batch, 4]
placeholder y: float32[batch, 3]
placeholder extra: float32[None, 2]
variable W = random_normal_variable((4, 3), mean=0.0, scale=0.5, seed=0)
variable b: float64 = [0.1, -0.2, 0.3]
p = softmax(dot(x, W) + b)               # float64: the artifact keeps it
loss = sum(categorical_crossentropy(y, p)) + sum(extra)
dW, db = gradients(loss, [W, b])
output loss, p, dW, db
"""


def feeds(batch: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=(batch, 4)).astype(np.float32),
            "y": np.eye(3, dtype=np.float32)[rng.integers(0, 3, batch)],
            "extra": rng.normal(size=(batch + 2, 2)).astype(np.float32)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Compiled from a .kg file and exported once; the source is then deleted."""
    folder = tmp_path_factory.mktemp("export")
    source = folder / "model.kg"
    source.write_text(MODEL)
    prog = kgraph.load(source)
    export_program(prog, folder / "model.kgx")
    source.unlink()
    return prog, folder / "model.kgx"


def assert_same(got: dict, want: dict):
    assert list(got) == list(want)
    for name in want:
        assert got[name].dtype == want[name].dtype, name
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_runs_with_batch_1_and_500_in_a_new_process_without_the_source(exported, tmp_path):
    prog, artifact = exported
    assert not artifact.with_suffix(".kg").exists()
    for batch in (1, 500):
        np.savez(tmp_path / f"feeds{batch}.npz", **feeds(batch))
    script = """
import sys, numpy as np, kgraph
prog = kgraph.load(sys.argv[1])
for batch in (1, 500):
    with np.load(f"feeds{batch}.npz", allow_pickle=False) as f:
        np.savez(f"out{batch}.npz", **prog.run(**dict(f)))
"""
    code, _, err = run_script(script, artifact, cwd=tmp_path)  # a new process (tests/forkserver.py)
    assert code == 0, err
    for batch in (1, 500):
        with np.load(tmp_path / f"out{batch}.npz") as out:
            assert_same(dict(out), prog.run(**feeds(batch)))
            assert out["p"].shape == (batch, 3)


def test_load_in_process_matches_the_compiled_program(exported):
    prog, path = exported
    loaded = kgraph.load(path)
    assert loaded.placeholders == prog.placeholders
    assert loaded.outputs == prog.outputs
    assert loaded.platforms == ["cpu", "cuda"]
    for name, value in prog.variables.items():
        assert loaded.variables[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded.variables[name], value)
    assert_same(loaded.run(**feeds(7, seed=3)), prog.run(**feeds(7, seed=3)))


def test_named_dims_share_one_symbol(exported):
    _, path = exported
    f = feeds(4)
    f["y"] = f["y"][:3]
    with pytest.raises(kgraph.FeedError, match="dimension 'batch' is 3 here but 4"):
        load_exported(path).run(**f)


def test_cli_export_and_run(tmp_path, capsys):
    source = tmp_path / "small.kg"
    source.write_text("placeholder x: float32[None, 2]\nvariable w = [[1.0], [2.0]]\noutput dot(x, w) as y\n")
    assert cli_main(["export", str(source), "-o", str(tmp_path / "small.kgx"), "--platform", "cpu"]) == 0
    assert cli_main(["run", str(tmp_path / "small.kgx"), "--feed", "x=[[1, 1], [2, 3]]", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"y": {"dtype": "float32", "shape": [2, 1], "data": [[3.0], [8.0]]}}


def test_print_tensor_is_refused_at_export_time(tmp_path):
    prog = kgraph.compile("placeholder x: float32[2]\ny = print_tensor(x * 2, message='y=')\noutput y",
                          filename="p.kg")
    with pytest.raises(kgraph.KGraphError, match="print_tensor cannot be exported") as e:
        export_program(prog, tmp_path / "p.kgx")
    assert (e.value.filename, e.value.line) == ("p.kg", 2)


def rewrite_manifest(src: Path, dst: Path, **changes):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "manifest.json":
                data = json.dumps(dict(json.loads(data), **changes)).encode()
            zout.writestr(item, data)


def test_a_newer_format_version_is_refused(exported, tmp_path):
    _, path = exported
    rewrite_manifest(path, tmp_path / "future.kgx", version=3, kgraph_version="9.0")
    with pytest.raises(kgraph.KGraphError, match="format version 3 .* newer kgraph \\(9.0\\)"):
        kgraph.load(tmp_path / "future.kgx")


def test_not_an_artifact(tmp_path):
    (tmp_path / "junk.kgx").write_bytes(b"not a zip")
    with pytest.raises(kgraph.KGraphError, match="not a valid kgraph exported program"):
        kgraph.load(tmp_path / "junk.kgx")
    with zipfile.ZipFile(tmp_path / "other.kgx", "w") as z:
        z.writestr("manifest.json", json.dumps({"format": "something-else"}))
    with pytest.raises(kgraph.KGraphError, match="not a kgraph exported program"):
        kgraph.load(tmp_path / "other.kgx")


class Boom:
    def __reduce__(self):
        return (print, ("pickle ran!",))


def test_loading_never_unpickles(exported, tmp_path, capsys):
    _, path = exported
    evil = tmp_path / "evil.kgx"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(evil, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "variables/0.npy":
                buffer = io.BytesIO()
                np.save(buffer, np.array([Boom()], dtype=object), allow_pickle=True)
                data = buffer.getvalue()
            zout.writestr(item, data)
    with pytest.raises(kgraph.KGraphError, match="not a valid kgraph exported program"):
        kgraph.load(evil)
    assert "pickle ran!" not in capsys.readouterr().out


def test_none_batches_that_must_agree_become_one_dimension(tmp_path):
    prog = kgraph.compile("placeholder x: float32[None, 2]\nplaceholder y: float32[None, 2]\n"
                          "output sum(x * y, axis=1) as dots")
    export_program(prog, tmp_path / "dots.kgx", platforms=("cpu",))
    loaded = load_exported(tmp_path / "dots.kgx")
    assert loaded.placeholders == {"x": ("float32", (None, 2)), "y": ("float32", (None, 2))}
    np.testing.assert_allclose(loaded.run(x=np.ones((3, 2)), y=np.full((3, 2), 2.0))["dots"], [4.0] * 3)
    with pytest.raises(kgraph.FeedError, match="dimension 'batch' is 4 here but 3"):
        loaded.run(x=np.ones((3, 2)), y=np.ones((4, 2)))


def test_dimensions_that_cannot_be_told_apart_ask_for_names(tmp_path):
    prog = kgraph.compile("placeholder a: float32[2, None]\nplaceholder b: float32[2, None]\noutput a + b as s",
                          filename="ab.kg")
    with pytest.raises(kgraph.KGraphError, match="name the dimensions that must agree"):
        export_program(prog, tmp_path / "ab.kgx", platforms=("cpu",))


def test_bfloat16_variables_and_unseeded_random_ops(tmp_path):
    prog = kgraph.compile("placeholder x: float32[None, 2]\nvariable h: bfloat16 = [[1.5, 2.0]]\n"
                          "output x + cast(h, 'float32') as y, random_uniform((2,)) as u")
    export_program(prog, tmp_path / "r.kgx", platforms=("cpu",))
    loaded = load_exported(tmp_path / "r.kgx")
    assert loaded.variables["h"].dtype.name == "bfloat16"
    first, second = loaded.run(x=np.ones((3, 2))), loaded.run(x=np.ones((1, 2)))
    np.testing.assert_array_equal(first["y"], np.full((3, 2), [2.5, 3.0]))
    assert not np.array_equal(first["u"], second["u"])  # a fresh draw every run, as Program.run
    np.testing.assert_array_equal(first["u"], prog.run(x=np.ones((3, 2)))["u"])
