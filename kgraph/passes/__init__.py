"""The optimizer: a table of passes, run in order, each a rewrite of the whole graph.

    -O0  nothing
    -O1  dce, cse, fold
    -O2  all of them (the default)

Each pass returns a new graph (see rewrite.py) and a count of the rules it fired;
`run_pipeline` also reports nodes before and after and the time taken, which
`kgraph ir` prints.
"""
from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from .. import bugs
from ..errors import KGraphError
from ..ir import Graph, toposort, verify
from .blocks import BlockScanner
from .basic import Canonicaliser, DeadCodeEliminator, Folder
from .fusion import Fuser
from .loops import Hoister, rewrite_bodies
from .matmul_chain import ChainReorderer
from .rewrite import Options, Rewriter
from .rules import algebra_rewriter, stability_rewriter

DEFAULT_FOLD_LIMIT = Options.fold_limit


@dataclass(frozen=True)
class Pass:
    name: str
    level: int  # the lowest -O level that runs it
    make: Callable[[Options], Rewriter]  # a rewriter: a rule table on the generic one, or a class
    doc: str

    def run(self, graph: Graph, options: Options) -> Rewriter:
        """The finished rewrite of `graph`: .graph, .fired, .live_in, .problems."""
        rw = self.make(options)
        rw.run(graph)
        return rw


# Rule tables (data, run by the generic Rewriter): simplify, stabilize. The rest are classes,
# because each needs the whole graph or a table built during the walk (docs/optimizer.md).
PIPELINE: tuple[Pass, ...] = (
    Pass("scan-blocks", 2, BlockScanner, "a chain of calls of one def (a layer stack) becomes one scan"),
    Pass("dce", 1, DeadCodeEliminator, "keep only what an output or update needs"),
    Pass("cse", 1, Canonicaliser, "one node per distinct expression (b + a merges into a + b)"),
    Pass("fold", 1, Folder, "evaluate nodes whose inputs are constants (not random, not print, size-capped)"),
    Pass("simplify", 2, algebra_rewriter, "algebraic identities (algebra.py)"),
    Pass("stabilize", 2, stability_rewriter, "numerically stable forms (stability.py)"),
    Pass("hoist", 2, Hoister, "compute once before a loop what its body takes only from outside it"),
    Pass("matmul-chain", 2, ChainReorderer, "re-parenthesise dot chains by flop count"),
    Pass("fuse", 2, Fuser, "one node per region of elementwise ops"),
)

PASS_NAMES = tuple(p.name for p in PIPELINE)
SCAN_MIN_BLOCKS = Options.scan_min_blocks


def scan_blocks_option(disabled, scan_blocks: bool | int) -> tuple[tuple, int]:
    """`compile(scan_blocks=...)` as (passes disabled, the shortest chain made a loop)."""
    if scan_blocks is True or scan_blocks is False:
        return tuple(disabled) + (() if scan_blocks else ("scan-blocks",)), SCAN_MIN_BLOCKS
    if not isinstance(scan_blocks, int) or scan_blocks < 1:
        raise KGraphError(f"scan_blocks must be True, False or a number of calls (1 or more), "
                          f"got {scan_blocks!r}")
    return tuple(disabled), scan_blocks


@dataclass
class PassReport:
    name: str
    nodes_before: int
    nodes_after: int
    fired: dict = field(default_factory=dict)
    seconds: float = 0.0
    problems: list = field(default_factory=list)  # rules that raised or cycled (a bug: report it)

    def line(self) -> str:
        rules = ", ".join(f"{k} ×{v}" for k, v in sorted(self.fired.items())) or "-"
        text = (f"{self.name:<13} {self.nodes_before:>7} → {self.nodes_after:<7} "
                f"{self.seconds * 1e3:8.2f} ms  {rules}")
        return "\n".join([text] + [f"  BUG in {self.name}: {p}" for p in self.problems])


@contextmanager
def paused_gc():
    """Python's cyclic GC off while a compile allocates its many small, long-lived nodes.

    Each full collection walks every live node, so with it on the compile time of
    a large program grows faster than its size (3x slower at 30k nodes).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def optimize(graph: Graph, level: int, disabled=(), fast_math: bool = False,
             fold_limit: int | None = DEFAULT_FOLD_LIMIT,
             scan_min_blocks: int = Options.scan_min_blocks) -> Graph:
    """The optimised graph for an -O level; `disabled` names passes to skip."""
    return run_pipeline(graph, level, disabled, fast_math, fold_limit, scan_min_blocks=scan_min_blocks)[0]


def run_pipeline(graph: Graph, level: int, disabled=(), fast_math: bool = False,
                 fold_limit: int | None = DEFAULT_FOLD_LIMIT, check: bool = False,
                 scan_min_blocks: int = Options.scan_min_blocks) -> tuple[Graph, list[PassReport]]:
    """Run the passes of `level`; `check` verifies the IR after each one (tests do).
    `scan_min_blocks` is the shortest chain of calls that scan-blocks makes a loop of."""
    unknown = sorted(set(disabled) - set(PASS_NAMES))
    if unknown:
        raise KGraphError(f"unknown pass {unknown[0]!r} (passes: {', '.join(PASS_NAMES)})")
    if fold_limit is not None and (not isinstance(fold_limit, int) or fold_limit < 0):
        raise KGraphError(f"the fold limit must be a non-negative number of elements, got {fold_limit!r}")
    chosen = [p for p in PIPELINE if p.level <= level and p.name not in disabled]
    if "fold" in disabled or level < 1:
        fold_limit = None  # no pass folds, not even the constants a rule builds
    options = Options(level=level, fast_math=fast_math, fold_limit=fold_limit, scan_min_blocks=scan_min_blocks)
    reports: list[PassReport] = []
    with paused_gc():
        for p in chosen:
            start = time.perf_counter()
            with bugs.stage(f"the {p.name} pass"):
                graph, in_bodies = rewrite_bodies(p.run, graph, options)
                done = p.run(graph, options)
                done.fired.update(in_bodies)
            seconds = time.perf_counter() - start
            if reports:
                reports[-1].nodes_after = done.live_in
            before = graph.made if p.name == "dce" else done.live_in
            reports.append(PassReport(p.name, before, -1, dict(done.fired), seconds,
                                      list(getattr(done, "problems", ()))))
            graph = done.graph
            if check:
                verify(graph)
    if reports:
        reports[-1].nodes_after = len(toposort(graph.roots()))
    return graph, reports
