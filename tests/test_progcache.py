"""The program cache (kgraph/warm.py, cached.py, progcache.py): a hit runs the stored
executable with the values a miss gives; any change of source, option, feed signature or
version misses; damaged or foreign entries are warned about and rebuilt; the size is bounded."""
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import kgraph
from forkserver import run_kgraph
from kgraph import cached, cli, progcache, warm
from kgraph.cached import CachedProgram
from kgraph.errors import FeedError, KGraphWarning

# A variable that a run updates, a fixed one, a None dimension, a random draw and the learning phase.
PROGRAM = """\
placeholder x: float32[None, 2]
variable v = [1.0, 2.0]
variable w = random_normal_variable((2, 1), mean=0.0, scale=1.0, seed=3)
update v = v + 1.0
y = dot(x, w) * 3.0 + sum(v)
noise = random_uniform((2,))
output y
output noise
output in_train_phase(1.0, 0.0) as phase
"""
X = np.array([[1.0, 2.0]], np.float32)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "programs"


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, dict]:
    """A cache directory that a miss of PROGRAM stored its entry in, and that run's outputs."""
    where = tmp_path_factory.mktemp("stored") / "cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KGRAPH_CACHE_DIR", str(where))
        outputs = kgraph.compile(PROGRAM, cache=True).run(x=X)
        warm.flush()
    return where, outputs


@pytest.fixture
def filled(cache, stored) -> Path:
    """`cache` as this test's own miss of PROGRAM would leave it: a copy of `stored`'s (modes
    and times kept), so that each test that starts from the entry does not compile for it."""
    shutil.copytree(stored[0], cache.parent)
    return cache


def names(directory: Path) -> list[str]:
    warm.flush()  # the entries are written beside the first run
    return sorted(p.name for p in directory.glob("*.kgc"))


def runs(program, n=3, **feeds):
    return [program.run(x=X, **feeds) for _ in range(n)]


def assert_same(a: list[dict], b: list[dict]) -> None:
    assert [list(r) for r in a] == [list(r) for r in b]
    for ra, rb in zip(a, b):
        for name in ra:
            assert ra[name].dtype == rb[name].dtype
            np.testing.assert_array_equal(ra[name], rb[name], err_msg=name)


def test_a_hit_runs_the_stored_executable_with_the_values_of_a_miss(cache):
    miss = kgraph.compile(PROGRAM, cache=True)
    assert isinstance(miss, kgraph.Program)
    reference = runs(miss)
    assert len(names(cache)) == 2  # the record and one executable
    hit = kgraph.compile(PROGRAM, cache=True)
    assert isinstance(hit, CachedProgram)
    assert hit._program is None
    assert_same(runs(hit), reference)
    assert hit._program is None  # the runs needed no compiler
    np.testing.assert_array_equal(hit.variables["v"], miss.variables["v"])
    assert hit.placeholders == miss.placeholders and hit.outputs == miss.outputs
    assert hit.updates == miss.updates and hit.state_signature() == miss.state_signature()
    assert_same([hit.run(x=X, training=True)], [miss.run(x=X, training=True)])
    # What needs the compiler's record compiles the program, with the hit's state.
    assert hit.ir() == miss.ir()
    np.testing.assert_array_equal(hit.program().variables["v"], hit.variables["v"])


def test_a_hit_answers_as_a_program_does(cache):
    # Outputs (a notebook table, a pytree), and the learning phase checked by the same rule.
    miss = kgraph.compile(PROGRAM, cache=True)
    miss.run(x=X)
    hit = kgraph.compile(PROGRAM, cache=True)
    assert isinstance(hit, CachedProgram) and type(hit.run(x=X)) is type(miss.run(x=X))
    for wrong in ("yes", 2, 0.5):
        with pytest.raises(kgraph.KGraphError, match="learning phase") as hit_error:
            hit.run(x=X, training=wrong)
        with pytest.raises(kgraph.KGraphError, match="learning phase") as miss_error:
            miss.run(x=X, training=wrong)
        assert str(hit_error.value) == str(miss_error.value)


def test_a_bfloat16_variable_hits_with_its_bits(cache):
    # .npy cannot name bfloat16: the entry keeps its uint16 bits (every hit was once "damaged").
    source = "variable w: bfloat16 = random_normal_variable((3,), 0.0, 1.0, seed=1)\noutput w * 2.0 as y\n"
    miss = kgraph.compile(source, cache=True).run()
    warm.flush()
    with warnings.catch_warnings():
        warnings.simplefilter("error", KGraphWarning)  # no "damaged entry" warning
        hit = kgraph.compile(source, cache=True)
    assert isinstance(hit, CachedProgram)
    assert_same([hit.run()], [miss])


def test_a_64_bit_program_hits_with_its_bits(cache):
    source = "placeholder n: int64[3]\nvariable c = [1.0, 2.0, 3.0]\noutput cumsum(n * 3000000000) as big\noutput c / 3.0 as third\n"
    feeds = {"n": np.array([1, 2, 3], np.int64)}
    miss = kgraph.compile(source, floatx="float64", cache=True).run(**feeds)
    hit = kgraph.compile(source, floatx="float64", cache=True)
    assert isinstance(hit, CachedProgram)
    assert_same([hit.run(**feeds)], [miss])
    assert miss["big"].dtype == np.int64 and miss["big"][-1] == 18000000000


def test_a_new_feed_shape_is_compiled_once_and_stored(filled):
    batch = np.ones((3, 2), np.float32)
    hit = kgraph.compile(PROGRAM, cache=True)
    first = hit.run(x=batch)
    assert hit._program is not None and len(names(filled)) == 3
    again = kgraph.compile(PROGRAM, cache=True)
    assert_same([again.run(x=batch)], [first])
    assert again._program is None


def test_feed_errors_on_a_hit_are_located_as_on_a_miss(cache):
    kgraph.compile(PROGRAM, filename="p.kg", cache=True).run(x=X)
    hit = kgraph.compile(PROGRAM, filename="p.kg", cache=True)
    assert isinstance(hit, CachedProgram)
    with pytest.raises(FeedError) as e:
        hit.run(x=[[1.0, 2.0, 3.0]])
    assert e.value.render().startswith("p.kg:1:1: error: feed 'x': shape mismatch")
    with pytest.raises(FeedError, match="matches no placeholder"):
        hit.run(x=X, z=X)
    with pytest.raises(FeedError, match="needs a feed"):
        hit.run()
    np.testing.assert_array_equal(hit.run(x=[[1, 2]])["y"], kgraph.compile(PROGRAM).run(x=X)["y"])


CHANGES = [{"source": PROGRAM.replace("3.0", "4.0")}, {"opt_level": 0}, {"floatx": "float64"}, {"seed": 1},
           {"fast_math": True}, {"limits": kgraph.Limits(max_depth=100)}]


def test_any_change_of_source_or_option_misses(filled):
    for change in CHANGES:
        options = dict(change)
        source = options.pop("source", PROGRAM)
        other = kgraph.compile(source, cache=True, **options)
        assert isinstance(other, kgraph.Program), change
    assert len(names(filled)) == 2  # a Program stores at its first run
    other.run(x=X)
    assert len(names(filled)) == 4
    assert_same(runs(kgraph.compile(source, cache=True, **options), 1), runs(kgraph.compile(source, **options), 1))


def test_another_version_misses(filled, monkeypatch):
    real = warm.versions()
    for field, value in (("jax", "0.0.1"), ("kgraph", "0.0.0"), ("build", "edited"), ("platform", "tpu")):
        monkeypatch.setattr(warm, "versions", lambda: {**real, field: value})
        assert isinstance(kgraph.compile(PROGRAM, cache=True), kgraph.Program), field
    monkeypatch.setattr(warm, "versions", lambda: real)
    assert isinstance(kgraph.compile(PROGRAM, cache=True), CachedProgram)


def test_an_entry_goes_to_the_directory_of_its_run_however_late_its_writer(cache, tmp_path, monkeypatch):
    # Under load a writer once ran after the next test had set its own KGRAPH_CACHE_DIR, and
    # wrote there, over a record that test had just damaged.
    late = []
    monkeypatch.setattr(cached, "in_background", late.append)  # the writers, held back
    kgraph.compile(PROGRAM, cache=True).run(x=X)
    assert len(late) == 1 and names(cache) == []
    monkeypatch.setenv("KGRAPH_CACHE_DIR", str(tmp_path / "elsewhere"))
    late.pop()()
    assert not (tmp_path / "elsewhere").exists()
    monkeypatch.setenv("KGRAPH_CACHE_DIR", str(cache.parent))
    assert len(names(cache)) == 2  # the record and the executable, where the run was


def test_the_cache_is_off_unless_asked(cache):
    kgraph.compile(PROGRAM).run(x=X)
    assert names(cache) == []
    kgraph.compile(PROGRAM, cache=True).run(x=X)
    assert isinstance(kgraph.compile(PROGRAM), kgraph.Program)


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flipped":
        data[-5] ^= 0xFF
        path.write_bytes(bytes(data))
    else:  # signed with another key
        progcache._secret(path.parent)
        (path.parent / progcache.KEY_FILE).write_bytes(b"k" * 32)


@pytest.mark.parametrize("how", ["truncated", "flipped", "foreign"])
@pytest.mark.parametrize("which", ["record", "executable"])
def test_a_damaged_entry_is_warned_about_and_rebuilt(filled, stored, how, which):
    reference = [stored[1]]
    record, executable = sorted(filled.glob("*.kgc"), key=lambda p: p.name.count("."))
    damage(record if which == "record" else executable, how)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert_same(runs(kgraph.compile(PROGRAM, cache=True), 1), reference)
    assert any(isinstance(w.message, KGraphWarning) and "damaged program-cache entry" in str(w.message)
               for w in caught)
    assert isinstance(kgraph.compile(PROGRAM, cache=True), CachedProgram)  # rebuilt


def test_a_key_file_others_can_read_is_not_trusted(filled):
    os.chmod(filled / progcache.KEY_FILE, 0o644)
    assert isinstance(kgraph.compile(PROGRAM, cache=True), kgraph.Program)
    os.chmod(filled / progcache.KEY_FILE, 0o600)
    assert isinstance(kgraph.compile(PROGRAM, cache=True), CachedProgram)
    assert oct(filled.stat().st_mode & 0o777) == "0o700"


def test_the_size_bound_evicts_the_least_recently_used(filled, monkeypatch):
    assert progcache.evict(0) == 2 and names(filled) == []
    monkeypatch.setenv(progcache.ENV_MAX, "1")
    kgraph.compile(PROGRAM, cache=True).run(x=X)
    assert names(filled) == []  # each write leaves at most one byte: nothing
    monkeypatch.setenv(progcache.ENV_MAX, "many")
    with pytest.raises(kgraph.KGraphError, match=progcache.ENV_MAX):
        progcache.max_bytes()


def test_cache_info_and_clear(filled, capsys):
    assert cli.main(["cache", "info"]) == 0
    assert "entries:     2" in capsys.readouterr().out
    assert cli.main(["cache", "clear"]) == 0
    assert "removed" in capsys.readouterr().out and names(filled) == []
    assert cli.main(["cache", "info"]) == 0 and "entries:     0" in capsys.readouterr().out


CHILD = """
import sys, numpy as np, kgraph
p = kgraph.compile(sys.stdin.read(), cache=True)
print(type(p).__name__, p.run(x=np.array([[1.0, 2.0]], np.float32))["y"].tolist(),
      "kgraph.program" in sys.modules, "lark" in sys.modules)
"""


@pytest.mark.slow
def test_a_second_process_skips_the_compiler(cache, tmp_path):
    # The first compile is this process's (a miss stores the entry); the hit is a fresh one's.
    first = kgraph.compile(PROGRAM, cache=True)
    assert isinstance(first, kgraph.Program)
    y = first.run(x=np.array([[1.0, 2.0]], np.float32))["y"].tolist()
    warm.flush()
    out = subprocess.run([sys.executable, "-c", CHILD], input=PROGRAM, capture_output=True, text=True,
                         env=dict(os.environ), check=True)
    second = out.stdout.split()
    assert second[0] == "CachedProgram" and second[-2:] == ["False", "False"]  # nor its imports
    assert " ".join(second[1:-2]) == str(y)


@pytest.mark.slow
def test_kgraph_run_uses_the_cache_and_no_cache_does_not(cache, tmp_path, capsys):
    (tmp_path / "p.kg").write_text("placeholder x: float32[None, 2]\ny = dot(x, [[0.5], [-1.0]]) * 3.0\noutput y\n")

    def kgraph_run(*extra):  # the executable's entry(), which turns JAX's cache on, in a process each
        code, out, err = run_kgraph("run", "p.kg", "--feed", "x=[[1, 2]]", *extra, cwd=tmp_path)
        assert code == 0, err
        return out

    # --no-cache touches neither cache, so it can run in this process.
    code = cli.main(["run", str(tmp_path / "p.kg"), "--feed", "x=[[1, 2]]", "--no-cache"])
    assert code == 0 and capsys.readouterr().out == "y: float32[1, 1] = [[-4.5]]\n" and names(cache) == []
    assert kgraph_run() == kgraph_run() == "y: float32[1, 1] = [[-4.5]]\n"
    assert len(names(cache)) == 2
