"""Where kgraph was when a bug surfaced: the stage, the op and the input's place.

An exception that is not a KGraphError is a bug in kgraph, and its report should let
a maintainer find it without the user's help: the stage (parse, build, a pass, the
lowering), the op whose node was being handled and the place in the program that
node came from. The stages record themselves here as they run; the command line's
last-resort handler prints `report(exc)` and exits 70.

The record is one small module-level object, cheap enough to set once per node, and
per thread (the variables' initial values are computed on a thread of their own). A
stage that ends normally restores the enclosing one, so a report never names a
stage that has finished; one that ends in an exception leaves itself for the report.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any


class Place(threading.local):
    stage: str = ""  # class attributes: each thread starts from these
    node: Any = None  # an ir.Node


CURRENT = Place()


@contextlib.contextmanager
def stage(name: str):
    outer = (CURRENT.stage, CURRENT.node)
    CURRENT.stage, CURRENT.node = name, None
    yield
    CURRENT.stage, CURRENT.node = outer


def at(node) -> None:
    CURRENT.node = node


def clear() -> None:
    CURRENT.stage, CURRENT.node = "", None


def report(exc: BaseException) -> str:
    """The internal-error message: what failed, where, and a one-line request to report it."""
    where = []
    if CURRENT.stage:
        where.append(f"in {CURRENT.stage}")
    node = CURRENT.node
    if node is not None:
        where.append(f"at op '{node.op}'")
    lines = [f"kgraph: internal error{' ' + ' '.join(where) if where else ''}: "
             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"]
    span = getattr(node, "span", None)
    if span is not None:
        lines.append(f"{span.filename}:{span.line}:{span.column}: note: the input that reached it")
    lines.append("This is a bug in kgraph: please report it with this input "
                 "(rerun with --debug for the traceback).")
    return "\n".join(lines)
