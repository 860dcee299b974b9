"""A graph's IR as a Graphviz drawing (`kgraph graph`, Program._repr_svg_ via display.py):
not in the command module, so that display.py need not import a command."""
from __future__ import annotations

from typing import Any

from .errors import KGraphError
from .ir import Body, ConstValue, Graph, Node, format_attr, toposort

FORMATS = ("svg", "png", "pdf", "dot", "gv")
INSTALL = ("install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
           "conda: conda install graphviz), or write the graph as text with -o FILE.dot")

STYLE = {
    "placeholder": dict(shape="invhouse", style="filled", fillcolor="#cfe2f3"),
    "variable": dict(shape="cylinder", style="filled", fillcolor="#fce5cd"),
    "const": dict(shape="note", style="filled", fillcolor="#eeeeee", fontsize="10"),
    "grad": dict(shape="box", style="filled,rounded", fillcolor="#f4cccc"),
    "op": dict(shape="box", style="rounded"),
    "fused": dict(shape="box", style="filled,rounded", fillcolor="#fff2cc"),  # ops inside a region
    "param": dict(shape="invhouse", style="filled", fillcolor="#d0e0ff"),  # a loop body's parameter
    "output": dict(shape="box", style="filled,bold", fillcolor="#d9ead3"),
    "update": dict(shape="box", style="filled,bold", fillcolor="#fce5cd"),
}
HIDDEN_ATTRS = {"uid", "name", "value", "body"}
MAX_ATTR = 32


def body_of(node: Node) -> Body | None:
    """A fused node's region (its `body` attribute), or None (a loop's body is drawn apart)."""
    return node.attr("body") if node.op == "fused" else None


def _attr_text(value: Any) -> str:
    text = format_attr(value)
    return text if len(text) <= MAX_ATTR else text[: MAX_ATTR - 3] + "..."


def op_label(op: str, attrs, type_) -> str:
    shown = [f"{k}={_attr_text(v)}" for k, v in attrs if k not in HIDDEN_ATTRS]
    head = op + (f"\n[{' '.join(shown)}]" if shown else "")
    return f"{head}\n{type_.short()}"


def label_of(node: Node) -> str:
    t = node.type.short()
    if node.is_leaf:
        return f"{node.attr('name')}\n{node.op} {t}"
    if node.op == "const":
        value = node.attr("value")
        return f"{value!r}\n{t}" if isinstance(value, ConstValue) else f"const\n{t}"
    return op_label(node.op, node.attrs, node.type)


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
        body = body_of(node)
        if body is not None:
            _draw_fused(dot, node, body)
        elif node.id not in in_groups:
            _draw_node(dot, node, f"n{node.id}")
    for i, group in enumerate(grad_groups.values()):
        loss = group[0].srcs[0]
        with dot.subgraph(name=f"cluster_grad{i}") as sub:
            sub.attr(label=f"gradients of {loss.op} ({loss.type.short()})", style="dashed",
                     color="#cc0000", fontcolor="#cc0000")
            for node in group:
                _draw_node(sub, node, f"n{node.id}")
    for node in order:
        if node.op == "scan":
            _draw_loop(dot, node, "")
            continue
        if body_of(node) is not None:
            continue  # drawn with its region
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


def render(dot, fmt: str, what: str) -> bytes:
    """`dot` drawn as `fmt` (svg, png, pdf) by Graphviz's `dot` program; `what` (the file to
    write) names the drawing when the program is missing or fails, a KGraphError."""
    import graphviz

    try:
        return dot.pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        raise KGraphError(f"drawing {what} needs Graphviz's `dot` program, which was not "
                          f"found on PATH: {INSTALL}") from None
    except graphviz.CalledProcessError as e:
        raise KGraphError(f"Graphviz's `dot` failed to draw {what}: {e}") from None


def _draw_node(dot, node: Node, node_id: str) -> None:
    dot.node(node_id, label_of(node), **STYLE.get(node.op, STYLE["op"]))


def _draw_fused(dot, node: Node, body: Body) -> None:
    """The region as a cluster of its equations; the last one stands for the node itself."""
    eqns = body.eqns
    ids = {p.id: f"n{s.id}" for p, s in zip(body.params, node.srcs)}
    with dot.subgraph(name=f"cluster_n{node.id}") as sub:
        sub.attr(label=f"fused region ({len(eqns)} ops)", style="filled,rounded",
                 fillcolor="#fffbe6", color="#bf9000")
        for j, inner in enumerate(eqns):
            ids[inner.id] = f"n{node.id}" if j == len(eqns) - 1 else f"n{node.id}_{j}"
            sub.node(ids[inner.id], op_label(inner.op, inner.attrs, inner.type), **STYLE["fused"])
    for inner in eqns:  # edges outside the cluster: it must not swallow the input nodes
        for s in inner.srcs:
            dot.edge(ids[s.id], ids[inner.id])


def _draw_loop(dot, node: Node, prefix: str) -> None:
    """The body as a cluster: the loop's sources feed its parameters, its results the loop."""
    body = node.attr("body")
    n_carry, n_xs = node.attr("n_carry"), node.attr("n_xs")
    inner = f"{prefix}b{node.id}_"
    nodes = toposort(body.results)
    drawn = {n.id for n in nodes}
    with dot.subgraph(name=f"cluster_{inner}") as sub:
        sub.attr(label=f"loop body (one step; {n_carry} carried, {n_xs} stepped over)", style="rounded",
                 color="#1f6feb", fontcolor="#1f6feb")
        for n in nodes:
            if n.op == "param":
                i = n.attr("index")
                role = "carried" if i < n_carry else "one step of" if i < n_carry + n_xs else "captured"
                sub.node(f"{inner}n{n.id}", f"param {i}\n{role}\n{n.type.short()}", **STYLE["param"])
            else:
                _draw_node(sub, n, f"{inner}n{n.id}")
    for n in nodes:
        if n.op == "scan":
            _draw_loop(dot, n, inner)
            continue
        for src in n.srcs:
            dot.edge(f"{inner}n{src.id}", f"{inner}n{n.id}")
    for param, src in zip(body.params, node.srcs):
        target = f"{inner}n{param.id}" if param.id in drawn else f"{prefix}n{node.id}"
        dot.edge(f"{prefix}n{src.id}", target, style="dotted")
    for i, result in enumerate(body.results):
        dot.edge(f"{inner}n{result.id}", f"{prefix}n{node.id}", style="dashed", label=f"r{i}")


# ---- the command ---------------------------------------------------------------------
