"""The tree → AST half of the parser: `ToAst`, the Lark transformer that builds the `ast`
dataclasses (with their spans) while Lark parses.

parse.py owns the grammar, the parser per thread and the syntax errors; it sets `STATE`
(this thread's file name, text and bracketed places) before each parse.
"""
from __future__ import annotations

import ast as pyast
import threading

from lark import Token, Transformer

from . import ast, limits
from .errors import ParseError, Span

STATE = threading.local()  # per thread: the file being parsed, its text, `bracketed` (see ToAst)


def _nodes(children) -> list:
    """The syntax-tree children, without the brackets, commas and placeholders around them."""
    return [c for c in children if isinstance(c, ast.Node)]


class ToAst(Transformer):
    """Builds `ast` nodes while Lark parses: methods are named after the grammar's rules
    and aliases, and each receives its children (tokens, ast nodes, None for an absent
    optional part). A node's place runs from its first token to its last.

    A bracketed expression `(e)` keeps e's own place, but the node that holds it
    starts or ends at the bracket: `bracketed` maps id(e) to the place with brackets.

    One instance serves every parse (Lark binds its methods once), so it holds no state:
    the file name, text and `bracketed` of the parse in progress are the calling thread's
    (`STATE`, set by `parse`), and two threads parse at once without sharing any of it.
    """

    def sp(self, first, last=None) -> Span:
        start = self._outer(first)
        end = start if last is None else self._outer(last)
        return Span(STATE.filename, start.line, start.column, end.end_line, end.end_column, STATE.source)

    def _outer(self, x) -> Token | Span:
        """The place of a child within its parent (line, column, end_line, end_column)."""
        if isinstance(x, Token):
            return x
        return STATE.bracketed.get(id(x), x.span)

    # --- program and statements
    def start(self, stmts):
        return ast.Program(Span(STATE.filename, 1, 1, 1, 1, STATE.source), [s for s in stmts if s is not None])

    def placeholder_stmt(self, children):
        keyword, name, _, type_spec = children
        if type_spec is None:
            return ast.Placeholder(self.sp(keyword, name), str(name), None, None, None)
        dtype, shape, type_span = type_spec
        span = Span(STATE.filename, keyword.line, keyword.column, type_span.end_line, type_span.end_column,
                    STATE.source)
        return ast.Placeholder(span, str(name), dtype, shape, type_span)

    def type_spec(self, children):
        dtype, shape = children
        if shape is None:
            return str(dtype), None, self.sp(dtype)
        dims, bracket = shape
        return str(dtype), tuple(dims), self.sp(dtype, bracket)

    def shape_empty(self, children):
        return [], children[-1]

    def shape_dims(self, children):
        return list(children[:-1]), children[-1]  # a dim may be None (unknown until run time)

    def dim_int(self, children):
        return int(children[0])

    def dim_name(self, children):
        return str(children[0])

    def dim_none(self, children):
        return None

    def variable_stmt(self, children):
        keyword, name, _, dtype, _, value = children
        dtype_span = self.sp(dtype) if dtype is not None else None
        return ast.Variable(self.sp(keyword, value), str(name), str(dtype) if dtype else None, value,
                            dtype_span)

    def assign_stmt(self, children):
        (targets, destructure, first), value = children
        return ast.Assign(self.sp(first, value), targets, value, destructure)

    def single_target(self, children):
        return [str(children[0])], False, children[0]

    def multi_target(self, children):
        return [str(c) for c in children if c is not None], True, children[0]

    def output_stmt(self, children):
        items = _nodes(children)
        return ast.Output(self.sp(children[0], items[-1]), items)

    def output_item(self, children):
        value, name = children
        return ast.OutputItem(self.sp(value, name or value), value, str(name) if name else None)

    def update_stmt(self, children):
        keyword, name, _, value = children
        return ast.Update(self.sp(keyword, value), str(name), value, self.sp(name))

    def shard_stmt(self, children):
        keyword, name, _, _, *axes, bracket = children
        # Each axis comes wrapped in a 1-tuple: None alone would be an absent optional part.
        return ast.Shard(self.sp(keyword, bracket), str(name),
                         tuple(a[0] for a in axes if isinstance(a, tuple)), self.sp(name))

    def axis_name(self, children):
        return (str(children[0]),)

    def axis_none(self, children):
        return (None,)

    def return_stmt(self, children):
        values = _nodes(children)
        span = self.sp(children[0], values[-1])
        if len(values) == 1:
            return ast.Return(span, values[0])
        return ast.Return(span, ast.Tuple(span, values))

    def expr_stmt(self, children):
        return ast.ExprStmt(children[0].span, children[0])

    def funcdef(self, children):
        keyword, name, _, params, _, _, body = children
        return ast.FuncDef(self.sp(keyword, body[-1]), str(name), params or [], body)

    def lambdef(self, children):
        keyword, params, _, body = children
        return ast.Lambda(self.sp(keyword, body), params or [], body)

    def params(self, children):
        return [str(c) for c in children if c is not None]

    def suite(self, children):
        return [c for c in children if c is not None]

    # --- expressions
    def binop(self, children):
        left, op, right = children
        return ast.BinOp(self.sp(left, right), str(op), left, right)

    compare = binop

    def neg(self, children):
        return ast.Unary(self.sp(*children), "-", children[1])

    def pos(self, children):
        return ast.Unary(self.sp(*children), "+", children[1])

    def index(self, children):
        value, _, subscripts, bracket = children
        return ast.Index(self.sp(value, bracket), value, subscripts)

    def subscripts(self, children):
        return [c for c in children if c is not None] if len(children) > 1 else children

    def slice(self, children):
        start, _, stop, _, step = children
        present = [c for c in children if c is not None]
        return ast.Slice(self.sp(present[0], present[-1]), start, stop, step)

    def ellipsis(self, children):
        return ast.EllipsisLit(self.sp(children[0]))

    def name(self, children):
        return ast.Name(self.sp(children[0]), str(children[0]))

    def call(self, children):
        func, _, arguments, closing = children
        args, kwargs = [], []
        for a in arguments or []:
            if a is None:
                continue
            if isinstance(a, ast.Keyword):
                kwargs.append(a)
            elif kwargs:
                raise ParseError("positional argument follows keyword argument", a.span)
            else:
                args.append(a)
        return ast.Call(self.sp(func, closing), str(func), self.sp(func), args, kwargs)

    def arguments(self, children):
        return list(children)

    def kwarg(self, children):
        name, value = children
        return ast.Keyword(self.sp(name, value), str(name), value)

    def number(self, children):
        tok = children[0]
        text = str(tok)
        is_int = all(c.isdigit() for c in text)
        if is_int:
            limits.check("max_int_digits", len(text.lstrip("0")), "an integer literal's digit count",
                         self.sp(tok))
        return ast.Number(self.sp(tok), int(text) if is_int else float(text))

    def string(self, children):
        tok = children[0]
        # The grammar only admits plain quoted literals; literal_eval decodes escapes, runs nothing.
        if "\0" in tok:
            raise ParseError("a string literal cannot hold a NUL character", self.sp(tok))
        try:
            return ast.String(self.sp(tok), pyast.literal_eval(str(tok)))
        except (SyntaxError, ValueError) as e:  # a NUL character, a bad \N{...} or \x escape
            raise ParseError(f"this string literal cannot be read: {e.msg if isinstance(e, SyntaxError) else e}",
                             self.sp(tok)) from None

    def true(self, children):
        return ast.Literal(self.sp(children[0]), True)

    def false(self, children):
        return ast.Literal(self.sp(children[0]), False)

    def none(self, children):
        return ast.Literal(self.sp(children[0]), None)

    def atom(self, children):
        opening, expr, closing = children  # "(" expr ")": the expression, for its parent with the brackets
        STATE.bracketed[id(expr)] = self.sp(opening, closing)
        return expr

    def tuple(self, children):
        return ast.Tuple(self.sp(children[0], children[-1]), _nodes(children))

    def list(self, children):
        return ast.List(self.sp(children[0], children[-1]), _nodes(children))
