"""kgraph's size rules (STYLE.md): no file in kgraph/ over 400 lines, no function over 60.

Checked with `ast` on every module, so a new file or function that breaks a rule fails
here. There are no exceptions.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "kgraph"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def _sizes():
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(PACKAGE).as_posix()
        yield (name, None), text.count("\n"), MAX_FILE_LINES
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield (name, node.name), node.end_lineno - node.lineno + 1, MAX_FUNCTION_LINES


def test_no_file_or_function_is_over_its_limit():
    over = []
    for key, lines, limit in _sizes():
        if lines > limit:
            what = f"{key[0]}" + (f": {key[1]}()" if key[1] else "")
            over.append(f"{what} has {lines} lines (limit {limit})")
    assert not over, "\n".join(over)

