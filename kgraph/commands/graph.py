"""`kgraph graph`: a picture of the IR, drawn with Graphviz."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import KGraphError
from ..ir import ConstValue, Graph, Node, toposort

NAME = "graph"
HELP = "draw a program's IR as .svg, .png, .pdf or .dot"
DESCRIPTION = """\
Draw the IR of FILE.kg (after the optimizer, at the -O level given) with Graphviz.
Placeholders, variables, constants, outputs and gradients each have their own shape
and colour; every node shows its op and type; fused regions are boxed clusters.

.dot needs only Python; .svg, .png and .pdf need Graphviz's `dot` program
(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz;
conda: conda install graphviz). Without -o the .dot text goes to standard output.

examples:
  kgraph graph examples/logreg.kg -o logreg.svg
  kgraph graph examples/logreg.kg -o logreg.dot -O0    the graph as written
  kgraph graph model.kg | dot -Tpng > model.png
"""

FORMATS = ("svg", "png", "pdf", "dot", "gv")
INSTALL = ("install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
           "conda: conda install graphviz), or write the graph as text with -o FILE.dot")

STYLE = {
    "placeholder": dict(shape="invhouse", style="filled", fillcolor="#cfe2f3"),
    "variable": dict(shape="cylinder", style="filled", fillcolor="#fce5cd"),
    "const": dict(shape="note", style="filled", fillcolor="#eeeeee", fontsize="10"),
    "grad": dict(shape="box", style="filled,rounded", fillcolor="#f4cccc"),
    "op": dict(shape="box", style="rounded"),
    "fused": dict(shape="box", style="filled,rounded", fillcolor="#fff2cc"),
    "output": dict(shape="box", style="filled,bold", fillcolor="#d9ead3"),
    "update": dict(shape="box", style="filled,bold", fillcolor="#fce5cd"),
}
HIDDEN_ATTRS = {"uid", "name", "value"}
MAX_ATTR = 32


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..cli import add_compile_options

    p.add_argument("file", metavar="FILE.kg", help="the program to draw")
    p.add_argument("-o", "--output", metavar="OUT", default=None,
                   help="where to write: OUT.svg, OUT.png, OUT.pdf or OUT.dot (default: .dot text "
                        "on standard output)")
    add_compile_options(p)


# ---- IR → Graphviz ---------------------------------------------------------------

def region_of(node: Node) -> list[Node]:
    """The nodes inside a fused node: any attribute holding a graph, a node or nodes."""
    for _, value in node.attrs:
        roots = _roots_in(value)
        if roots:
            return toposort(roots)
    return []


def _roots_in(value: Any) -> list[Node]:
    if isinstance(value, Node):
        return [value]
    if isinstance(value, Graph):
        return value.roots()
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, Node) for v in value):
        return list(value)
    for name in ("roots", "outputs", "nodes"):
        inner = getattr(value, name, None)
        if isinstance(inner, (tuple, list)) and inner:
            found = [v[1] if isinstance(v, tuple) else v for v in inner]
            if all(isinstance(v, Node) for v in found):
                return found
    return []


def _attr_text(value: Any) -> str:
    from ..ir import _format_attr

    text = _format_attr(value)
    return text if len(text) <= MAX_ATTR else text[: MAX_ATTR - 3] + "..."


def label_of(node: Node) -> str:
    t = node.type.short()
    if node.op in ("placeholder", "variable"):
        return f"{node.attr('name')}\n{node.op} {t}"
    if node.op == "const":
        value = node.attr("value")
        return f"{value!r}\n{t}" if isinstance(value, ConstValue) else f"const\n{t}"
    attrs = [f"{k}={_attr_text(v)}" for k, v in node.attrs
             if k not in HIDDEN_ATTRS and not _roots_in(v)]
    head = node.op + (f"\n[{' '.join(attrs)}]" if attrs else "")
    return f"{head}\n{t}"


def style_of(node: Node) -> dict:
    if node.op in STYLE:
        return STYLE[node.op]
    return STYLE["fused"] if region_of(node) else STYLE["op"]


def to_dot(graph: Graph, title: str = ""):
    import graphviz

    dot = graphviz.Digraph("kgraph", graph_attr=dict(rankdir="TB", label=title, labelloc="t",
                                                       fontname="Helvetica"),
                           node_attr=dict(fontname="Helvetica", fontsize="11"),
                           edge_attr=dict(fontname="Helvetica", fontsize="9", color="#555555"))
    order = graph.live_nodes()
    grad_groups: dict[tuple, list[Node]] = {}
    for node in order:
        if node.op == "grad":
            grad_groups.setdefault(tuple(s.id for s in node.srcs), []).append(node)
    in_groups = {n.id for group in grad_groups.values() for n in group}
    for node in order:
        if node.id not in in_groups:
            _draw_node(dot, node, f"n{node.id}")
    for i, group in enumerate(grad_groups.values()):
        loss = group[0].srcs[0]
        with dot.subgraph(name=f"cluster_grad{i}") as sub:
            sub.attr(label=f"gradients of {loss.op} ({loss.type.short()})", style="dashed",
                     color="#cc0000", fontcolor="#cc0000")
            for node in group:
                _draw_node(sub, node, f"n{node.id}")
    for node in order:
        for j, src in enumerate(node.srcs):
            attrs = {}
            if node.op == "grad":
                attrs = dict(label="loss") if j == 0 else dict(style="dashed", label="wrt")
                if j > 0 and j - 1 != node.attr("index"):
                    continue  # each grad node shows only its own target
            dot.edge(f"n{src.id}", f"n{node.id}", **attrs)
    for kind, entries in (("output", graph.outputs), ("update", graph.updates)):
        for name, node in entries:
            out_id = f"{kind}_{name}"
            dot.node(out_id, f"{kind} {name}\n{node.type.short()}", **STYLE[kind])
            dot.edge(f"n{node.id}", out_id)
    return dot


def _draw_node(dot, node: Node, node_id: str) -> None:
    inner = region_of(node)
    if not inner:
        dot.node(node_id, label_of(node), **style_of(node))
        return
    with dot.subgraph(name=f"cluster_{node_id}") as sub:
        sub.attr(label=f"{node.op} region", style="filled,rounded", fillcolor="#fffbe6", color="#bf9000")
        sub.node(node_id, label_of(node), **STYLE["fused"])
        inner_ids = {n.id for n in inner}
        for n in inner:
            sub.node(f"{node_id}_{n.id}", label_of(n), **STYLE.get(n.op, STYLE["op"]))
            for s in n.srcs:
                if s.id in inner_ids:
                    sub.edge(f"{node_id}_{s.id}", f"{node_id}_{n.id}")
        for n in inner:
            if not any(n in m.srcs for m in inner):
                sub.edge(f"{node_id}_{n.id}", node_id, style="dotted")


# ---- the command ---------------------------------------------------------------------

def main(args) -> int:
    from ..program import load

    fmt = "dot"
    if args.output is not None:
        fmt = Path(args.output).suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            print(f"kgraph graph: error: cannot write {args.output!r}: the name must end in "
                  f"{', '.join('.' + f for f in FORMATS)}", file=sys.stderr)
            return 2
    program = load(args.file, opt_level=args.opt_level, floatx=args.floatx)
    dot = to_dot(program.graph, f"{Path(args.file).name} (-O{args.opt_level})")
    if args.output is None:
        sys.stdout.write(dot.source)
        return 0
    if fmt in ("dot", "gv"):
        _write(args.output, dot.source.encode())
        return 0
    import graphviz

    try:
        data = dot.pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        raise KGraphError(f"drawing {args.output} needs Graphviz's `dot` program, which was not "
                          f"found on PATH: {INSTALL}") from None
    except graphviz.CalledProcessError as e:
        raise KGraphError(f"Graphviz's `dot` failed to draw {args.output}: {e}") from None
    _write(args.output, data)
    return 0


def _write(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise KGraphError(f"cannot write {path}: {e.strerror or e}") from None
    print(f"wrote {path}", file=sys.stderr)
