"""The syntax tree: plain dataclasses, each carrying the `Span` of its text."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import Span


@dataclass
class Node:
    span: Span = field(repr=False, compare=False)


# ---- expressions -----------------------------------------------------------

@dataclass
class Name(Node):
    id: str = ""


@dataclass
class Number(Node):
    value: int | float = 0


@dataclass
class String(Node):
    value: str = ""


@dataclass
class Literal(Node):
    value: Any = None  # True, False or None


@dataclass
class Tuple(Node):
    items: list = field(default_factory=list)


@dataclass
class List(Node):
    items: list = field(default_factory=list)


@dataclass
class BinOp(Node):
    op: str = ""
    left: Node = None
    right: Node = None


@dataclass
class Unary(Node):
    op: str = ""
    operand: Node = None


@dataclass
class Keyword(Node):
    name: str = ""
    value: Node = None


@dataclass
class Call(Node):
    func: str = ""
    func_span: Span = None
    args: list = field(default_factory=list)
    kwargs: list = field(default_factory=list)  # list[Keyword]


@dataclass
class Slice(Node):
    start: Optional[Node] = None
    stop: Optional[Node] = None
    step: Optional[Node] = None


@dataclass
class EllipsisLit(Node):
    pass


@dataclass
class Index(Node):
    value: Node = None
    subscripts: list = field(default_factory=list)


@dataclass
class Lambda(Node):
    params: list = field(default_factory=list)
    body: Node = None


# ---- statements ------------------------------------------------------------

@dataclass
class Placeholder(Node):
    name: str = ""
    dtype: Optional[str] = None
    shape: Optional[tuple] = None
    type_span: Optional[Span] = None


@dataclass
class Variable(Node):
    name: str = ""
    dtype: Optional[str] = None
    value: Node = None
    dtype_span: Optional[Span] = None


@dataclass
class Assign(Node):
    targets: list = field(default_factory=list)
    value: Node = None
    destructure: bool = False


@dataclass
class OutputItem(Node):
    value: Node = None
    name: Optional[str] = None


@dataclass
class Output(Node):
    items: list = field(default_factory=list)


@dataclass
class Update(Node):
    name: str = ""
    value: Node = None
    name_span: Span = None


@dataclass
class Shard(Node):
    name: str = ""
    axes: tuple = ()  # a mesh axis name or None per dimension
    name_span: Span = None


@dataclass
class Return(Node):
    value: Node = None


@dataclass
class ExprStmt(Node):
    value: Node = None


@dataclass
class FuncDef(Node):
    name: str = ""
    params: list = field(default_factory=list)
    body: list = field(default_factory=list)


@dataclass
class Program(Node):
    statements: list = field(default_factory=list)
