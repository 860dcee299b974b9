"""Text → syntax tree with spans.

The grammar (grammar/kgraph.lark, shipped inside the package as kgraph.grammar)
shapes the tree; `ToAst` (to_ast.py) builds the `ast` dataclasses while Lark parses, with no
intermediate parse tree (about half the parse time of building one first). This file loads
the grammar, keeps one parser per thread and turns Lark's errors into located ones.
"""
from __future__ import annotations

import threading
from importlib import import_module

import lark
from lark import Lark
from lark.indenter import DedentError, Indenter

from . import ast
from . import limits
from .errors import ParseError, Span
from .to_ast import STATE, ToAst


class _KGraphIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


_PARSERS = threading.local()  # per thread: its parser (see _parser)


def _parser() -> Lark:
    """This thread's parser: Lark's indenter (postlex) and the inline transformer keep state
    while they parse, so threads do not share one (each builds its own, from Lark's cache)."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        grammar_pkg = import_module("kgraph.grammar")
        parser = _PARSERS.parser = Lark.open(
            "kgraph.lark", rel_to=grammar_pkg.__file__, parser="lalr", postlex=_KGraphIndenter(),
            transformer=ToAst(), maybe_placeholders=True, strict=True, cache=True)
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
        STATE.filename, STATE.source, STATE.bracketed = filename, source, {}
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
