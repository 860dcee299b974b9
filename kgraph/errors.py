"""One error family for every user-facing failure.

A `KGraphError` carries the place of the mistake (a `Span`) when it has one and
renders as ``file:line:col: error: message``, the source line and a caret.
It is raised where the mistake is found, so nothing downstream guesses the place.

As Keras code catches Python's own exceptions, shape, argument, feed and state
errors are also `ValueError`s, and dtype errors `TypeError`s.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A place in a source text: 1-based line and column, end exclusive."""

    filename: str
    line: int
    column: int
    end_line: int
    end_column: int
    source: str = ""  # the whole text the span points into (for the caret line)

    def source_line(self) -> str:
        lines = self.source.splitlines()
        return lines[self.line - 1] if 0 < self.line <= len(lines) else ""

    def text(self) -> str:
        """The exact source text the span covers."""
        lines = self.source.splitlines(keepends=True)
        if not lines or self.line > len(lines):
            return ""
        start = sum(len(x) for x in lines[: self.line - 1]) + self.column - 1
        end = sum(len(x) for x in lines[: self.end_line - 1]) + self.end_column - 1
        return self.source[start:end]

    def __repr__(self) -> str:
        return f"Span({self.filename}:{self.line}:{self.column})"


def render_at(span: Span | None, kind: str, message: str) -> str:
    if span is None:
        return f"{kind}: {message}"
    head = f"{span.filename}:{span.line}:{span.column}: {kind}: {message}"
    line = span.source_line()
    if not line:
        return head
    width = 1
    if span.end_line == span.line and span.end_column > span.column:
        width = span.end_column - span.column
    line, column, width = _window(line, span.column - 1, width)
    caret = " " * column + "^" + "~" * (width - 1)
    return f"{head}\n    {line}\n    {caret}"


WINDOW = 120  # characters of a long line shown around the caret


def _window(line: str, column: int, width: int) -> tuple[str, int, int]:
    """The part of a long line around the caret (0-based `column`), marked "..." where it
    is cut: a 5,000-character line shows the caret's neighbourhood, not the whole line."""
    if len(line) <= WINDOW:
        return line, column, width
    start = max(0, min(column - WINDOW // 3, len(line) - WINDOW))
    end = start + WINDOW
    before = "..." if start else ""
    after = "..." if end < len(line) else ""
    width = max(1, min(width, end - column))
    return before + line[start:end] + after, len(before) + column - start, width


class KGraphError(Exception):
    """Base class of every error a user can cause: program, feed or command line."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.notes: list[tuple[Span | None, str]] = []

    @property
    def filename(self) -> str | None:
        return self.span.filename if self.span else None

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def with_note(self, span: Span | None, message: str) -> "KGraphError":
        self.notes.append((span, message))
        return self

    def render(self) -> str:
        parts = [render_at(self.span, "error", self.message)]
        parts += [render_at(span, "note", msg) for span, msg in self.notes]
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.render()


class ParseError(KGraphError):
    """The text is not a kgraph program (syntax)."""


class NameError(KGraphError):  # noqa: A001 - deliberately mirrors Python's name
    """A name or op that is not defined."""


class ArgumentError(KGraphError, ValueError):
    """An op was called with arguments it does not take."""


class ShapeError(KGraphError, ValueError):
    """Shapes that cannot agree."""


class DTypeError(KGraphError, TypeError):
    """Dtypes that cannot agree."""


class FeedError(KGraphError, ValueError):
    """A missing, unknown, mis-shaped or uncastable feed, or an unreadable feed file."""


class StateError(KGraphError, ValueError):
    """A state file that does not match the program."""


class UsageError(KGraphError):
    """A command line that cannot work (a mesh that does not fit the devices): exit 2."""


class KGraphWarning(UserWarning):
    """A compile-time warning (an unconnected gradient target, an unused placeholder)."""

    def __init__(self, message: str, span: Span | None = None):
        super().__init__(message)
        self.message = message
        self.span = span

    def render(self) -> str:
        return render_at(self.span, "warning", self.message)
