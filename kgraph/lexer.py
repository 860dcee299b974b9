"""Syntax highlighting for `.kg` programs and kgraph's IR text, as Pygments lexers.

`KGraphLexer` is registered through the `pygments.lexers` entry point (pyproject.toml),
so Sphinx, Jupyter, `pygmentize -l kgraph` and any Pygments-based tool colour `.kg`
files. `KGraphIRLexer` colours the let-form IR that `kgraph ir` and `prog.ir()` print.
`highlight(text, lexer)` turns either into a rich `Text` for kgraph's own output.
"""
from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (Comment, Keyword, Name, Number, Operator, Punctuation, String, Text,
                            Whitespace)

from .types import DTYPES

KEYWORDS = ("placeholder", "variable", "def", "return", "output", "as", "update", "lambda",
            "shard")
CONSTANTS = ("True", "False", "None")

_NUMBER = r"(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?"


class KGraphLexer(RegexLexer):
    """The kgraph expression-graph language (LANGUAGE.md §2-5)."""

    name = "kgraph"
    aliases = ["kgraph", "kg"]
    filenames = ["*.kg"]
    mimetypes = ["text/x-kgraph"]

    tokens = {
        "root": [
            (r"\n", Whitespace),
            (r"[ \t]+", Whitespace),
            (r"\\\n", Whitespace),
            (r"#.*$", Comment.Single),
            (r"(def)(\s+)([A-Za-z_]\w*)", bygroups(Keyword, Whitespace, Name.Function)),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(tuple(sorted(DTYPES, key=len, reverse=True)), suffix=r"\b"), Keyword.Type),
            (r"[A-Za-z_]\w*(?=\s*\()", Name.Builtin),
            (r"[A-Za-z_]\w*", Name),
            (_NUMBER, Number),
            (r"'[^'\\\n]*(\\.[^'\\\n]*)*'", String.Single),
            (r'"[^"\\\n]*(\\.[^"\\\n]*)*"', String.Double),
            (r"\*\*|//|<=|>=|==|!=|[-+*/%@<>=]", Operator),
            (r"[()\[\]{},:.;]", Punctuation),
            # Anything else is not kgraph: Pygments marks it as an Error token.
        ],
    }


class KGraphIRLexer(RegexLexer):
    """kgraph's IR in let-form (`c:f32[3] = add a b`), as `kgraph ir` prints it."""

    name = "kgraph IR"
    aliases = ["kgraph-ir"]
    filenames = []

    tokens = {
        "root": [
            (r"\n", Whitespace),
            (r"[ \t]+", Whitespace),
            (r"#.*$", Comment.Single),
            (r"(==|--)[^\n]*", Comment.Special),  # pass headings and tables
            (r"\b(in|let|lambda|outputs?|updates?|placeholders?|variables?)\b", Keyword),
            (r"\b(f16|bf16|f32|f64|i8|i16|i32|i64|u8|bool)\b", Keyword.Type),
            (words(tuple(sorted(DTYPES, key=len, reverse=True)), suffix=r"\b"), Keyword.Type),
            (r"(?<== )[A-Za-z_]\w*", Name.Builtin),  # the op of an equation
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (r"-?" + _NUMBER, Number),
            (r"'[^'\n]*'", String.Single),
            (r'"[^"\n]*"', String.Double),
            (r"[A-Za-z_]\w*", Name),
            (r"[=:\[\](){},;.*+\-/<>|]", Punctuation),
            (r".", Text),
        ],
    }


_STYLE = {
    Comment: "dim italic", Keyword: "bold magenta", Keyword.Constant: "magenta",
    Keyword.Type: "cyan", Name.Function: "bold blue", Name.Builtin: "blue", Number: "green",
    String: "yellow", Operator: "bold", Comment.Special: "bold",
}


def _style_of(token) -> str | None:
    while token is not None:
        if token in _STYLE:
            return _STYLE[token]
        token = token.parent
    return None


def highlight(text: str, lexer: RegexLexer | None = None):
    """`text` as a rich `Text` coloured by `lexer` (a `KGraphLexer` by default)."""
    from rich.text import Text as RichText  # deferred: 0.06 s of `import kgraph` for the CLI's colours

    lexer = lexer or KGraphLexer(stripnl=False, ensurenl=False)
    out = RichText()
    for token, value in lexer.get_tokens(text):
        out.append(value, style=_style_of(token))
    return out
