"""Text → syntax tree with spans.

The grammar (grammar/kgraph.lark, shipped inside the package as kgraph.grammar)
shapes the tree; `_ToAst` builds the `ast` dataclasses while Lark parses, with no
intermediate parse tree (about half the parse time of building one first).
"""
from __future__ import annotations

import ast as pyast
import threading

import lark
from lark import Lark, Token, Transformer
from lark.indenter import DedentError, Indenter

from . import ast
from . import limits
from .errors import ParseError, Span

from importlib import import_module


class _KGraphIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


_STATE = threading.local()  # per thread: its parser and the file it is parsing (see _ToAst)


def _parser() -> Lark:
    """This thread's parser: Lark's indenter (postlex) and the inline transformer keep state
    while they parse, so threads do not share one (each builds its own, from Lark's cache)."""
    parser = getattr(_STATE, "parser", None)
    if parser is None:
        grammar_pkg = import_module("kgraph.grammar")
        parser = _STATE.parser = Lark.open(
            "kgraph.lark", rel_to=grammar_pkg.__file__, parser="lalr", postlex=_KGraphIndenter(),
            transformer=_ToAst(), maybe_placeholders=True, strict=True, cache=True)
    return parser


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
    _check_depth(source, filename)
    parser = _parser()
    try:
        _STATE.filename, _STATE.source, _STATE.bracketed = filename, source, {}
        return parser.parse(text)
    except lark.UnexpectedInput as e:
        raise _syntax_error(e, text, source, filename) from None
    except DedentError:
        line = _dedent_line(text)
        span = Span(filename, line, 1, line, 2, source)
        raise ParseError("unindent does not match any outer indentation level", span) from None


def _check_depth(source: str, filename: str) -> None:
    """Brackets nested past max_depth are refused before the parser recurses into them."""
    depth, where = limits.nesting_depth(source, "#", past=limits.current().max_depth)
    if depth > limits.current().max_depth:
        line = source.count("\n", 0, where) + 1
        column = where - (source.rfind("\n", 0, where) + 1) + 1
        raise limits.exceeded("max_depth", depth, "the nesting depth of brackets",
                              Span(filename, line, column, line, column + 1, source))


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


def _nodes(children) -> list:
    """The syntax-tree children, without the brackets, commas and placeholders around them."""
    return [c for c in children if isinstance(c, ast.Node)]


class _ToAst(Transformer):
    """Builds `ast` nodes while Lark parses: methods are named after the grammar's rules
    and aliases, and each receives its children (tokens, ast nodes, None for an absent
    optional part). A node's place runs from its first token to its last.

    A bracketed expression `(e)` keeps e's own place, but the node that holds it
    starts or ends at the bracket: `bracketed` maps id(e) to the place with brackets.

    One instance serves every parse (Lark binds its methods once), so it holds no state:
    the file name, text and `bracketed` of the parse in progress are the calling thread's
    (`_STATE`, set by `parse`), and two threads parse at once without sharing any of it.
    """

    def sp(self, first, last=None) -> Span:
        start = self._outer(first)
        end = start if last is None else self._outer(last)
        return Span(_STATE.filename, start.line, start.column, end.end_line, end.end_column, _STATE.source)

    def _outer(self, x) -> Token | Span:
        """The place of a child within its parent (line, column, end_line, end_column)."""
        if isinstance(x, Token):
            return x
        return _STATE.bracketed.get(id(x), x.span)

    # --- program and statements
    def start(self, stmts):
        return ast.Program(Span(_STATE.filename, 1, 1, 1, 1, _STATE.source), [s for s in stmts if s is not None])

    def placeholder_stmt(self, children):
        keyword, name, _, type_spec = children
        if type_spec is None:
            return ast.Placeholder(self.sp(keyword, name), str(name), None, None, None)
        dtype, shape, type_span = type_spec
        span = Span(_STATE.filename, keyword.line, keyword.column, type_span.end_line, type_span.end_column,
                    _STATE.source)
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
        _STATE.bracketed[id(expr)] = self.sp(opening, closing)
        return expr

    def tuple(self, children):
        return ast.Tuple(self.sp(children[0], children[-1]), _nodes(children))

    def list(self, children):
        return ast.List(self.sp(children[0], children[-1]), _nodes(children))
