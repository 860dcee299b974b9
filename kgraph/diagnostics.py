"""Diagnostics in colour on a terminal, plain text everywhere else.

Errors render themselves as plain text (`file:line:col: error: ...`, the source line,
a caret); this module only paints that text, line by line, the way compilers do:
the place bold, `error` red, `warning` magenta, `note` cyan, the caret green, and the
source line in kgraph's syntax colours (kgraph/lexer.py).
Colour follows rich's terminal detection, which honours NO_COLOR and FORCE_COLOR.
"""
from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, TextIO

from .lexer import KGraphIRLexer, highlight

# rich is imported where colour is painted, not at the top: its import is 22-32 ms of CPU
# (62-99 ms wall on the loaded 2-core machine) that every `kgraph` start-up paid for nothing.
if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

_HEAD = re.compile(r"^(?P<place>.*?:\d+:\d+: |[^\s:][^:]*: (?=(error|warning|note):))?"
                   r"(?P<kind>error|warning|note|internal error)(?P<rest>: .*)$")
_CARET = re.compile(r"^\s*\^~*\s*$")
_KIND_STYLE = {"error": "bold red", "internal error": "bold red", "warning": "bold magenta",
               "note": "bold cyan"}


def paint(text: str) -> Text:
    """The diagnostic text with styles: headings, kinds, caret lines, and the source line
    above a caret highlighted as kgraph code."""
    from rich.text import Text

    out = Text()
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if i:
            out.append("\n")
        m = _HEAD.match(line)
        if not m and i + 1 < len(lines) and _CARET.match(lines[i + 1]):
            out.append_text(highlight(line))
            continue
        if m:
            if m.group("place"):
                out.append(m.group("place"), style="bold")
            out.append(m.group("kind"), style=_KIND_STYLE[m.group("kind")])
            out.append(m.group("rest"), style="bold")
        elif _CARET.match(line):
            out.append(line, style="bold green")
        else:
            out.append(line)
    return out


def console_for(stream: TextIO) -> Console:
    from rich.console import Console

    return Console(file=stream, highlight=False, soft_wrap=True, emoji=False)


def report(text: str, stream: TextIO | None = None) -> None:
    """Print a diagnostic: coloured when `stream` (stderr by default) is a terminal."""
    stream = stream if stream is not None else sys.stderr
    console = console_for(stream)
    if console.is_terminal and console.color_system is not None:
        console.print(paint(text), markup=False)
    else:
        print(text, file=stream)


def print_code(text: str, stream: TextIO | None = None, ir: bool = False) -> None:
    """Print kgraph source (or, with `ir`, IR text) coloured by kgraph's lexers when `stream`
    (stdout by default) is a terminal with colour, as plain text otherwise (NO_COLOR too)."""
    stream = stream if stream is not None else sys.stdout
    console = console_for(stream)
    if console.is_terminal and console.color_system is not None:
        lexer = KGraphIRLexer(stripnl=False, ensurenl=False) if ir else None
        console.print(highlight(text, lexer), markup=False)
    else:
        print(text, file=stream, flush=True)
