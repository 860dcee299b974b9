"""`kgraph repl`'s input: lines from a terminal (prompts, history) or a stream, cut into
complete inputs (a command, a statement, or a block with its indented lines)."""
from __future__ import annotations

import atexit
from pathlib import Path
from typing import Iterator

from ..cache import cache_dir


def code_of(line: str) -> str:
    """`line` without its comment (a `#` inside a string is not one)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch == "#":
            return line[:i]
        elif ch in "'\"":
            quote = ch
    return line


def open_brackets(text: str) -> int:
    """How many ( and [ are still open, ignoring strings and comments."""
    depth = 0
    for line in text.split("\n"):
        quote = ""
        for ch in code_of(line):
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
    return depth


class Reader:
    """Lines from a terminal (with prompts and history) or a stream; complete statements out."""

    def __init__(self, stream, interactive: bool):
        self.stream = stream
        self.interactive = interactive
        self.line_no = 0
        self._pending: list[str] = []

    def _line(self, prompt: str) -> str | None:
        if self._pending:
            self.line_no += 1
            return self._pending.pop()
        if self.interactive:
            try:
                line = input(prompt)
            except EOFError:
                return None
        else:
            line = self.stream.readline()
            if not line:
                return None
            line = line.rstrip("\n")
        self.line_no += 1
        return line

    def chunks(self) -> Iterator[tuple[int, str]]:
        """(first line number, text) of each complete input: a command, a statement or a block."""
        while True:
            line = self._line("kg> ")
            if line is None:
                return
            if not line.strip():
                continue
            first, lines = self.line_no, [line]
            block = code_of(line).rstrip().endswith(":") and not line.lstrip().startswith(":")
            while block or open_brackets("\n".join(lines)) > 0:
                more = self._line("... ")
                if more is None:
                    break
                if block and not more.strip():
                    break
                if block and not more[:1].isspace() and open_brackets("\n".join(lines)) <= 0:
                    self._pending.append(more)  # the block ended: this line is the next input
                    self.line_no -= 1
                    break
                lines.append(more)
            yield first, "\n".join(lines)


def enable_history() -> None:
    """Line editing and a history kept in the cache directory, where readline exists."""
    try:
        import readline  # optional: Windows has none
    except ImportError:  # plain input, no history
        return
    path = cache_dir() / "repl_history"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.read_history_file(path)
    except OSError:  # no history yet, or an unreadable one: start without it
        pass
    readline.set_history_length(1000)
    atexit.register(lambda: _save_history(readline, path))


def _save_history(readline, path: Path) -> None:
    try:
        readline.write_history_file(path)
    except OSError:  # a read-only cache: the history is a convenience, not worth an error at exit
        pass
