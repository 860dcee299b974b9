"""The grammar ships inside the wheel: build one, install it into a fresh venv, run an example."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_parses(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(dist), str(ROOT)], check=True, timeout=300)
    (wheel,) = dist.glob("kgraph-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "kgraph/grammar/kgraph.lark" in names
    assert not any(n.startswith(("tests/", "grammar/")) for n in names)
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "kgraph").rglob("*.py")}
    assert not sources - set(names), f"not in the wheel (pyproject.toml's packages): {sorted(sources - set(names))}"

    # A fresh venv that gets kgraph only from the wheel and borrows its dependencies from this
    # interpreter's site directories (a .pth line per directory: the .pth files in them, such
    # as an editable install's, are not run, so the checkout's kgraph stays out).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site_dir = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    borrowed = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]
    assert borrowed, sys.path
    (Path(site_dir) / "borrowed.pth").write_text("".join(p + "\n" for p in borrowed))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Where `import kgraph` would load it from, without the import (JAX's start-up, a second).
    find = "import importlib.util; print(importlib.util.find_spec('kgraph').origin)"
    where = subprocess.run([str(python), "-c", find], cwd=elsewhere, capture_output=True, text=True,
                           check=True).stdout
    assert str(venv) in where  # the wheel's copy, not the checkout's
    run = subprocess.run([str(venv / "bin" / "kgraph"), "run", str(ROOT / "examples" / "quickstart.kg")],
                         cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "loss: float32[]" in run.stdout


def test_the_repository_root_holds_no_scratch_outputs():
    # Running docs/python.md's blocks by hand leaves ckpt.npz, model.kgx, logreg.kgx and the like
    # in the working directory; twice they were committed. Programs and data live in examples/.
    scratch = sorted(p.name for p in ROOT.iterdir()
                     if p.is_file() and p.suffix in (".npz", ".npy", ".kgx", ".kg", ".csv", ".dot", ".svg"))
    assert not scratch, f"remove these from the repository root: {scratch}"
