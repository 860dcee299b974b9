"""How kgraph shows values: text and JSON for the terminal, HTML views for notebooks.

`to_text` and `to_json` print a run's outputs (`kgraph run`, `kgraph ops`). The notebook
views (a Program's signature and graph, a run's outputs, an error) are the HTML that Jupyter
shows through an object's `_repr_html_`. They need nothing beyond kgraph's own dependencies:
the graph is inline SVG when Graphviz's `dot` is installed, the IR as text otherwise.
"""
from __future__ import annotations

import html
import math
import shutil
import subprocess

import numpy as np

from .dot import to_dot
from .errors import KGraphError
from .lexer import KGraphIRLexer, KGraphLexer

MAX_VALUE_CHARS = 600  # a value longer than this is cut, NumPy's summary with '...' first
DOT_TIMEOUT_S = 10

_TABLE = ('<table style="border-collapse:collapse;font-family:monospace;text-align:left">'
          '<tr>{head}</tr>{rows}</table>')
_CELL = '<td style="padding:2px 10px;vertical-align:top;text-align:left">{}</td>'


# ---- text and JSON, for the terminal ---------------------------------------------

def _json_float(v) -> float | str:
    # str() of a float32 scalar is its shortest round-tripping text: 0.1, not 0.10000000149.
    f = float(str(v))
    if math.isfinite(f):
        return f
    return "NaN" if math.isnan(f) else ("Infinity" if f > 0 else "-Infinity")


def _jsonable(a: np.ndarray):
    if a.dtype.kind != "f" and a.dtype.name != "bfloat16":
        return a.tolist()
    flat = [_json_float(v) for v in a.ravel()]
    if a.ndim == 0:
        return flat[0]
    return np.array(flat, dtype=object).reshape(a.shape).tolist()


def to_json(outputs: dict) -> dict:
    """{"name": {"dtype", "shape", "data"}}; NaN and ±inf become the strings "NaN", "Infinity"."""
    return {name: {"dtype": a.dtype.name, "shape": list(a.shape), "data": _jsonable(a)}
            for name, a in outputs.items()}


def to_text(outputs: dict) -> str:
    """A run's outputs as `kgraph run` prints them: `name: dtype[shape] = value`, one each."""
    lines = []
    for name, a in outputs.items():
        head = f"{name}: {a.dtype.name}[{', '.join(str(d) for d in a.shape)}]"
        body = str(a[()]) if a.ndim == 0 else np.array2string(a, threshold=200, edgeitems=3,
                                                                max_line_width=100)
        if "\n" in body:
            lines.append(head + " =")
            lines.extend("  " + line for line in body.splitlines())
        else:
            lines.append(f"{head} = {body}")
    return "\n".join(lines)


# ---- HTML, for notebooks ------------------------------------------------------------

def _table(head: list[str], rows: list[list[str]]) -> str:
    head_html = "".join(f'<th style="padding:2px 10px;text-align:left">{h}</th>' for h in head)
    body = "".join("<tr>" + "".join(_CELL.format(c) for c in row) + "</tr>" for row in rows)
    return _TABLE.format(head=head_html, rows=body)


def shape_text(shape: tuple) -> str:
    return "[" + ", ".join("None" if d is None else str(d) for d in shape) + "]"


def value_text(a: np.ndarray) -> str:
    """An array as NumPy prints it, summarised (`...`) past a few hundred characters."""
    text = np.array2string(a, threshold=64, edgeitems=3, precision=4, max_line_width=100)
    if len(text) > MAX_VALUE_CHARS:
        text = np.array2string(a, threshold=8, edgeitems=2, precision=4, max_line_width=100)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + " …"
    return text


def outputs_html(outputs: dict[str, np.ndarray]) -> str:
    rows = []
    for name, value in outputs.items():
        a = np.asarray(value)
        rows.append([f"<b>{html.escape(name)}</b>", a.dtype.name, shape_text(a.shape),
                     f"<pre style='margin:0'>{html.escape(value_text(a))}</pre>"])
    return _table(["output", "dtype", "shape", "value"], rows)


class Outputs(dict):
    """A run's outputs: a dict (name -> NumPy array, in output order) that a notebook shows
    as a table of each output's dtype, shape and value."""

    def _repr_html_(self) -> str:
        return outputs_html(self)


def program_html(program) -> str:
    """The signature (placeholders, variables, outputs), the warnings and the graph."""
    parts = [f"<div><b>kgraph program</b> <code>{html.escape(program.filename)}</code> "
             f"(-O{program.opt_level}, floatx {program.floatx})</div>"]
    leaves = [["placeholder", f"<b>{html.escape(name)}</b>", dtype, shape_text(shape)]
              for name, (dtype, shape) in program.placeholders.items()]
    leaves += [["variable", f"<b>{html.escape(name)}</b>", v.dtype.name, shape_text(v.shape)]
               for name, v in program.variables.items()]
    types = {name: node.type for name, node in program.graph.outputs}
    leaves += [["output", f"<b>{html.escape(name)}</b>", types[name].dtype, shape_text(types[name].shape)]
               for name in program.outputs]
    parts.append(_table(["", "name", "dtype", "shape"], leaves))
    for w in program.warnings:
        parts.append(f"<pre style='color:#a0a'>{html.escape(w.render())}</pre>")
    svg = graph_svg(program)
    if svg is not None:
        parts.append(f"<details open><summary>graph</summary>{svg}</details>")
    else:
        parts.append("<details><summary>IR (install Graphviz's <code>dot</code> for a picture)"
                     f"</summary>{code_html(program.ir(), ir=True)}</details>")
    return "\n".join(parts)


def graph_svg(program) -> str | None:
    """The optimised graph as SVG text, or None without Graphviz's `dot`."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    source = to_dot(program.graph, program.filename).source
    try:
        done = subprocess.run([dot, "-Tsvg"], input=source.encode(), capture_output=True,
                              timeout=DOT_TIMEOUT_S, check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    svg = done.stdout.decode("utf-8", "replace")
    return svg[svg.find("<svg"):]  # without the XML prologue, to sit inside HTML


_COLOURS = {"Comment": "#708090", "Keyword": "#a020a0", "Name.Builtin": "#1060c0",
            "Name.Function": "#1060c0", "Number": "#208020", "String": "#b06000",
            "Keyword.Type": "#108080"}


def code_html(text: str, ir: bool = False) -> str:
    """kgraph source (or IR) as highlighted HTML, with inline styles (no stylesheet needed)."""
    lexer = (KGraphIRLexer if ir else KGraphLexer)(stripnl=False, ensurenl=False)
    out = []
    for token, value in lexer.get_tokens(text):
        colour = None
        t = token
        while t is not None and colour is None:
            colour = _COLOURS.get(str(t).removeprefix("Token."))
            t = t.parent
        value = html.escape(value)
        out.append(f'<span style="color:{colour}">{value}</span>' if colour else value)
    return "<pre style='margin:0'>" + "".join(out) + "</pre>"


def error_html(error: KGraphError) -> str:
    """`file:line:col: error: message`, the source line highlighted and the caret."""
    lines = error.render().split("\n")
    out = []
    for i, line in enumerate(lines):
        caret_below = i + 1 < len(lines) and lines[i + 1].strip().startswith("^")
        if i == 0:
            head, _, rest = line.partition("error:")
            out.append(f"<b>{html.escape(head)}</b><b style='color:#d00'>error:</b>"
                       f"<b>{html.escape(rest)}</b>")
        elif caret_below:
            out.append(code_html(line)[len("<pre style='margin:0'>"):-len("</pre>")])
        elif line.strip().startswith("^"):
            out.append(f"<span style='color:#080'><b>{html.escape(line)}</b></span>")
        else:
            out.append(html.escape(line))
    return "<pre style='margin:0'>" + "\n".join(out) + "</pre>"
