"""The IR printer: let-form text, one equation a line, names chosen as jaxpr chooses them.

    { placeholders a:f32[None,4]=x
      variables b:f32[4,3]=W
      let
        c:f32[None,3] = dot a b
        d:f32[None,3] = fused c
          { lambda ; e:f32[None,3] . let
              f:f32[None,3] = exp e
              g:f32[None,3] = negative f
            in (g) }
      in (y=d) }

A node whose attributes hold a `Body` (a fused node's body, a loop's body) is
followed by each body as a nested block, indented, as a jaxpr prints a scan's body:
`{ lambda ; PARAMS . let EQUATIONS in (RESULTS) }` (an attribute other than `body`
is named before its block). Names run on through nested blocks, so every name in
the text is unique.
"""
from __future__ import annotations

import math
from typing import Any

from .graph import Graph, Node, Body, toposort

_LEAF_RANK = {"placeholder": 0, "variable": 1}


def var_name(i: int) -> str:
    """a, b, ..., z, ba, bb, ... as jaxpr names them."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    s = ""
    while True:
        s = letters[i % 26] + s
        i //= 26
        if i == 0:
            return s


def format_attr(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, tuple):
        inner = ", ".join(format_attr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


class _Printer:
    def __init__(self):
        self.names: dict[Node, str] = {}  # by node: a region's ids are its own graph's
        self.count = 0  # names given: equal bodies are one object, each printing gets new names

    def name(self, node: Node) -> str:
        self.names[node] = var_name(self.count)
        self.count += 1
        return self.names[node]

    def typed(self, node: Node) -> str:
        return f"{self.name(node)}:{node.type.short()}"

    def equation(self, node: Node, indent: str) -> list[str]:
        """The node's line; each body in its attributes follows it, indented, as a nested block."""
        params = [(k, v) for k, v in node.attrs if k != "uid" and not isinstance(v, Body)]
        attrs = "[" + " ".join(f"{k}={format_attr(v)}" for k, v in params) + "]" if params else ""
        args = " ".join(self.names[s] for s in node.srcs)
        lines = [f"{indent}{self.typed(node)} = {node.op}{attrs}{' ' if args else ''}{args}"]
        for k, v in node.attrs:
            if isinstance(v, Body):
                lines += self.body(v, indent + "  ", "" if k == "body" else f"{k}=")
        return lines

    def body(self, body: Body, indent: str, prefix: str) -> list[str]:
        binders = " ".join(self.typed(p) for p in body.params)
        lines = [f"{indent}{prefix}{{ lambda ; {binders} . let"]
        for node in body.eqns:
            lines += self.equation(node, indent + "    ")
        results = ", ".join(self.names[r] for r in body.results)
        return lines + [f"{indent}  in ({results}) }}"]


def format_ir(graph: Graph, roots: list[tuple[str, Node]] | None = None,
              updates: list[tuple[str, Node]] | None = None,
              layouts: dict[str, str] | None = None) -> str:
    """The graph as let-form text, one equation a line, names chosen by the printer.

    `layouts` (leaf name → '[data, None]') prints each leaf's sharding after its name."""
    layouts = layouts or {}
    outputs = graph.outputs if roots is None else roots
    updates = graph.updates if updates is None else updates
    order = toposort([n for _, n in outputs] + [n for _, n in updates])
    # Leaves first (placeholders, then variables, in declaration order), as jaxpr's binders.
    leaves = sorted((n for n in order if n.op in _LEAF_RANK), key=lambda n: (_LEAF_RANK[n.op], n.id))
    printer = _Printer()
    binders = {op: [] for op in _LEAF_RANK}
    for n in leaves:
        name = n.attr("name")
        binders[n.op].append(f"{printer.typed(n)}={name}{layouts.get(name, '')}")
    lines = ["{ placeholders " + (" ".join(binders["placeholder"]) or "-")]
    lines.append("  variables " + (" ".join(binders["variable"]) or "-"))
    lines.append("  let")
    for node in order:
        if node.op not in _LEAF_RANK:
            lines += printer.equation(node, "    ")
    names = printer.names
    outs = ", ".join(f"{n}={names[node]}" for n, node in outputs)
    ups = ", ".join(f"{n}<-{names[node]}" for n, node in updates)
    lines.append("  in (" + outs + (("; " + ups) if ups else "") + ") }")
    return "\n".join(lines)
