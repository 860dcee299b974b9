"""Fresh processes without JAX's start-up: children of a server that imported kgraph once.

A test about what a process does (its exit status and output, a signal in the middle of a
run, a state file killed mid-write, an artifact run where the source never was) needs a
process of its own, and `python -m kgraph` spends about a second of CPU importing JAX before
it does anything. These children are forked by multiprocessing's forkserver, which has
imported kgraph.cli and nothing that starts a JAX backend: each child starts its own
backend, so it compiles from nothing and reads XLA_FLAGS as a new process does. What such
a child cannot stand for is a process that must not import the compiler (a program-cache
hit, tests/test_progcache.py) or the interpreter's own start (tests/test_cli.py and
test_packaging.py run the real executable).

    child = start_kgraph("run", "p.kg", "--steps", 10, env=..., cwd=...)
    child.stderr.readline(); child.send_signal(signal.SIGINT); out, err = child.communicate(60)

`Child` answers to the Popen names the tests use: pid, returncode, stdout and stderr (read
as they are written), send_signal, kill, wait, communicate.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

_CONTEXT = []


def _context():
    if not _CONTEXT:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["kgraph.cli"])
        _CONTEXT.append(context)
    return _CONTEXT[0]


def _child(how: str, args: list[str], streams: tuple[str, str, str], cwd: str, env: dict) -> None:
    """In the forked child: the standard streams, directory and environment, then the command."""
    from jax._src import xla_bridge

    assert not xla_bridge._backends, "the fork server started a JAX backend"
    stdin, stdout, stderr = (os.open(streams[0], os.O_RDONLY),
                             os.open(streams[1], os.O_WRONLY | os.O_APPEND),
                             os.open(streams[2], os.O_WRONLY | os.O_APPEND))
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    try:
        if how == "kgraph":
            from kgraph.cli import entry

            sys.argv = ["kgraph", *args]
            entry()
        else:  # a script of the test's own, as `python -c SCRIPT ARGS...`
            sys.argv = ["-c", *args[1:]]
            exec(compile(args[0], "<string>", "exec"), {"__name__": "__main__"})
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - what the interpreter does with an uncaught one
        traceback.print_exc()
        code = 1
    else:
        code = 0
    # What the interpreter does at exit, and a multiprocessing child skips: join the threads
    # that are not daemons (the program cache's writers) and run the atexit functions.
    threading._shutdown()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class _Follow:
    """A file that a running process writes, read line by line as it grows."""

    def __init__(self, path: Path, child: "Child"):
        self._file, self._child, self._partial = open(path, encoding="utf-8", errors="replace"), child, ""

    def readline(self) -> str:
        while True:
            self._partial += self._file.read()
            if "\n" in self._partial:
                line, self._partial = self._partial.split("\n", 1)
                return line + "\n"
            if not self._child.alive():
                self._partial += self._file.read()
                line, self._partial = self._partial, ""
                return line
            time.sleep(0.01)

    def __iter__(self):
        while line := self.readline():
            yield line

    def rest(self) -> str:
        """What is left to read, and the file closed."""
        text, self._partial = self._partial + self._file.read(), ""
        self._file.close()
        return text


class Child:
    def __init__(self, how: str, args: list, cwd, env: dict | None, stdin: str):
        self._dir = tempfile.TemporaryDirectory(prefix="kgraph-child-")
        paths = [Path(self._dir.name) / name for name in ("stdin", "stdout", "stderr")]
        paths[0].write_text(stdin)
        paths[1].touch()
        paths[2].touch()
        env = dict(os.environ if env is None else env)
        self._process = _context().Process(
            target=_child, args=(how, [str(a) for a in args], tuple(map(str, paths)), str(cwd or os.getcwd()), env))
        self._process.start()
        self.pid = self._process.pid
        self.stdout, self.stderr = _Follow(paths[1], self), _Follow(paths[2], self)

    def alive(self) -> bool:
        return self._process.is_alive()

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def kill(self) -> None:
        if self.alive():
            self._process.kill()
        self._process.join()

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self.alive():
            raise subprocess.TimeoutExpired(f"kgraph child {self.pid}", timeout)
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """The rest of stdout and stderr, once the process has ended."""
        self.wait(timeout)
        out, err = self.stdout.rest(), self.stderr.rest()
        self._dir.cleanup()
        return out, err


def start_kgraph(*args, cwd=None, env: dict | None = None, stdin: str = "") -> Child:
    """`kgraph ARGS...` (the console script's kgraph.cli.entry) in a forked child."""
    return Child("kgraph", list(args), cwd, env, stdin)


def start_script(script: str, *args, cwd=None, env: dict | None = None) -> Child:
    """`python -c SCRIPT ARGS...` in a forked child (the tests' own scripts only)."""
    return Child("script", [script, *args], cwd, env, "")


def run_kgraph(*args, cwd=None, env: dict | None = None, stdin: str = "", timeout: float = 120):
    """`kgraph ARGS...` to its end: (exit status, stdout, stderr)."""
    return _finish(start_kgraph(*args, cwd=cwd, env=env, stdin=stdin), timeout)


def run_script(script: str, *args, cwd=None, env: dict | None = None, timeout: float = 120):
    """`python -c SCRIPT ARGS...` to its end: (exit status, stdout, stderr)."""
    return _finish(start_script(script, *args, cwd=cwd, env=env), timeout)


def _finish(child: Child, timeout: float) -> tuple[int, str, str]:
    try:
        out, err = child.communicate(timeout)
    finally:
        child.kill()
    return child.returncode, out, err
