"""The fuzzer behind tests/test_fuzz.py: mutated programs, feeds, state files and exports.

Programs, from examples/*.kg and every op's registry example, are mutated token by
token, knowing what each token is: seven in ten validly (tests/fuzz_programs.py: an op
becomes one with the same signature, a name another bound name, a number a small one of
its kind), so that they compile and run; the rest destructively (a number becomes an
edge value such as 2**64 or 1e308, a name another op or a dtype, a bracket is dropped
or doubled, an operand is nested deeply), so that they test the parser's errors. Feeds (.npy, .npz), state files and .kgx exports are mutated byte by
byte (flips, truncations, insertions, headers overwritten). A case passes if kgraph
answers it with a KGraphError (or succeeds); anything else is a bug.

Cases run in a worker process (`python tests/fuzzing.py worker`) whose address space is
capped (resource.setrlimit) and which is killed when one case takes too long, so a
runaway case cannot take the machine and a crash (a signal) is seen as a bug too.

    KGRAPH_FUZZ_CASES=5000 KGRAPH_FUZZ_SEED=7 python -m pytest -q tests/test_fuzz.py
"""
from __future__ import annotations

import base64
import io
import json
import os
import random
import re
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fuzz_programs import Vocabulary, mutate_validly

ROOT = Path(__file__).resolve().parent.parent
MEMORY_BYTES = 2 << 30   # the worker's address-space cap
CASE_SECONDS = 20        # a case that takes longer (its own time, see clock) is a bug: a hang
GRACE_SECONDS = 5        # then the parent kills a worker that has not answered
WALL_FACTOR = 10         # or after this many times as much wall time, however loaded the machine
STARTUP_SECONDS = 120    # a worker's import of JAX and its first compile
CASES_PER_WORKER = 1000  # a fresh worker then: JAX's caches of compiled programs only grow (a
                         # worker's peak resident size: 281 MB after 100 cases, 313 MB after 1,000)
VALID_SHARE = 0.7         # of the mutated programs, those mutated validly (fuzz_programs.py)
WORKER_LIMITS = dict(max_elements=10**7, max_file_bytes=10**8)  # what a fuzz case may ask

TOKEN = re.compile(r'\d+\.\d*(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?|"[^"\n]*"|[A-Za-z_]\w*'
                   r'|\*\*|//|[<>=!]=|\n|[^\S\n]+|.')
EDGE_NUMBERS = ["0", "1", "-1", "2", "3", "255", "2**31", "2**62", "2**63", "2**64", "10**12",
                "10**400", "10 ** 10 ** 10", "1e308", "1e-320", "0.0", "-0.0", "1e39", "7" * 60]
DTYPES = ['"float16"', '"bfloat16"', '"float32"', '"float64"', '"int8"', '"int32"', '"int64"',
          '"uint8"', '"bool"', '"complex64"', '"a\\x00"']
# Command lines: a subcommand, a program (or an odd path) and options with odd values.
COMMANDS = ["run", "check", "lower", "ir", "graph", "export", "ops"]
ODD_PATHS = ["/dev/zero", "/dev/null", "/tmp", "missing.kg", "", "-"]
OPTIONS = ["--feed", "--feed-shape", "--seed", "--epochs", "--steps", "--batch-size", "--state",
           "--out", "-O", "--floatx", "--format", "--emit", "--max-elements", "--max-depth",
           "--max-file-bytes", "--max-int-digits", "--fold-limit", "--disable-pass", "--after",
           "--shuffle", "--trace", "--time", "--strict", "--quiet", "--output", "--platform"]
VALUES = ["-1", "0", "1", "3", "2**64", "99999999999999999999", "x=[[1, 2, 3, 4]]", "x=-",
          "x=/dev/zero", "x=[99999999999,4]", "x=float32[2,4]", "y=[[0, 0, 1]]", "x=" + "[" * 3000,
          "/dev/zero", "/tmp", "file", "allow_pickle", "json", "hlo", "float64", "fold", "nan",
          "out.npz", "s.npz", "m.kgx"]
PUNCTUATION = ["(", ")", "[", "]", ",", ":", "=", "*", "-", "None", "...", "::0", "\n", "\t"]


@dataclass
class Case:
    kind: str      # "program", "feed", "state" or "export"
    payload: str   # program text, or base64 of the file's bytes
    origin: str    # what it was mutated from

    def describe(self) -> str:
        body = self.payload if self.kind in ("program", "cli") else f"{len(base64.b64decode(self.payload))} bytes"
        return f"{self.kind} from {self.origin}: {body[:400]!r}"


# ---- seeds ------------------------------------------------------------------------------

def seed_programs() -> list[tuple[str, str]]:
    from kgraph.ops import REGISTRY

    out = [(p.name, p.read_text()) for p in sorted((ROOT / "examples").glob("*.kg"))]
    out += [(f"ops:{name}", op.example) for name, op in sorted(REGISTRY.items()) if op.example]
    return out


def seed_files(directory: Path) -> dict[str, list[tuple[str, bytes]]]:
    """Valid feeds, state files and exports to mutate (made once, in the parent)."""
    import numpy as np

    import kgraph
    from kgraph.export import export_program

    def npy(array) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()

    def npz(arrays, compressed) -> bytes:
        buffer = io.BytesIO()
        (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
        return buffer.getvalue()

    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    program = kgraph.compile("placeholder x: float32[None, 2]\nvariable w = ones((2,))\n"
                             "update w = w * 0.5\noutput sum(x * w, axis=1)\n")
    program.run(x=x)
    program.save_state(directory / "state.npz")
    export_program(program, directory / "m.kgx")
    return {
        "feed": [("x.npy", npy(x)), ("fortran.npy", npy(np.asfortranarray(x))),
                 ("x.npz", npz({"x": x}, False)), ("xz.npz", npz({"x": x}, True))],
        "state": [("state.npz", (directory / "state.npz").read_bytes())],
        "export": [("m.kgx", (directory / "m.kgx").read_bytes())],
    }


# ---- mutators ---------------------------------------------------------------------------

def mutate_program(text: str, rng: random.Random, names: list[str]) -> str:
    tokens = TOKEN.findall(text)
    for _ in range(rng.randint(1, 3)):
        if not tokens:
            break
        i = rng.randrange(len(tokens))
        tok = tokens[i]
        choice = rng.randrange(9)
        if tok[0].isdigit() and choice < 4:
            tokens[i] = rng.choice(EDGE_NUMBERS)
        elif tok[0] == '"' and choice < 5:
            tokens[i] = rng.choice(DTYPES)
        elif (tok[0].isalpha() or tok[0] == "_") and choice < 3:
            tokens[i] = rng.choice(names)
        elif choice == 5:
            depth = rng.choice([3, 60, 300])
            tokens[i] = "(" * depth + tok + ")" * depth if tok.strip() else tok
        elif choice == 6:
            del tokens[i]
        elif choice == 7:
            tokens.insert(i, rng.choice(PUNCTUATION + [tok]))
        else:
            j = rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
    return "".join(tokens)


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(5)
        i = rng.randrange(max(len(data), 1))
        if choice == 0 and data:
            data[i] ^= 1 << rng.randrange(8)
        elif choice == 1:
            data = data[: i]
        elif choice == 2:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif choice == 3 and data:
            digits = str(rng.choice([0, 2**31, 10**12, 2**64, 10**30])).encode()
            data[i:i + len(digits)] = digits  # a header's shape or a size, say
        else:
            data[i:i + 8] = b"\xff" * 8
    return bytes(data)


def make_command_line(rng: random.Random, programs) -> list[str]:
    examples = [str(p) for p in sorted((ROOT / "examples").glob("*.kg"))]
    command = rng.choice(COMMANDS)
    target = rng.choice(sorted(n for n, _ in programs if n.startswith("ops:")))[4:] \
        if command == "ops" else rng.choice(examples * 3 + ODD_PATHS)
    argv = [command, target]
    for _ in range(rng.randint(0, 4)):
        argv.append(rng.choice(OPTIONS))
        if rng.random() < 0.8:
            argv.append(rng.choice(VALUES))
    return argv


def make_cases(count: int, seed: int, files: dict[str, list[tuple[str, bytes]]]) -> list[Case]:
    from kgraph.ops import REGISTRY

    rng = random.Random(seed)
    programs = seed_programs()
    names = [n for n, op in REGISTRY.items() if op.category != "internal"] + ["x", "y", "w", "None"]
    vocabulary = Vocabulary.from_registry()
    cases = []
    for i in range(count):
        if i % 10 == 9:  # one in ten is a command line
            cases.append(Case("cli", json.dumps(make_command_line(rng, programs)), "argv"))
        elif i % 5 < 3:  # three in five are programs
            origin, text = rng.choice(programs)
            if rng.random() < VALID_SHARE:
                text = mutate_validly(text, rng, vocabulary)
            else:
                text = mutate_program(text, rng, names)
            cases.append(Case("program", text, origin))
        else:
            kind = rng.choice(list(files))
            origin, data = rng.choice(files[kind])
            cases.append(Case(kind, base64.b64encode(mutate_bytes(data, rng)).decode(), origin))
    return cases


# ---- the worker (a child process) ------------------------------------------------------

def _feeds_for(placeholders: dict) -> dict:
    import numpy as np

    return {name: np.zeros(tuple(d if isinstance(d, int) else 2 for d in shape), dtype=dtype)
            for name, (dtype, shape) in placeholders.items()}


def run_case(case: Case, directory: Path) -> tuple[str, str]:
    """("ok" | "error" | "bug", detail); only "bug" fails the fuzz test."""
    if case.kind == "probe":  # the harness's own test: needs no kgraph (a bare worker has none)
        try:
            return run_probe(case.payload)
        except Exception as e:  # noqa: BLE001 - a probe that raises (MemoryError) is a bug to report
            return "bug", f"{type(e).__name__}: {e}"
    import kgraph
    from kgraph import bugs, limits
    from kgraph.feeds import read_feed_value
    from kgraph.state import read_state_file

    bugs.clear()
    if case.kind == "cli":
        return run_command_line(json.loads(case.payload))
    with limits.using(limits.Limits(**WORKER_LIMITS)):
        try:
            if case.kind == "program":
                program = kgraph.compile(case.payload, filename="fuzz.kg")
                program.run(**_feeds_for(program.placeholders))
                return "ok", ""
            path = directory / {"feed": "f.npz", "state": "s.npz", "export": "m.kgx"}[case.kind]
            if case.kind == "feed" and not case.origin.endswith(".npz"):
                path = directory / "f.npy"
            path.write_bytes(base64.b64decode(case.payload))
            if case.kind == "feed":
                try:
                    read_feed_value(str(path))
                except ValueError as e:  # the feed reader's protocol: the caller names the feed
                    return "error", str(e)[:200]
            elif case.kind == "state":
                read_state_file(path)
            else:
                program = kgraph.load(path)
                program.run(**_feeds_for(program.placeholders))
            return "ok", ""
        except kgraph.KGraphError as e:
            return "error", e.message[:200]
        except Exception as e:  # noqa: BLE001 - the point: anything else is a bug to report
            import traceback

            frames = traceback.extract_tb(e.__traceback__)[-3:]
            where = "; ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames)
            return "bug", f"{bugs.report(e)}\n(raised at {where})"


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


PROBES = {  # cases that break a bound on purpose: the harness's own test (test_fuzz.py)
    "sleep": time.sleep,                      # a hang that uses no CPU (a FIFO read, say)
    "spin": _spin,                            # a runaway computation
    "allocate": lambda n: bytearray(int(n)),  # memory past the worker's address-space cap
    "abort": lambda _: os.abort(),            # what XLA does when it cannot allocate a shape
}


def run_probe(payload: str) -> tuple[str, str]:
    name, _, amount = payload.partition(":")
    PROBES[name](float(amount or 0))
    return "ok", ""


def run_command_line(argv: list[str]) -> tuple[str, str]:
    """`kgraph ARGV` in this process: exits 0, 1 and 2 are answers, 70 (a bug) is not."""
    import contextlib

    from kgraph.cli import main

    limits = [f"--max-elements={WORKER_LIMITS['max_elements']}"] if "ops" not in argv[:1] else []
    errors = io.StringIO()
    with open(os.devnull) as nothing, contextlib.redirect_stderr(errors):
        sys.stdin = nothing  # `--feed x=-` reads standard input, which is the cases' pipe
        try:
            code = main(argv[:2] + limits + argv[2:])
        except SystemExit as e:  # argparse: a bad command line, or --help
            code = e.code
        finally:
            sys.stdin = sys.__stdin__
    if "error: out of memory" in errors.getvalue():  # exit 1, but past the worker's 2 GB
        return "bug", f"exit {code}: {errors.getvalue()[-600:]}"
    if code in (0, 1, 2, None):
        return ("ok" if not code else "error"), errors.getvalue()[-200:]
    return "bug", f"exit {code}: {errors.getvalue()[-600:]}"


def clock(pid: int | str = "self") -> tuple[float, float]:
    """(wall seconds, seconds the process's main thread has waited for a CPU). A case's own
    time is its wall time less that wait: on a loaded machine (other jobs, `nice -n 10`) a
    case that waits its turn does not look hung, while one that sleeps or blocks on a read
    counts in full. Where /proc/PID/schedstat is missing, it is wall time alone."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            waited = int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        waited = 0.0
    return time.monotonic(), waited


def own_seconds(since: tuple[float, float], pid: int | str = "self") -> float:
    wall, waited = clock(pid)
    return (wall - since[0]) - (waited - since[1])


def worker(case_seconds: float, preload: bool = True) -> None:
    import warnings

    warnings.simplefilter("ignore")
    directory = Path(tempfile.mkdtemp(prefix="kgraph-fuzz-"))
    os.chdir(directory)  # what a command line writes (--out, export -o) stays out of the repository
    replies = os.fdopen(os.dup(1), "w")  # what a case prints (print_tensor) must not mix in
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    sys.stdout = open(os.devnull, "w")
    if preload:  # start-up (JAX's import, its first compile) is no case's time
        import kgraph

        kgraph.compile("output 1.0").run()
    print(json.dumps({"ready": True}), file=replies, flush=True)
    for line in sys.stdin:
        start = clock()
        outcome, detail = run_case(Case(**json.loads(line)), directory)
        seconds = own_seconds(start)
        if seconds > case_seconds:
            outcome, detail = "bug", f"took {seconds:.1f} s (the limit is {case_seconds:g} s)"
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
        print(json.dumps({"outcome": outcome, "detail": detail, "peak": peak, "seconds": seconds}),
              file=replies, flush=True)


# ---- the parent --------------------------------------------------------------------------

class Worker:
    """A worker process under the bounds: `memory_bytes` of address space, `case_seconds`
    of its own time a case (it reports a slower case; the parent kills one that does not
    answer `grace_seconds` later, or after `WALL_FACTOR` times that much wall time).
    `preload=False` (for probes, which need no kgraph) skips importing kgraph at start-up."""

    def __init__(self, memory_bytes: int = MEMORY_BYTES, case_seconds: float = CASE_SECONDS,
                 grace_seconds: float = GRACE_SECONDS, preload: bool = True):
        env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONWARNINGS="ignore")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "worker", str(memory_bytes), str(case_seconds),
             "preload" if preload else "bare"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=env, cwd=ROOT)
        self.case_seconds, self.limit = case_seconds, case_seconds + grace_seconds
        self.peak = 0         # the largest resident size the worker reported, in bytes
        self.slowest = 0.0    # the most own seconds a case took
        if not isinstance(self._reply(STARTUP_SECONDS), dict):
            self.proc.kill()
            raise RuntimeError(f"the fuzz worker did not start (status {self.proc.wait()})")

    def _reply(self, limit: float) -> dict | str:
        """The worker's next reply, or "died" (it closed its end), or "hung" (no answer after
        `limit` seconds of its own time)."""
        start = clock(self.proc.pid)
        while True:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.25)
            if ready:
                line = self.proc.stdout.readline()
                return json.loads(line) if line else "died"
            elapsed = time.monotonic() - start[0]
            if own_seconds(start, self.proc.pid) > limit or elapsed > WALL_FACTOR * limit:
                return "hung"

    def run(self, case: Case) -> tuple[str, str]:
        try:
            self.proc.stdin.write(json.dumps(case.__dict__) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died: the reply below says how
        reply = self._reply(self.limit)
        if isinstance(reply, dict):
            self.peak = max(self.peak, reply["peak"])
            self.slowest = max(self.slowest, reply["seconds"])
            return reply["outcome"], reply["detail"]
        if reply == "hung":
            self.proc.kill()
            self.proc.wait()
            return "bug", f"hung: no answer after {self.limit:g} s of its own time (killed)"
        try:
            code = self.proc.wait(timeout=10)  # it closed its end: it died, or is dying
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "bug", "the worker closed its output but did not exit (killed)"
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"status {code}"
        return "bug", f"worker died with {how}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def fuzz(count: int, seed: int) -> tuple[dict[str, float], list[tuple[Case, str]]]:
    """Run `count` cases; the counts of outcomes ("ok", "error", "bug", and per kind as
    "program ok"...), "peak" (the largest worker's resident bytes), "slowest" (a case's
    most own seconds), and the bugs (each case with what went wrong)."""
    with tempfile.TemporaryDirectory() as d:
        cases = make_cases(count, seed, seed_files(Path(d)))
    counts = {"ok": 0, "error": 0, "bug": 0, "peak": 0, "slowest": 0.0}
    found = []
    worker_ = Worker()
    try:
        for i, case in enumerate(cases):
            if i and i % CASES_PER_WORKER == 0:
                worker_.close()
                worker_ = Worker()
            outcome, detail = worker_.run(case)
            counts[outcome] += 1
            counts[f"{case.kind} {outcome}"] = counts.get(f"{case.kind} {outcome}", 0) + 1
            counts["peak"] = max(counts["peak"], worker_.peak)
            counts["slowest"] = max(counts["slowest"], worker_.slowest)
            if outcome == "bug":
                found.append((case, detail))
                if worker_.proc.poll() is not None:
                    worker_ = Worker()
    finally:
        worker_.close()
    return counts, found


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    memory = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))  # before JAX starts
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash is reported, not dumped (slowly)
    sys.path.insert(0, str(ROOT))
    worker(float(sys.argv[3]), sys.argv[4] == "preload")
