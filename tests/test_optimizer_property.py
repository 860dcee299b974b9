"""Random well-typed programs: -O0 and -O2 agree on values and gradients; every pass verifies.

Hypothesis writes a program as .kg text: placeholders of a few shapes, constants
(0, 1, -1, 2 and others, so the identities have something to find), every
elementwise op, reductions, dot chains, transposes and reshapes, softmax and
crossentropy, the unstable forms the stabiliser rewrites, repeated
subexpressions and dead statements. Its outputs are the last values and the
gradients of their sum with respect to every placeholder.

Where the -O0 value is inf or NaN the -O2 value may be finite (that is what the
stabiliser is for); everywhere else they must agree.

Two tests share the check. `test_levels_agree_on_random_programs` builds the
-O0 graph, runs the -O2 pipeline with `verify()` after every pass, and evaluates
both graphs with the interpreter op by op (`jax.disable_jit()`: the lowering is
the same code, only XLA never compiles a whole program, which took most of an
example's time). `test_levels_agree_when_jitted` does the same through
`kgraph.compile(...).run()`, so the jitted path stays covered. CI runs 20 and 8
examples. The soak mode runs many more eager examples (the jitted test keeps 8):

    KGRAPH_SOAK=10000 taskset -c 0 python -m pytest -q -p no:cacheprovider tests/test_optimizer_property.py

An example takes about 0.3 s of CPU time (0.42 s on one core of the 2-core
development machine under a load of 3; docs/optimizer.md has the figures), so
10,000 examples take 50 to 70 minutes.
"""
from __future__ import annotations

import os
import re
import warnings

import jax
import numpy as np
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import kgraph
from kgraph.errors import KGraphWarning
from kgraph.lower import make_function
from kgraph.ops import REGISTRY
from kgraph.passes import SCAN_MIN_BLOCKS, run_pipeline

from passes_util import build

SOAK = int(os.environ.get("KGRAPH_SOAK", "0"))
EXAMPLES = SOAK or 20
JITTED_EXAMPLES = 8

SHAPES = {"s": (), "v": (3,), "m": (2, 3), "q": (3, 3), "w": (3, 2)}
LEAVES = [f"placeholder {name}: float64[{', '.join(map(str, shape))}]" for name, shape in SHAPES.items()]
CONSTANTS = ["0", "1", "-1", "2.0", "0.5", "0.25", "3.0"]

UNARY = ["negative", "exp", "tanh", "sigmoid", "softplus", "sin", "cos", "abs", "square", "relu",
         "sqrt", "softsign", "elu"]
BINARY = ["+", "-", "*", "maximum", "minimum"]
REDUCTIONS = ["sum", "mean", "max", "min", "logsumexp", "prod"]


def _has(op: str) -> bool:
    return op in REGISTRY


def _broadcast(a: tuple, b: tuple):
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        return None


class ProgramWriter:
    """Writes statements into a growing pool of (name, shape) values."""

    def __init__(self, draw):
        self.draw = draw
        self.lines = list(LEAVES)
        self.pool: list[tuple[str, tuple]] = [(name, shape) for name, shape in SHAPES.items()]
        self.count = 0
        self.chains: list[str] = []  # the results of the chains written

    def pick(self, shape=None):
        choices = [v for v in self.pool if shape is None or v[1] == shape]
        return self.draw(st.sampled_from(choices))

    def bind(self, expr: str, shape: tuple) -> None:
        name = f"t{self.count}"
        self.count += 1
        self.lines.append(f"{name} = {expr}")
        self.pool.append((name, tuple(shape)))

    def bounded(self, name: str) -> str:
        # Keeps exp and friends away from overflow that -O0 and -O2 would both hit anyway.
        return f"tanh({name})" if _has("tanh") else f"({name} * 0.5)"

    # ---- statement kinds ----------------------------------------------------------
    def unary(self):
        ops = [op for op in UNARY if _has(op)]
        if not ops:
            return
        op = self.draw(st.sampled_from(ops))
        x, shape = self.pick()
        arg = self.bounded(x) if op in ("exp", "square", "softplus") else x
        self.bind(f"{op}({arg})", shape)

    def binary(self):
        x, sx = self.pick()
        y, sy = self.pick()
        shape = _broadcast(sx, sy)
        if shape is None:
            return
        op = self.draw(st.sampled_from([op for op in BINARY if op in "+-*" or _has(op)]))
        self.bind(f"{x} {op} {y}" if op in "+-*" else f"{op}({x}, {y})", shape)

    def divide(self):
        x, sx = self.pick()
        y, sy = self.pick()
        shape = _broadcast(sx, sy)
        if shape is not None:
            self.bind(f"{x} / ({y} * {y} + 1.0)", shape)

    def constant(self):
        x, shape = self.pick()
        c = self.draw(st.sampled_from(CONSTANTS))
        form = self.draw(st.sampled_from(["{x} * {c}", "{c} * {x}", "{x} + {c}", "{x} - {c}", "{c} - {x}",
                                          "({x} * {c}) * {c}", "({x} + {c}) + {c}", "-(-{x})", "{x} / 1"]))
        self.bind(form.format(x=x, c=c), shape)

    def unstable(self):
        """The forms the stabiliser rewrites (with arguments that keep -O0 finite)."""
        x, shape = self.pick()
        forms = []
        if _has("log") and _has("sigmoid"):
            forms.append(("log(sigmoid({x}))", shape))
        if _has("log"):
            forms.append(("log(1 + {x} * {x})", shape))
            if len(shape) >= 2:  # Keras's softmax needs rank 2 or more
                forms.append(("log(softmax({x}))", shape))
        if _has("exp"):
            forms.append(("exp({b}) - 1", shape))
        if _has("log") and _has("exp") and shape:
            forms.append(("log(sum(exp({b}), axis=-1, keepdims=True))", shape[:-1] + (1,)))
        if _has("exp") and _has("log"):
            forms.append(("exp(log(exp({b})))", shape))
        if not forms:
            return
        form, out = self.draw(st.sampled_from(forms))
        self.bind(form.format(x=x, b=self.bounded(x)), out)

    def reduce(self):
        x, shape = self.pick()
        if not shape:
            return
        op = self.draw(st.sampled_from([op for op in REDUCTIONS if _has(op)]))
        axis = self.draw(st.sampled_from([None, -1, 0]))
        keep = self.draw(st.booleans())
        if axis is None:
            out = tuple(1 for _ in shape) if keep else ()
        else:
            a = axis % len(shape)
            out = tuple(1 if i == a else d for i, d in enumerate(shape)) if keep else shape[:a] + shape[a + 1:]
        arg = self.bounded(x) if op == "prod" else x
        self.bind(f"{op}({arg}, axis={axis}, keepdims={keep})", out)

    def dot_chain(self):
        left = self.draw(st.sampled_from([v for v in self.pool if len(v[1]) in (1, 2)]))
        name, shape = left
        factors = [name]
        for _ in range(self.draw(st.integers(1, 3))):
            k = shape[-1]
            options = [v for v in self.pool if len(v[1]) in (1, 2) and v[1][0] == k and len(shape) == 2]
            if not options:
                break
            right, rshape = self.draw(st.sampled_from(options))
            factors.append(right)
            shape = shape[:-1] + rshape[1:]
        if len(factors) < 2:
            return
        expr = factors[0]
        op = "dot" if not _has("matmul") or self.draw(st.booleans()) else "matmul"
        for f in factors[1:]:
            expr = f"dot({expr}, {f})" if op == "dot" or len(shape) < 2 else f"({expr} @ {f})"
        self.bind(expr, shape)

    def layout(self):
        x, shape = self.pick()
        forms = []
        if _has("transpose"):
            forms += [("transpose({x})", shape[::-1]), ("transpose(transpose({x}))", shape)]
        if _has("reshape") and len(shape) == 2:
            n = shape[0] * shape[1]
            forms += [(f"reshape({{x}}, ({n},))", (n,)),
                      (f"reshape(reshape({{x}}, ({n},)), {shape!r})", shape)]
        if _has("permute_dimensions") and len(shape) == 2:
            forms += [("permute_dimensions(permute_dimensions({x}, (1, 0)), (1, 0))", shape)]
        if _has("concatenate") and len(shape) >= 1:
            forms += [("sum(concatenate([{x}, {x}], axis=0))", ())]
        if forms:
            form, out = self.draw(st.sampled_from(forms))
            self.bind(form.format(x=x), tuple(out))

    def softmax_loss(self):
        z, shape = self.pick()
        if len(shape) != 2:
            return
        t, _ = self.pick(shape)
        target = f"softmax({t})"
        self.bind(f"categorical_crossentropy({target}, softmax({z}))", shape[:-1])

    def repeat(self):
        """A subexpression written twice (CSE merges it) and a dead statement."""
        x, shape = self.pick()
        y, sy = self.pick()
        both = _broadcast(shape, sy)
        if both is None:
            return
        self.bind(f"({x} * {y} + {y} * {x}) - ({x} * {y})", both)
        self.lines.append(f"dead{self.count} = {x} * 2.0 - {y}")

    def loop(self):
        """A map_fn, fold or rnn whose body is itself a random program over a row and the pool.

        The body's statements use the loop's parameters and, as closures, values of the
        enclosing program (loop-invariant work for the hoist pass); their constants fold and
        their repeats merge inside the body.
        """
        x, shape = self.draw(st.sampled_from([v for v in self.pool if len(v[1]) == 2]))
        row = shape[1:]
        kind = self.draw(st.sampled_from(["map_fn", "foldl", "foldr", "rnn"]))
        params = ["r"] if kind == "map_fn" else ["acc", "r"]
        body = ProgramWriter(self.draw)
        body.lines, body.count = [], self.count
        body.pool = [(p, row) for p in params] + [v for v in self.pool if v[1] in (row, ())]
        for _ in range(self.draw(st.integers(1, 4))):
            self.draw(st.sampled_from([body.unary, body.binary, body.constant, body.repeat, body.divide]))()
        result = [n for n, sh in body.pool if sh == row][-1]
        fn = f"f{self.count}"
        self.count = body.count + 1
        self.lines.append(f"def {fn}({', '.join(params)}):")
        self.lines += [f"    {line}" for line in body.lines] + [f"    return {result} + 0.0 * {params[-1]}"]
        if kind == "map_fn":
            self.bind(f"map_fn({fn}, {x})", shape)
        elif kind == "rnn":
            backwards = self.draw(st.booleans())
            seq = f"reshape({x}, (1, {shape[0]}, {shape[1]}))"
            step = f"lambda x_t, states: ({fn}(states[0], x_t), [{fn}(states[0], x_t)])"
            self.lines.append(f"last{self.count}, outs{self.count}, st{self.count} = rnn({step}, {seq}, "
                              f"[{x}[0:1] * 0.0], go_backwards={backwards})")
            self.bind(f"outs{self.count}[0]", shape)
        else:
            init = self.draw(st.sampled_from([None, "tanh({x}[0])", "zeros_like({x}[0])"]))
            extra = "" if init is None else f", initializer={init.format(x=x)}"
            self.bind(f"{kind}({fn}, {x}{extra})", row)


    def chain(self):
        """Calls of one def in a chain, each passing its result to the next and reading a value
        of its own (a layer stack): scan-blocks makes one loop of SCAN_MIN_BLOCKS or more."""
        x, shape = self.pick()
        n = self.draw(st.integers(2, SCAN_MIN_BLOCKS + 1))
        body = ProgramWriter(self.draw)
        body.lines, body.count = [], self.count
        body.pool = [("h", shape), ("p", shape)] + [v for v in self.pool if v[1] == ()]
        for _ in range(self.draw(st.integers(1, 3))):
            self.draw(st.sampled_from([body.unary, body.binary, body.constant, body.divide]))()
        result = [name for name, sh in body.pool if sh == shape][-1]
        fn = f"f{self.count}"
        self.count = body.count + 1
        self.lines.append(f"# chain of {n} calls")
        self.lines.append(f"def {fn}(h, p):")
        self.lines += [f"    {line}" for line in body.lines] + [f"    return tanh({result}) * 0.5 + h * 0.5"]
        carry = x
        for i in range(n):
            arg, _ = self.pick(shape)
            arg = f"({arg} * 0.5)" if arg == x else arg  # not the chain's first carry itself
            carry_name = f"{fn}_{i}"
            self.lines.append(f"{carry_name} = {fn}({carry}, {arg})")
            carry = carry_name
        self.pool.append((carry, shape))
        self.chains.append(carry)  # an output: a dead chain has nothing to loop


def loops_expected(source: str) -> int:
    """How many loops scan-blocks must make: one per written chain of SCAN_MIN_BLOCKS or more."""
    return sum(int(n) >= SCAN_MIN_BLOCKS for n in re.findall(r"# chain of (\d+) calls", source))


@st.composite
def programs(draw) -> str:
    w = ProgramWriter(draw)
    kinds = [w.unary, w.binary, w.divide, w.constant, w.unstable, w.reduce, w.dot_chain,
             w.layout, w.softmax_loss, w.repeat, w.loop, w.chain]
    for _ in range(draw(st.integers(2, 10))):
        draw(st.sampled_from(kinds))()
    results = [name for name, _ in w.pool[len(SHAPES):]][-3:] or ["v"]
    results += [c for c in w.chains if c not in results]
    loss = " + ".join(f"sum({r})" for r in results)
    w.lines.append(f"loss = {loss}")
    w.lines.append(f"output {', '.join(results)}, loss, gradients(loss, [{', '.join(SHAPES)}]) as g")
    return "\n".join(w.lines) + "\n"


def feeds(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-1.5, 1.5, size=shape) for name, shape in SHAPES.items()}


def assert_agree(reference: dict, optimised: dict, source: str) -> None:
    assert list(reference) == list(optimised)
    for name in reference:
        a, b = reference[name], optimised[name]
        assert a.dtype == b.dtype and a.shape == b.shape, (name, source)
        finite = np.isfinite(a)
        np.testing.assert_allclose(b[finite], a[finite], rtol=1e-7, atol=1e-9,
                                   err_msg=f"{name} differs\n{source}")


def evaluate_eagerly(graph, values: dict) -> dict:
    """A graph's outputs from the interpreter, op by op: no XLA compile of the whole program."""
    fn = make_function([n for _, n in graph.outputs], [], list(graph.placeholders.values()), [])
    with jax.enable_x64(True), jax.disable_jit():
        outs, _ = fn({}, values, None)
        return {name: np.asarray(v) for (name, _), v in zip(graph.outputs, outs)}


SETTINGS = dict(deadline=None, derandomize=not SOAK, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=EXAMPLES, **SETTINGS)
@given(source=programs(), seed=st.integers(0, 2**16))
def test_levels_agree_on_random_programs(source, seed):
    graph = build(source, floatx="float64")  # what kgraph.compile(opt_level=0) lowers
    with jax.disable_jit():  # the fold pass evaluates constants op by op too, as -O0 is evaluated
        optimised, reports = run_pipeline(graph, 2, check=True)  # verify() after every pass
        run_pipeline(graph, 2, fast_math=False, disabled=("fuse",), check=True)
    assert reports[0].name == "scan-blocks"
    assert sum(reports[0].fired.values()) == loops_expected(source), source
    values = feeds(seed)
    assert_agree(evaluate_eagerly(graph, values), evaluate_eagerly(optimised, values), source)


@settings(max_examples=JITTED_EXAMPLES, **SETTINGS)
@given(source=programs(), seed=st.integers(0, 2**16))
def test_levels_agree_when_jitted(source, seed):
    values = feeds(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KGraphWarning)  # a loss that misses a placeholder
        reference = kgraph.compile(source, opt_level=0, floatx="float64").run(**values)
        optimised = kgraph.compile(source, opt_level=2, floatx="float64").run(**values)
    assert_agree(reference, optimised, source)


def test_generated_programs_hold_chains_that_the_pass_loops():
    """The generator writes chains long enough to loop, and the loop gives -O0's values."""
    source = find(programs(), lambda s: loops_expected(s) > 0,
                  settings=settings(database=None, derandomize=True, max_examples=500))
    graph = build(source, floatx="float64")
    optimised, reports = run_pipeline(graph, 2, check=True)
    assert sum(reports[0].fired.values()) == 1
    assert [n.op for n in optimised.live_nodes()].count("scan") == 1
    values = feeds(0)
    assert_agree(evaluate_eagerly(graph, values), evaluate_eagerly(optimised, values), source)
