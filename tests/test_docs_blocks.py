"""Every fenced block in README.md and docs/*.md is run as written, and its shown output compared.

The convention (a page that breaks it fails here, naming the page and line):

- Every fence carries an info string. Run: ```python, ```kg, ```sh (or console, shell, bash).
  Not run: ```text, for what is not input (usage synopses, sample output, IR listings); a text
  block may not hold `$ ` command lines.
- A page's blocks run in order, in a process of its own, in a scratch directory that holds the
  repository's examples/ and docs/ (links): paths read as from the repository root, and written
  files stay out of it. The process is a child of tests/forkserver.py's server, which has
  imported kgraph and started no JAX backend: a fresh interpreter's state without an import of
  JAX per page. `python tests/test_docs_blocks.py PAGE` runs one page in a fresh interpreter.
- ```python blocks share one namespace per page and run in place (errors and kgraph spans name
  the page and its line). A block written as a doctest (`>>> ` lines) compares what each
  statement prints with the lines under it (doctest, with ELLIPSIS and NORMALIZE_WHITESPACE);
  any other block is checked by its own asserts and by not raising.
- ```kg blocks are compiled (filename: the page, lines as in the page); one without
  placeholders is also run. A kg block after `<!-- docs-test: file NAME -->` is not compiled
  but written to NAME in the scratch directory, for the commands that follow to use.
- ```sh blocks: a line starting `$ ` is a command (a trailing `\\` continues it), run with bash
  (a plain `kgraph ...`, with no pipe, redirection or expansion outside its trailing comment,
  runs through kgraph.cli.main in the page's process: the executable's code path without a JAX
  import per command; so does one prefixed by `NAME=VALUE` settings that the page's process
  already has, and the plain first command of a pipe, whose output bash's rest of the pipe
  reads; `$ export NAME=VALUE` sets NAME in the page's process, for the commands after it);
  the lines after it, up to the next `$ `, are its expected output (stdout and stderr together).
  Lines starting `kg> ` among them are the command's standard input, not output (kgraph repl
  prints no prompt when its input is not a terminal). Output is compared line by line with
  trailing spaces dropped; a line `...` matches any number of lines, and `...` inside a line
  matches any text (for timings). The exit status must be 0, or 1 where the expected output
  shows an `error:`. A command with no lines under it is checked by its exit status only. A
  block with no `$ ` lines is one bash script (`set -e`); it must exit 0.
- A block is excluded only by `<!-- docs-test: skip: REASON -->` on the line before its fence
  (for example one that runs `pip install`); the reason is shown on the page.
"""
from __future__ import annotations

import contextlib
import difflib
import doctest
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import kgraph
from forkserver import start_script

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = {"python", "kg", "sh", "console", "shell", "bash"}
MARKER = re.compile(r"<!--\s*docs-test:\s*(skip|file)\s*:?\s*(.*?)\s*-->")
TIMEOUT = 300


@dataclass
class Block:
    page: Path
    line: int  # the page's line number of the block's first line of code
    info: str
    code: str
    marker: tuple[str, str] | None  # ("skip", reason) or ("file", name)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        info, start = lines[i][3:].strip(), i + 1
        end = next((j for j in range(start, len(lines)) if lines[j].startswith("```")), None)
        assert end is not None, f"{page.name}:{i + 1}: a fence that is never closed"
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        match = MARKER.fullmatch(previous.strip())
        marker = (match.group(1), match.group(2)) if match else None
        found.append(Block(page, start + 1, info, "\n".join(lines[start:end]) + "\n", marker))
        i = end + 1
    return found


def check_fence(block: Block):
    assert block.info, f"{block.where}: a fence without an info string (python, kg, sh or text)"
    assert block.info in RUN | {"text"}, f"{block.where}: unknown info string {block.info!r}"
    if block.info == "text":
        assert not any(line.startswith("$ ") for line in block.code.splitlines()), (
            f"{block.where}: a text block with `$ ` commands: make it ```sh so it runs")
    if block.marker:
        kind, value = block.marker
        assert value, f"{block.where}: a docs-test {kind} marker needs a reason or a file name"
        assert kind == "skip" or block.info == "kg", f"{block.where}: a file marker is for kg blocks"


# --- python --------------------------------------------------------------------------------

def run_python(block: Block, namespace: dict):
    if re.search(r"^\s*>>> ", block.code, re.M):
        parser = doctest.DocTestParser()
        test = parser.get_doctest(block.code, namespace, block.where, str(block.page), block.line - 1)
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        runner = doctest.DocTestRunner(optionflags=flags)
        report = io.StringIO()
        runner.run(test, out=report.write, clear_globs=False)
        namespace.update(test.globs)  # the test ran in a copy
        assert runner.failures == 0, f"{block.where}: doctest failed\n{report.getvalue()}"
        return
    code = compile("\n" * (block.line - 1) + block.code, str(block.page), "exec")
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, namespace)  # our own documentation, not user input


# --- kg ------------------------------------------------------------------------------------

def run_kg(block: Block):
    if block.marker and block.marker[0] == "file":
        Path(block.marker[1]).write_text(block.code)
        return
    source = "\n" * (block.line - 1) + block.code
    try:
        prog = kgraph.compile(source, filename=str(block.page.relative_to(ROOT)))
    except kgraph.KGraphError as e:
        raise AssertionError(f"{block.where}: the kg block does not compile:\n{e.render()}") from None
    if not prog.placeholders:
        prog.run()


# --- sh ------------------------------------------------------------------------------------

def commands(code: str) -> list[tuple[str, list[str], list[str]]]:
    """(command, stdin lines, expected output lines) for each `$ ` line of a block."""
    found = []
    lines = iter(code.splitlines())
    for line in lines:
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\"):
                command = command[:-1].rstrip() + " " + next(lines).strip()
            found.append((command, [], []))
        elif found:
            inputs, expected = found[-1][1], found[-1][2]
            (inputs.append(line[4:]) if line.startswith("kg> ") else expected.append(line))
        else:
            raise AssertionError(f"output before the first `$ ` command: {line!r}")
    return found


def matches(expected: list[str], actual: list[str]) -> bool:
    pattern = []
    for line in expected:
        line = line.rstrip()
        if line == "...":
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            pattern.append(".*?".join(re.escape(part) for part in line.split("...")) + r"\n")
    text = "".join(line.rstrip() + "\n" for line in actual)
    return re.fullmatch("".join(pattern), text) is not None


ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "PYTHONHASHSEED": "0"}
PLAIN = re.compile(r"kgraph(\s[^|&;<>$`(){}*?\\]*)?")  # no pipes, redirects, expansions
COMMENT = re.compile(r"\s+#[^'\"]*$")  # a trailing comment, with no quote in it
SETTING = re.compile(r"([A-Z_][A-Z0-9_]*)=([^\s'\"$`]*)\s+")  # NAME=VALUE before a command
EXPORT = re.compile(r"export ([A-Z_][A-Z0-9_]*)=([^\s'\"$`]*)")
PIPED = re.compile(r"([^|&;<>$`'\"]+?)\s+\|\s+(.+)", re.S)  # a pipe's first command, and the rest


def plain(command: str) -> str | None:
    """The `kgraph ...` command that `command` runs in this process, or None (run by bash):
    a trailing comment dropped, and leading NAME=VALUE settings that this process has."""
    command = COMMENT.sub("", command.strip())
    while match := SETTING.match(command):
        if os.environ.get(match.group(1)) != match.group(2):
            return None
        command = command[match.end():]
    return command if PLAIN.fullmatch(command) else None


def in_process(command: str, stdin: str, merged: bool = True) -> subprocess.CompletedProcess:
    """A plain `kgraph ...` command through kgraph.cli.main, in this (the page's) process:
    the code path of the executable without a JAX import per command. Its stderr is in its
    stdout, as on a terminal, unless `merged` is False."""
    from kgraph.cli import main

    out = io.StringIO()
    err = out if merged else io.StringIO()
    old_stdin, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(shlex.split(command, comments=True)[1:])
            except SystemExit as e:  # argparse: --help, a bad command line
                code = e.code
    finally:
        sys.stdin = old_stdin
    return subprocess.CompletedProcess(command, code, out.getvalue(), None if merged else err.getvalue())


def bash(command: str, stdin: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **ENV)
    return subprocess.run(["bash", "-c", command], input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env, timeout=TIMEOUT)


def shell(command: str, stdin: str = "") -> subprocess.CompletedProcess:
    if export := EXPORT.fullmatch(COMMENT.sub("", command.strip())):
        os.environ[export.group(1)] = export.group(2)  # before JAX starts, for XLA_FLAGS
        return subprocess.CompletedProcess(command, 0, "")
    if kgraph_command := plain(command):
        return in_process(kgraph_command, stdin)
    if (pipe := PIPED.fullmatch(command.strip())) and (kgraph_command := plain(pipe.group(1))):
        # The pipe's first command here, its stdout read by bash's rest of the pipe; its stderr
        # goes to the terminal (first), and a failure is the pipe's status (pipefail).
        first = in_process(kgraph_command, stdin, merged=False)
        rest = bash(pipe.group(2), first.stdout)
        return subprocess.CompletedProcess(command, first.returncode or rest.returncode, first.stderr + rest.stdout)
    return bash(command, stdin)


def script_lines(code: str) -> list[str]:
    """A script's commands, continuation lines joined, comments and blank lines dropped."""
    lines = re.sub(r"\s*\\\n\s*", " ", code).splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def run_sh(block: Block):
    if not re.search(r"^\$ ", block.code, re.M):
        lines = script_lines(block.code)
        if all(plain(line) for line in lines):  # kgraph commands only: each in turn
            for line in lines:
                done = shell(line)
                assert done.returncode == 0, f"{block.where}: `{line}` exited {done.returncode}:\n{done.stdout}"
            return
        done = shell("set -eo pipefail\n" + block.code)
        assert done.returncode == 0, f"{block.where}: the script failed ({done.returncode}):\n{done.stdout}"
        return
    for command, inputs, expected in commands(block.code):
        while expected and not expected[-1].strip():
            expected.pop()
        done = shell(command, "".join(line + "\n" for line in inputs))
        status = 1 if any("error:" in line for line in expected) else 0
        actual = done.stdout.rstrip("\n").splitlines()
        assert done.returncode == status, (
            f"{block.where}: `{command}` exited {done.returncode}, not {status}:\n{done.stdout}")
        if expected and not matches(expected, actual):
            diff = "\n".join(difflib.unified_diff(expected, actual, "shown", "actual", lineterm=""))
            raise AssertionError(f"{block.where}: `{command}` printed other than the page shows:\n{diff}")


# --- the test ------------------------------------------------------------------------------

def run_page(page: Path):
    """Run one page's blocks in order, in the current directory (a child process's)."""
    namespace = {"__name__": page.stem}
    for block in blocks(page):
        check_fence(block)
        if block.info == "text" or (block.marker and block.marker[0] == "skip"):
            continue
        start = time.perf_counter()
        if block.info == "python":
            run_python(block, namespace)
        elif block.info == "kg":
            run_kg(block)
        else:
            run_sh(block)
        print(f"{block.where}: {block.info} block ran in {time.perf_counter() - start:.1f} s", flush=True)


# In the page's process: a session of its own, so that a page past its time is killed with
# everything it started.
PAGE = "import os, sys\nfrom pathlib import Path\nos.setsid()\nfrom test_docs_blocks import main\nmain(Path(sys.argv[1]))\n"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_runs_as_written(page):
    # Each page runs in a process of its own, so what one page sets (jax.enable_x64, the
    # compilation cache, a backend session, XLA_FLAGS) reaches neither another page nor this process.
    child = start_script(PAGE, page)
    try:
        out, err = child.communicate(timeout=3 * TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)  # the page's process and what it started
        child.kill()
        out, err = child.communicate()
        pytest.fail(f"{page.name} did not finish in {3 * TIMEOUT} s:\n{out}{err}")
    assert child.returncode == 0, f"exit status {child.returncode}:\n{out}{err}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_fence_says_what_it_is(page):
    found = blocks(page)
    for block in found:
        check_fence(block)
    assert any(block.info in RUN and not block.marker for block in found), f"{page.name}: nothing runs"


def test_the_runner_compares_output(monkeypatch):
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "b"], ["a", "b"])
    assert matches(["took ... ms"], ["took 1.5 ms"])
    assert not matches(["a", "d"], ["a", "b", "d"])
    assert not matches(["took ... ms"], ["took 1.5 s"])
    assert script_lines("# a\nkgraph run a.kg \\\n  --feed x=1  # b\n\necho hi\n") == [
        "kgraph run a.kg --feed x=1  # b", "echo hi"]
    assert plain("kgraph run a.kg --feed x='[[1, 2]]'  # c (see `dot`)") == "kgraph run a.kg --feed x='[[1, 2]]'"
    assert plain("kgraph ir a.kg | head") is None and plain("kgraph run a.kg --feed x='#1 (a)'") is None
    monkeypatch.setenv("KG_DOCS_TEST", "1")
    assert plain("KG_DOCS_TEST=1 kgraph ops") == "kgraph ops" and plain("KG_DOCS_TEST=2 kgraph ops") is None
    assert commands("$ kgraph repl\nkg> 1 + 1\n2.0\n$ echo a \\\n  b\na b\n") == [
        ("kgraph repl", ["1 + 1"], ["2.0"]), ("echo a b", [], ["a b"])]
    # A pipe's plain first command runs here, and bash reads its output; its failure is the status.
    piped = shell("kgraph ops --help | grep -c '^examples:'")
    assert (piped.returncode, piped.stdout) == (0, "1\n")
    piped = shell("kgraph ops no_such_op | cat")
    assert piped.returncode == 2 and "kgraph ops: error: " in piped.stdout
    assert PIPED.fullmatch("kgraph run a.kg --feed x='[1] | [2]' | head") is None  # a quoted |: bash's


def test_the_runner_finds_every_page_and_its_markers(tmp_path):
    assert {p.name for p in PAGES} >= {"README.md", "python.md", "training.md"}
    page = tmp_path / "page.md"
    page.write_text("x\n<!-- docs-test: skip: needs pip -->\n```sh\npip install x\n```\n\n```\ny\n```\n")
    first, second = blocks(page)
    assert (first.line, first.info, first.marker, first.code) == (4, "sh", ("skip", "needs pip"), "pip install x\n")
    assert second.info == "" and second.marker is None


def main(page: Path):
    """Run `page` in a scratch directory that links the repository's examples/ and docs/."""
    os.environ.update(ENV)
    with tempfile.TemporaryDirectory(prefix="kgraph-docs-") as scratch:
        for name in ("examples", "docs"):
            (Path(scratch) / name).symlink_to(ROOT / name, target_is_directory=True)
        os.chdir(scratch)
        run_page(page)


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
