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

    # A fresh venv that borrows jax/numpy/lark from this interpreter but gets kgraph only from the wheel.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import kgraph; print(kgraph.__file__)"], cwd=elsewhere,
                           capture_output=True, text=True, check=True).stdout
    assert str(venv) in where  # the wheel's copy, not the checkout's
    run = subprocess.run([str(venv / "bin" / "kgraph"), "run", str(ROOT / "examples" / "quickstart.kg")],
                         cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "loss: float32[]" in run.stdout
