"""Text → syntax tree with spans.

The grammar (grammar/kgraph.lark, shipped inside the package as kgraph.grammar)
shapes the tree; a separate `Transformer` turns it into `ast` dataclasses.
"""
from __future__ import annotations

import ast as pyast
from functools import lru_cache

import lark
from lark import Lark, Transformer, v_args
from lark.indenter import DedentError, Indenter

from . import ast
from .errors import ParseError, Span

from importlib import import_module


class _KGraphIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar_pkg = import_module("kgraph.grammar")
    return Lark.open("kgraph.lark", rel_to=grammar_pkg.__file__, parser="lalr",
                     postlex=_KGraphIndenter(), propagate_positions=True,
                     maybe_placeholders=True, strict=True, cache=True)


# Classic mistakes, recognised by the parser state they leave it in.
_EXAMPLES = {
    "expected an expression": ["x = \n", "x = 1 +\n", "output\n", "y = f(1,\n"],
    "expected ':' and a type after the placeholder's name (e.g. `placeholder x: float32[None, 4]`)":
        ["placeholder x float32\n", "placeholder x float32[3]\n"],
    "a call's keyword arguments must come after its positional ones": [],
}

_TOKEN_WORDS = {
    "_NL": "end of line", "$END": "end of file", "LPAR": "'('", "RPAR": "')'",
    "LSQB": "'['", "RSQB": "']'", "COMMA": "','", "COLON": "':'", "EQUAL": "'='",
    "NAME": "a name", "NUMBER": "a number", "INT": "an integer", "STRING": "a string",
    "COMP_OP": "a comparison", "MUL_OP": "an operator", "PLUS": "'+'", "MINUS": "'-'",
    "POW_OP": "'**'", "AS": "'as'", "DOT": "'.'", "ELLIPSIS": "'...'",
    "_INDENT": "an indented block", "_DEDENT": "the end of an indented block",
}


def _describe(token_type: str, value: str | None = None) -> str:
    if token_type in ("_NL", "$END", "_INDENT", "_DEDENT"):
        return _TOKEN_WORDS[token_type]
    if value:
        return repr(value)
    return _TOKEN_WORDS.get(token_type, token_type.lower())


def parse(source: str, filename: str = "<string>") -> ast.Program:
    """Parse a whole program. Raises ParseError with the place of the first mistake."""
    text = source if source.endswith("\n") else source + "\n"
    try:
        tree = _parser().parse(text)
    except lark.UnexpectedInput as e:
        raise _syntax_error(e, text, source, filename) from None
    except DedentError:
        line = _dedent_line(text)
        span = Span(filename, line, 1, line, 2, source)
        raise ParseError("unindent does not match any outer indentation level", span) from None
    return _ToAst(filename, source).transform(tree)


def _dedent_line(text: str) -> int:
    # DedentError carries no position; find the first line whose indent matches no open block.
    stack = [0]
    for i, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if indent > stack[-1]:
            stack.append(indent)
        while indent < stack[-1]:
            stack.pop()
        if indent != stack[-1]:
            return i
    return 1


def _syntax_error(e: lark.UnexpectedInput, text: str, source: str, filename: str) -> ParseError:
    line, column = max(e.line, 1), max(e.column, 1)
    if isinstance(e, lark.UnexpectedCharacters):
        char = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        msg = f"unexpected character {char!r}"
        if char in "\"'":
            msg = "unterminated string"
        return ParseError(msg, Span(filename, line, column, line, column + 1, source))
    token = getattr(e, "token", None)
    ttype = getattr(token, "type", "$END")
    if ttype == "$END" or ttype == "_DEDENT" and not token:
        lines = source.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    width = max(len(str(token or "")), 1) if ttype not in ("_NL", "$END", "_DEDENT", "_INDENT") else 1
    if ttype == "_NL":
        # The newline token starts at the end of the line that is incomplete.
        line, column = token.line, token.column
    if ttype == "_INDENT":
        line, column = _next_code_line(source, token.line)
    span = Span(filename, line, column, line, column + width, source)
    label = e.match_examples(_parser().parse, _EXAMPLES, use_accepts=True)
    expected = sorted(getattr(e, "accepts", None) or getattr(e, "expected", None) or ())
    words = [_describe(t) for t in expected if not t.startswith("__")][:6]
    found = _describe(ttype, None if ttype in ("_NL", "$END") else str(token))
    unclosed = _unclosed_bracket(text, line, column)
    if unclosed and ttype not in ("RPAR", "RSQB"):
        (bline, bcol, char) = unclosed
        closer = {"(": ")", "[": "]"}[char]
        msg = f"'{char}' at line {bline}, column {bcol} was never closed (expected '{closer}' before {found})"
    elif label:
        msg = f"{label}, found {found}"
    elif "_INDENT" in expected or (ttype == "_INDENT"):
        msg = "unexpected indent" if ttype == "_INDENT" else f"expected an indented block, found {found}"
    else:
        msg = f"unexpected {found}"
        if words:
            msg += "; expected " + ", ".join(words)
    return ParseError(msg, span)


def _next_code_line(source: str, after: int) -> tuple[int, int]:
    lines = source.splitlines()
    for i in range(after, len(lines)):
        stripped = lines[i].lstrip()
        if stripped and not stripped.startswith("#"):
            return i + 1, len(lines[i]) - len(stripped) + 1
    return after, 1


def _unclosed_bracket(text: str, line: int, column: int):
    """The innermost bracket still open before (line, column), skipping strings and comments."""
    stack, quote, comment = [], None, False
    ln, col = 1, 1
    for ch in text:
        if (ln, col) >= (line, column):
            break
        if comment:
            comment = ch != "\n"
        elif quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            comment = True
        elif ch in "([":
            stack.append((ln, col, ch))
        elif ch in ")]" and stack:
            stack.pop()
        if ch == "\n":
            ln, col = ln + 1, 1
        else:
            col += 1
    return stack[-1] if stack else None


def _span(filename: str, source: str, meta_or_token) -> Span:
    m = meta_or_token
    return Span(filename, m.line, m.column, m.end_line, m.end_column, source)


class _ToAst(Transformer):
    """Parse tree → ast. Methods are named after the grammar's rules and aliases."""

    def __init__(self, filename: str, source: str):
        super().__init__()
        self.filename = filename
        self.source = source

    def sp(self, m) -> Span:
        return _span(self.filename, self.source, m)

    # --- program and statements
    @v_args(meta=True)
    def start(self, meta, stmts):
        stmts = [s for s in stmts if s is not None]
        span = Span(self.filename, 1, 1, 1, 1, self.source)
        return ast.Program(span, stmts)

    @v_args(meta=True)
    def placeholder_stmt(self, meta, children):
        name, type_spec = children
        dtype, shape, type_span = type_spec if type_spec else (None, None, None)
        return ast.Placeholder(self.sp(meta), str(name), dtype, shape, type_span)

    @v_args(meta=True)
    def type_spec(self, meta, children):
        dtype, shape = children
        return (str(dtype), tuple(shape) if shape is not None else None, self.sp(meta))

    def shape_empty(self, children):
        return []

    def shape_dims(self, children):
        return list(children)  # a dim may be None (unknown until run time)

    def dim_int(self, children):
        return int(children[0])

    def dim_name(self, children):
        return str(children[0])

    def dim_none(self, children):
        return None

    @v_args(meta=True)
    def variable_stmt(self, meta, children):
        name, dtype, value = children
        dtype_span = self.sp(dtype) if dtype is not None else None
        return ast.Variable(self.sp(meta), str(name), str(dtype) if dtype else None, value, dtype_span)

    @v_args(meta=True)
    def assign_stmt(self, meta, children):
        (targets, destructure), value = children
        return ast.Assign(self.sp(meta), targets, value, destructure)

    def single_target(self, children):
        return [str(children[0])], False

    def multi_target(self, children):
        return [str(c) for c in children if c is not None], True

    @v_args(meta=True)
    def output_stmt(self, meta, items):
        return ast.Output(self.sp(meta), items)

    @v_args(meta=True)
    def output_item(self, meta, children):
        value, name = children
        return ast.OutputItem(self.sp(meta), value, str(name) if name else None)

    @v_args(meta=True)
    def update_stmt(self, meta, children):
        name, value = children
        return ast.Update(self.sp(meta), str(name), value, self.sp(name))

    @v_args(meta=True)
    def return_stmt(self, meta, children):
        if len(children) == 1:
            return ast.Return(self.sp(meta), children[0])
        values = ast.Tuple(self.sp(meta), list(children))
        return ast.Return(self.sp(meta), values)

    @v_args(meta=True)
    def expr_stmt(self, meta, children):
        return ast.ExprStmt(self.sp(meta), children[0])

    @v_args(meta=True)
    def funcdef(self, meta, children):
        name, params, body = children
        return ast.FuncDef(self.sp(meta), str(name), params or [], body)

    def params(self, children):
        return [str(c) for c in children if c is not None]

    def suite(self, children):
        return [c for c in children if c is not None]

    # --- expressions
    @v_args(meta=True)
    def compare(self, meta, children):
        left, op, right = children
        return ast.BinOp(self.sp(meta), str(op), left, right)

    @v_args(meta=True)
    def binop(self, meta, children):
        left, op, right = children
        return ast.BinOp(self.sp(meta), str(op), left, right)

    @v_args(meta=True)
    def neg(self, meta, children):
        return ast.Unary(self.sp(meta), "-", children[1])

    @v_args(meta=True)
    def pos(self, meta, children):
        return ast.Unary(self.sp(meta), "+", children[1])

    @v_args(meta=True)
    def index(self, meta, children):
        value, subscripts = children
        return ast.Index(self.sp(meta), value, subscripts)

    def subscripts(self, children):
        return [c for c in children if c is not None] if len(children) > 1 else children

    @v_args(meta=True)
    def slice(self, meta, children):
        start, stop, step = children
        return ast.Slice(self.sp(meta), start, stop, step)

    def ellipsis(self, children):
        return ast.EllipsisLit(self.sp(children[0]))

    def name(self, children):
        return ast.Name(self.sp(children[0]), str(children[0]))

    @v_args(meta=True)
    def call(self, meta, children):
        func, arguments = children
        args, kwargs = [], []
        for a in arguments or []:
            if a is None:
                continue
            if isinstance(a, ast.Keyword):
                kwargs.append(a)
            elif kwargs:
                from .errors import ParseError as PE
                raise PE("positional argument follows keyword argument", a.span)
            else:
                args.append(a)
        return ast.Call(self.sp(meta), str(func), self.sp(func), args, kwargs)

    def arguments(self, children):
        return list(children)

    @v_args(meta=True)
    def kwarg(self, meta, children):
        name, value = children
        return ast.Keyword(self.sp(meta), str(name), value)

    def number(self, children):
        tok = children[0]
        text = str(tok)
        is_int = all(c.isdigit() for c in text)
        return ast.Number(self.sp(tok), int(text) if is_int else float(text))

    def string(self, children):
        tok = children[0]
        # The grammar only admits plain quoted literals; literal_eval decodes escapes, runs nothing.
        return ast.String(self.sp(tok), pyast.literal_eval(str(tok)))

    @v_args(meta=True)
    def true(self, meta, children):
        return ast.Literal(self.sp(meta), True)

    @v_args(meta=True)
    def false(self, meta, children):
        return ast.Literal(self.sp(meta), False)

    @v_args(meta=True)
    def none(self, meta, children):
        return ast.Literal(self.sp(meta), None)

    @v_args(meta=True)
    def tuple(self, meta, children):
        return ast.Tuple(self.sp(meta), [c for c in children if c is not None])

    @v_args(meta=True)
    def list(self, meta, children):
        return ast.List(self.sp(meta), [c for c in children if c is not None])

