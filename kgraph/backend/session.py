"""The backend's session: one shared graph, variable values, names, and call sites.

As in Keras 2, every symbolic tensor built through `kgraph.backend` lives in one
module-level default graph until `clear_session()` starts a new one. The graph is
built by the same `Builder` as the text front end (`Builder.apply` → the op's
registry entry → `make_node`), so both share shape rules, passes and lowering.

A call's place is the user's Python line: the first frame outside the kgraph
package, with the column range of the instruction running there (a call, an
operator, a subscript), so errors render as ``file.py:12:9: error: ...`` with the
line and a caret.
"""
from __future__ import annotations

import ast
import linecache
import os
import sys
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from ..build import Builder
from ..values import CallSite
from ..errors import KGraphError, Span
from ..ir import Node
from ..types import FLOAT_DTYPES

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_FLOATX = ["float32"]
_IMAGE_DATA_FORMAT = ["channels_last"]


class Session:
    """One graph and the state that goes with it (Keras's default graph and session)."""

    def __init__(self, floatx: str):
        self.builder = Builder("<kgraph.backend>", "", floatx, _IMAGE_DATA_FORMAT[0])
        self.values: dict[str, np.ndarray] = {}   # variable name → current value
        self.names: dict[int, str] = {}           # node id → display name
        self.taken: set[str] = {"training"}  # run(training=...) is the learning phase, not a feed
        self.functions: dict[Any, Any] = {}       # cache of compiled K.function / K.eval
        self.runs = 0

    @property
    def graph(self):
        return self.builder.graph

    def unique_name(self, base: str) -> str:
        """base, base_1, base_2, ... as TensorFlow names ops and Keras names layers."""
        name, i = base, 0
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name

    def name_of(self, node: Node) -> str:
        if node.id not in self.names:
            base = node.attr("name") if node.is_leaf else node.op
            self.names[node.id] = base if node.is_leaf else self.unique_name(base)
        return self.names[node.id]


_current: list[Session] = [Session("float32")]


def current() -> Session:
    return _current[0]


def clear_session() -> None:
    """Forget every tensor and variable: the next one starts a fresh graph (as K.clear_session)."""
    _current[0] = Session(_FLOATX[0])


def floatx() -> str:
    """The default float dtype, 'float32' unless set with set_floatx."""
    return _FLOATX[0]


def set_floatx(value: str) -> None:
    """Set the default float dtype ('float16', 'bfloat16', 'float32' or 'float64')."""
    if value not in FLOAT_DTYPES:
        raise KGraphError(f"floatx must be one of {', '.join(sorted(FLOAT_DTYPES))}, got {value!r}")
    _FLOATX[0] = value
    current().builder.floatx = value


def image_data_format() -> str:
    """The data format of the image ops when data_format is None: 'channels_last' unless set."""
    return _IMAGE_DATA_FORMAT[0]


def set_image_data_format(data_format: str) -> None:
    """Set the default data format ('channels_last' or 'channels_first') of the image ops.

    It applies to the calls made after it, as in Keras (a call already made keeps its format).
    """
    if data_format not in ("channels_last", "channels_first"):
        raise KGraphError(f"image_data_format must be 'channels_last' or 'channels_first', got "
                          f"{data_format!r}")
    _IMAGE_DATA_FORMAT[0] = data_format
    current().builder.image_data_format = data_format


# ---- where the user called from -------------------------------------------------

def user_frame():
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    return frame


def _char_column(line: str, byte_offset: int) -> int:
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def caller_span() -> Span | None:
    """The span of the expression the user's frame is evaluating (None outside any frame)."""
    frame = user_frame()
    if frame is None:
        return None
    code = frame.f_code
    lines = linecache.getlines(code.co_filename, frame.f_globals)
    source = "".join(lines)
    position = next(islice(code.co_positions(), frame.f_lasti // 2, None), None)
    line, end_line, col, end_col = position if position else (None,) * 4
    if line is None or col is None or end_line is None or end_col is None or line > len(lines):
        line = frame.f_lineno
        text = lines[line - 1].rstrip("\n") if 0 < line <= len(lines) else ""
        return Span(code.co_filename, line, 1, line, len(text) + 1, source)
    col = _char_column(lines[line - 1], col)
    end_col = _char_column(lines[end_line - 1], end_col) if end_line <= len(lines) else end_col
    return Span(code.co_filename, line, col + 1, end_line, end_col + 1, source)


def argument_texts(span: Span | None) -> tuple[list[str], dict[str, str]]:
    """The source text of each argument of the call (or operands of the operator) at `span`.

    Only parsed (never run): `K.dot(x, W)` gives (["x", "W"], {}), `a + b` (["a", "b"], {}).
    """
    text = span.text() if span is not None else ""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return [], {}
    text = text.strip()

    def seg(node) -> str:
        return " ".join((ast.get_source_segment(text, node) or "").split())

    if isinstance(tree, ast.Call):
        if any(isinstance(a, ast.Starred) for a in tree.args):
            return [], {k.arg: seg(k.value) for k in tree.keywords if k.arg}
        return [seg(a) for a in tree.args], {k.arg: seg(k.value) for k in tree.keywords if k.arg}
    if isinstance(tree, ast.BinOp):
        return [seg(tree.left), seg(tree.right)], {}
    if isinstance(tree, ast.Compare):
        return [seg(tree.left), seg(tree.comparators[0])], {}
    if isinstance(tree, ast.UnaryOp):
        return [seg(tree.operand)], {}
    if isinstance(tree, ast.Subscript):
        return [seg(tree.value)], {}
    return [], {}


@dataclass
class PyCallSite(CallSite):
    """A call site in Python code: labels come from the argument texts or tensor names."""

    labels: dict[str, Any] = field(default_factory=dict)

    def label(self, param: str, index: int | None = None) -> str:
        text = self.labels.get(param)
        if isinstance(text, list):
            text = text[index] if index is not None and index < len(text) else None
        if not text:
            return param if index is None else f"{param}[{index}]"
        return text if len(text) <= 40 else text[:37] + "..."
