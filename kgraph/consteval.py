"""The constant evaluator: the values of nodes that have no leaves, computed at compile time.

One door for every compile-time value: the folder's constants, the constants a
rewrite rule builds (`Rewriter.fold`) and the variables' initial values. Each is
computed as `-O0`'s compiled program would compute it, by `jax.jit` of the
interpreter with the inputs as closed-over constants, so a folded constant has
the bits the unoptimised program computes (XLA's own contractions and constant
folding included). It runs inside `device.running()`, the one x64 context.
"""
from __future__ import annotations

import contextvars
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

import jax

from .device import running
from .ir import Node
from .lower import Interpreter
from .ops import REGISTRY
from .types import np_dtype


def evaluate_constants(nodes: list[Node], optimize: bool = True) -> list[np.ndarray]:
    """The values of nodes without leaves, computed together in one jitted call.

    `optimize=False` compiles without XLA's backend optimisations, for values computed
    once (variables' initial values): XLA's CPU backend spends seconds optimising a
    random draw's threefry kernel (8 s for one `random_normal` here), 0.3 s without,
    and 0.06 s with its older (non-MLIR) fusion emitters, which give the same bits
    (tests/test_initial_values.py).
    """
    if not nodes:
        return []
    with running():
        function = jax.jit(lambda: Interpreter({}).evaluate(nodes))
        if optimize:
            values = function()
        else:
            values = _compiled_once(function.lower())()
        return [np.asarray(v) for v in values]


ONCE = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}


def _compiled_once(lowered):
    """`lowered` compiled for one call (see evaluate_constants); an XLA without the
    fusion-emitter option compiles it at -O0 alone."""
    try:
        return lowered.compile(ONCE)
    except jax.errors.JaxRuntimeError as e:
        if "xla_cpu_use_fusion_emitters" not in str(e):
            raise
        return lowered.compile({"xla_backend_optimization_level": 0})


class InitialValues:
    """The variables' initial values by name, in declaration order.

    A value given as an array is kept as it is, and so is one whose op NumPy computes bit for
    bit (`Op.host`: zeros, ones, eye, a constant). One given by any other expression is kept as
    its node; `start()` computes all of those together in one jitted call, compiled without
    XLA's optimisations (op by op, each op would compile for each new shape, and XLA optimises
    random draws for seconds), on a background thread: XLA releases the GIL, so the draws
    compile while the caller optimises and compiles the program's step, which needs only the
    variables' types. `values()` waits for them (and starts them if nothing has).
    """

    def __init__(self, values: dict[str, np.ndarray] | None = None):
        self._values: dict[str, np.ndarray | None] = dict(values or {})
        self._pending: dict[str, tuple[Node, str]] = {}  # name → (its value's node, dtype)
        self._computing: tuple[Future, dict[str, tuple[Node, str]]] | None = None

    def set(self, name: str, array: np.ndarray) -> None:
        self._values[name] = array

    def defer(self, name: str, node: Node, dtype: str) -> None:
        host = REGISTRY[node.op].host
        if host is not None and not node.srcs:
            self._values[name] = host(**dict(node.attrs)).astype(np_dtype(dtype))
            return
        self._values[name] = None  # keeps the declaration order
        self._pending[name] = (node, dtype)

    @property
    def pending(self) -> bool:
        """Whether some values are not computed yet (being computed or not started)."""
        return bool(self._pending) or self._computing is not None

    def start(self) -> None:
        """Begin computing the pending values on the background thread."""
        if self._pending:
            pending, self._pending = self._pending, {}
            nodes = [node for node, _ in pending.values()]
            context = contextvars.copy_context()  # the limits in force (kgraph/limits.py)
            self._computing = (_BACKGROUND.submit(context.run, evaluate_constants, nodes, False), pending)

    def values(self) -> dict[str, np.ndarray]:
        self.start()
        if self._computing is not None:
            future, pending = self._computing
            computed = future.result()  # raises what the evaluation raised, again on a retry
            self._computing = None
            for (name, (_, dtype)), value in zip(pending.items(), computed):
                self._values[name] = value.astype(np_dtype(dtype))
        return self._values


# One worker: initial values are computed one program at a time, off the caller's thread. Its
# thread is joined when the interpreter exits (a daemon thread inside XLA at exit could crash).
_BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgraph-initial-values")
