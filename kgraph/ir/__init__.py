"""The IR: one node type, interned per graph, printed in let-form, verified after each pass.

A `Node` is an op name, a `TensorType`, a tuple of source nodes and sorted static
attributes. The optimizer's graphs intern nodes (hash-consing), so structurally
equal expressions are one node; the builder's graph does not, so the unoptimised
IR is the program as written and merging is the `cse` pass's visible work.
Nodes are immutable; passes build new nodes through `Graph.make`. `Node.is_leaf`
says whether a node is a placeholder or a variable (the values a run is given).

**Nested bodies.** An attribute may hold a `Body`: a closed sub-graph with its own
`param` nodes and results (graph.py). A fused node's `body` is one; a loop op keeps
its body (and condition) the same way:

    Body.build([carry_type, x_type], lambda g, (c, x): [g.make("add", (c, x))])

gives a region whose one result is `add(param 0, param 1)`. The region's nodes are
made by the main type rules (`Graph.make`), printed by the main printer as a nested
block (printer.py: `body={ lambda a:f32[3] b:f32[3]. let ... in (c) }`, one
attribute a line, as a jaxpr prints a scan's body), checked by `verify_body`
(closed: nothing from the enclosing graph; params in order; no leaves; types by the
shape rules), and evaluated by the main interpreter (`Interpreter.call_body`,
lower.py, with the params bound to the node's inputs). An op whose attribute holds a
region types its node from `region.result_types`; walks of the enclosing graph do
not enter regions (`bodies_of(node)` lists a node's regions for those that must).

Modules: graph.py (Node, Graph, Body, toposort), printer.py (format_ir),
verify.py (verify, verify_body).
"""
from .graph import (LEAF_OPS, Call, ConstValue, Graph, Node, Body, depends_on, bodies_of, toposort,
                    use_registry)
from .printer import format_attr, format_ir, var_name
from .verify import VerifyError, verify, verify_body

__all__ = ["LEAF_OPS", "Call", "ConstValue", "Graph", "Node", "Body", "VerifyError", "depends_on",
           "format_attr", "format_ir", "bodies_of", "toposort", "use_registry", "var_name",
           "verify", "verify_body"]
