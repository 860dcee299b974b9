"""The `.kg` text an import writes: names, variables, statements and small helper defs.

The program is meant to read as if a person wrote it: one statement (or one small `def`)
per layer under a comment naming the layer and its class, variables named after the
layer's weights (`dense_1_kernel`), placeholders after the model's inputs and outputs after
its outputs. Names that are not identifiers, or that would hide an op or a keyword, are
made into ones.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

import numpy as np

from ..ops import REGISTRY

KEYWORDS = frozenset({"placeholder", "variable", "def", "return", "output", "as", "update", "True",
                      "False", "None", "lambda", "shard"}) | frozenset(keyword.kwlist)


@dataclass(frozen=True)
class Tensor:
    """A value in the program being written: its name, static shape (None for unknown) and
    dtype, and the name of its Keras mask (a bool tensor over the time steps) if it has one."""

    name: str
    shape: tuple
    dtype: str = "float32"
    mask: str | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)


def identifier(text: str) -> str:
    name = re.sub(r"\W", "_", str(text)) or "x"
    return "_" + name if name[0].isdigit() else name


def shape_text(shape) -> str:
    dims = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


def literal(value) -> str:
    """A Python value (number, bool, None, string, tuple) as .kg source text."""
    if isinstance(value, (list, tuple)):
        return shape_text(value) if all(v is None or isinstance(v, int) for v in value) else \
            "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return repr(float(value))
    return repr(value)


class Writer:
    def __init__(self, title: str):
        self.title = title
        self.taken: set[str] = set(KEYWORDS) | set(REGISTRY)
        self.helpers: dict[str, str] = {}
        self.placeholders: list[str] = []
        self.variables: list[str] = []
        self.body: list[str] = []
        self.updates: list[str] = []
        self.outputs: list[str] = []
        self.state: dict[str, np.ndarray] = {}
        self.layer_variables: dict[str, dict[str, str]] = {}  # a shared layer's, declared once
        self.updated: set[str] = set()

    def fresh(self, base: str) -> str:
        """`base` made an identifier, with `_2`, `_3`... until it is unused."""
        name = identifier(base)
        if name in self.taken:
            stem, n = (name + "_out", 1) if name in REGISTRY or name in KEYWORDS else (name, 2)
            name = stem
            while name in self.taken:
                name = f"{stem}_{n}"
                n += 1
        self.taken.add(name)
        return name

    def placeholder(self, base: str, dtype: str, shape: tuple) -> Tensor:
        name = self.fresh(base)
        dims = ", ".join("None" if d is None else str(d) for d in shape)
        self.placeholders.append(f"placeholder {name}: {dtype}[{dims}]")
        return Tensor(name, tuple(shape), dtype)

    def variable(self, base: str, array: np.ndarray, comment: str = "") -> str:
        """A variable holding `array` (its value goes to the state file; the program's own
        initial value is zeros of the same shape)."""
        name = self.fresh(base)
        array = np.asarray(array)
        dtype = "" if array.dtype == np.float32 else f": {array.dtype.name}"
        note = f"  # {comment}" if comment else ""
        self.variables.append(f"variable {name}{dtype} = zeros({shape_text(array.shape)}){note}")
        self.state[name] = array
        return name

    def comment(self, text: str) -> None:
        self.body.append(f"# {text}")

    def let(self, base: str, expr: str) -> str:
        name = self.fresh(base)
        self.body.append(f"{name} = {expr}")
        return name

    def let_many(self, bases: list[str], expr: str) -> list[str]:
        names = [self.fresh(b) for b in bases]
        self.body.append(f"{', '.join(names)} = {expr}")
        return names

    def update(self, variable: str, expr: str) -> None:
        self.updates.append(f"update {variable} = {expr}")

    def helper(self, name: str, text: str) -> str:
        """A `def` written once at the top of the program, however many layers use it."""
        if name not in self.helpers:
            self.taken.add(name)
            self.helpers[name] = text.strip("\n")
        return name

    def output(self, tensor: Tensor, name: str) -> None:
        out = identifier(name)
        self.outputs.append(tensor.name if out == tensor.name else f"{tensor.name} as {out}")

    def text(self) -> str:
        parts = [f"# {line}" if line else "#" for line in self.title.splitlines()]
        for section in (self.placeholders, self.variables):
            if section:
                parts += [""] + section
        for helper in self.helpers.values():
            parts += ["", helper]
        parts += [""] + self.body
        if self.updates:
            parts += ["", "# the moving statistics: a training step (learning phase 1) moves them"]
            parts += self.updates
        parts += ["", "output " + ", ".join(self.outputs)]
        return "\n".join(parts) + "\n"
