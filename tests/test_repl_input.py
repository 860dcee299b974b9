"""`kgraph repl`'s input reading: complete inputs cut from lines, as a pasted file would come."""
from __future__ import annotations

import io
from pathlib import Path

from kgraph.commands.repl_input import Reader, code_of, open_brackets
from test_cli import kgraph  # cli.main in this process, (code, stdout, stderr)

ROOT = Path(__file__).resolve().parent.parent


def chunks(text: str) -> list[tuple[int, str]]:
    return list(Reader(io.StringIO(text), interactive=False).chunks())


def test_comments_and_strings_do_not_count_as_code():
    assert code_of("x = f(a)   # call (it") == "x = f(a)   "
    assert code_of("s = 'a # b'  # c") == "s = 'a # b'  "
    assert open_brackets("y = (1 +  # (\n  2") == 1
    assert open_brackets("t = '(['") == 0 and open_brackets("f(g(x)]") == 0


def test_a_block_opened_by_a_line_with_a_comment_takes_its_body():
    got = chunks("def f(t):   # a comment\n    return t * t\ny = f(2.0)\n")
    assert got == [(1, "def f(t):   # a comment\n    return t * t"), (3, "y = f(2.0)")]


def test_open_brackets_continue_and_blank_lines_are_skipped():
    got = chunks("\nz = sum(\n  x,\n  axis=1)\n:names\n")
    assert got == [(2, "z = sum(\n  x,\n  axis=1)"), (5, ":names")]


def test_a_file_with_updates_and_commented_defs_loads_and_pastes():
    """lstm.kg has `update_sub(...)` calls; quickstart.kg a `def` line with a comment."""
    quickstart = (ROOT / "examples" / "quickstart.kg").read_text(encoding="utf-8")
    code, out, err = kgraph("repl", "examples/sequence/lstm.kg", stdin=(":reset\n" + quickstart).encode(), cwd=ROOT)
    assert code == 0, err
    assert "loaded examples/sequence/lstm.kg: " in out and err == ""
    # quickstart: z = a . w = [[-1.5], [-2.5]], loss = sum(z * z) = 8.5, then its gradient
    assert "loss: float32[] = 8.5" in out.split("\n") and "  [[-18.]" in out
