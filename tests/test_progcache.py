"""The program cache (kgraph/progcache.py): hits, misses on any change, damaged entries, bounds."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = "placeholder x: float32[None, 2]\nw = [[0.5], [-1.0]]\ny = dot(x, w) * 3.0\noutput y\n"


def kgraph(tmp_path, *args, env_extra=None):
    env = dict(os.environ, KGRAPH_CACHE_DIR=str(tmp_path / "cache"), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "kgraph", *args], env=env, capture_output=True,
                          text=True, cwd=tmp_path)


def entries(tmp_path):
    return sorted((tmp_path / "cache" / "programs").glob("*.kgx"))


@pytest.fixture
def prog(tmp_path):
    (tmp_path / "p.kg").write_text(PROGRAM)
    return tmp_path


def run(tmp_path, *extra, env_extra=None):
    proc = kgraph(tmp_path, "run", "p.kg", "--feed", "x=[[1, 2]]", "--format", "json", *extra,
                  env_extra=env_extra)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_second_run_uses_the_entry_and_any_change_misses(prog):
    first = run(prog)
    assert len(entries(prog)) == 1
    assert oct((prog / "cache" / "programs").stat().st_mode & 0o777) == "0o700"
    second = run(prog)
    assert second.stdout == first.stdout and '"data": [[-4.5]]' in first.stdout
    assert len(entries(prog)) == 1
    run(prog, "-O0")
    run(prog, "--floatx", "float64")
    assert len(entries(prog)) == 3
    (prog / "p.kg").write_text(PROGRAM.replace("3.0", "4.0"))
    changed = run(prog)
    assert '"data": [[-6.0]]' in changed.stdout and len(entries(prog)) == 4
    assert run(prog, "--no-cache").stdout == changed.stdout and len(entries(prog)) == 4


def test_a_damaged_entry_is_warned_about_and_rebuilt(prog):
    good = run(prog).stdout
    (entry,) = entries(prog)
    data = bytearray(entry.read_bytes())
    entry.write_bytes(data[: len(data) // 2])  # truncated
    again = run(prog)
    assert again.stdout == good
    assert "damaged program-cache entry" in again.stderr
    assert entries(prog) and entries(prog)[0].stat().st_size == len(data)


def test_info_clear_and_the_bound(prog):
    run(prog)
    info = kgraph(prog, "cache", "info")
    assert info.returncode == 0 and "entries:     1" in info.stdout
    run(prog, "-O1", env_extra={"KGRAPH_CACHE_MAX_BYTES": "1"})  # the bound leaves no entry
    assert entries(prog) == []
    run(prog)
    assert kgraph(prog, "cache", "clear").returncode == 0 and entries(prog) == []
    assert "$KGRAPH_CACHE_MAX_BYTES, 1 GiB unless set" in kgraph(prog, "cache", "--help").stdout
