"""Compile pipeline time per node on generated programs of 1k, 10k and 100k nodes.

The pipeline is what kgraph does before XLA: parse, build (IR and shape checks),
verify, the -O2 passes, and lowering (tracing the interpreter to a jaxpr with
`jax.make_jaxpr`; XLA's own compile is not included). Time per node should stay
flat as programs grow.

Two generated programs:
- `flat`: one statement per few nodes, every node written out in the text
  (`h5 = h4 * 0.5 + dot(h4, W)`), so parsing is a large share;
- `attention`: a stack of transformer blocks (layer norm, single-head attention,
  an MLP, residuals), one `def` call per layer, as in PyTensor's slow case.

Two floors are measured in the same run, with no kgraph code in them: Lark's own
parse of the flat program's text (the same grammar and lexer, no syntax tree
built) per token, and JAX tracing a chain of `lax.add` per primitive.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
from jax import lax

from kgraph.build import Builder
from kgraph.frontend import module_of
from kgraph.ir import toposort
from kgraph.lower import make_function
from kgraph.parse import _KGraphIndenter, _parser, parse
from kgraph.passes import paused_gc, run_pipeline

from .timing import fmt


def flat(n_nodes: int) -> tuple[str, dict]:
    """A layered program: each line a dot, a softmax or elementwise work on earlier lines."""
    lines = ["placeholder x: float32[4, 8]",
             "variable W = random_normal_variable((8, 8), mean=0.0, scale=0.1, seed=0)",
             "h0 = x"]
    i = 0
    while 3 * i < n_nodes:
        i += 1
        if i % 3 == 0:
            lines.append(f"h{i} = softmax(h{i - 1}) - h{i - 2} * 0.5")
        else:
            lines.append(f"h{i} = h{i - 1} * 0.5 + dot(h{i - 1}, W)")
    lines.append(f"output sum(h{i})")
    return "\n".join(lines) + "\n", {"x": jnp.zeros((4, 8), jnp.float32)}


ATTENTION = """\
placeholder x: float32[batch, 8, 16]
variable Wq = random_normal_variable(({L}, 16, 16), mean=0.0, scale=0.1, seed=1)
variable Wk = random_normal_variable(({L}, 16, 16), mean=0.0, scale=0.1, seed=2)
variable Wv = random_normal_variable(({L}, 16, 16), mean=0.0, scale=0.1, seed=3)
variable Wo = random_normal_variable(({L}, 16, 16), mean=0.0, scale=0.1, seed=4)
variable W1 = random_normal_variable(({L}, 16, 32), mean=0.0, scale=0.1, seed=5)
variable W2 = random_normal_variable(({L}, 32, 16), mean=0.0, scale=0.1, seed=6)

def layer_norm(h):
    d = h - mean(h, axis=-1, keepdims=True)
    return d / sqrt(mean(square(d), axis=-1, keepdims=True) + 1e-5)

def attention(h, i):
    q = dot(h, Wq[i])
    k = dot(h, Wk[i])
    v = dot(h, Wv[i])
    s = softmax(batch_dot(q, k, axes=(2, 2)) * 0.25)
    return dot(batch_dot(s, v, axes=(2, 1)), Wo[i])

def block(h, i):
    h = h + attention(layer_norm(h), i)
    return h + dot(relu(dot(layer_norm(h), W1[i])), W2[i])

h0 = x
"""
NODES_PER_BLOCK = 35


def attention(n_nodes: int) -> tuple[str, dict]:
    """A stack of n_nodes / 35 transformer blocks, each layer's weights a slice of one variable."""
    layers = max(1, n_nodes // NODES_PER_BLOCK)
    lines = [ATTENTION.format(L=layers)]
    lines += [f"h{i + 1} = block(h{i}, {i})" for i in range(layers)]
    lines.append(f"output mean(square(h{layers}))")
    return "\n".join(lines) + "\n", {"x": jnp.zeros((2, 8, 16), jnp.float32)}


PROGRAMS = {"flat": flat, "attention": attention}


def pipeline(source: str, feeds: dict) -> dict:
    phases = {}
    with paused_gc():
        start = time.perf_counter()
        tree = parse(source, "<generated>")
        phases["parse"] = time.perf_counter() - start
        start = time.perf_counter()
        builder = Builder("<generated>", source)
        builder.build(tree)
        graph = module_of(builder).graph  # verified
        phases["build"] = time.perf_counter() - start
        start = time.perf_counter()
        optimised, _ = run_pipeline(graph, 2)
        phases["passes"] = time.perf_counter() - start
        variables = {k: jnp.zeros(v.shape, v.dtype) for k, v in builder.var_init.items()}
        start = time.perf_counter()
        fn = make_function([n for _, n in optimised.outputs], [], list(optimised.placeholders.values()),
                           list(optimised.variables.values()))
        with jax.enable_x64(True):
            jaxpr = jax.make_jaxpr(fn)(variables, feeds, jax.random.PRNGKey(0))
        phases["lower"] = time.perf_counter() - start
    phases["nodes"] = len(toposort(graph.roots()))
    phases["eqns"] = _count_eqns(jaxpr.jaxpr)
    return phases


def _count_eqns(jaxpr) -> int:
    """Primitives in a jaxpr, counting those inside each call (a fused region's jit) once."""
    return sum(1 + sum(_count_eqns(sub.jaxpr if hasattr(sub, "jaxpr") else sub)
                       for sub in jax.core.jaxprs_in_params(e.params)) for e in jaxpr.eqns)


def lark_floor(source: str) -> tuple[float, int]:
    """Seconds per token for Lark alone: the same grammar and lexer, building no syntax tree."""
    from lark import Lark

    bare = Lark(_parser().source_grammar, parser="lalr", postlex=_KGraphIndenter(),
                maybe_placeholders=True, transformer=_Nothing())
    tokens = sum(1 for _ in bare.lex(source))
    start = time.perf_counter()
    bare.parse(source)
    return (time.perf_counter() - start) / tokens, tokens


class _Nothing:
    """Every rule's callback returns None: what is left is Lark's lexer and LALR loop."""

    def __getattr__(self, name):
        if name.startswith("_"):  # Lark's own helper rules (repetitions) must stay trees
            raise AttributeError(name)
        return _none


def _none(children):
    return None


def trace_floor(n: int = 5000) -> float:
    """Seconds per primitive for JAX alone: make_jaxpr of a chain of n lax.add."""
    def chain(x):
        for _ in range(n):
            x = lax.add(x, x)
        return x

    x = jnp.zeros((4, 8), jnp.float32)
    jax.make_jaxpr(chain)(x)
    start = time.perf_counter()
    jax.make_jaxpr(lambda y: chain(y) * 1.0)(x)  # a new function: traced again
    return (time.perf_counter() - start) / n


def run(args) -> list[str]:
    sizes = [1_000, 10_000] + ([] if args.quick else [100_000])
    rows = []
    print("compile pipeline (parse + build + passes + lowering to a jaxpr, no XLA compile):")
    print(f"  {'program':>9} {'nodes':>7} {'parse':>9} {'build':>9} {'passes':>9} {'lower':>9} {'total':>9} "
          f"{'per node':>9} {'own':>9}  {'tokens':>7} {'eqns':>7}")
    for name, generate in PROGRAMS.items():
        pipeline(*generate(300))  # warm up: grammar load, JAX's first dispatches
        for size in sizes:
            source, feeds = generate(size)
            p = pipeline(source, feeds)
            own = p["parse"] + p["build"] + p["passes"]
            total = own + p["lower"]
            tokens = sum(1 for _ in _parser().lex(source))
            row = (f"  {name:>9} {p['nodes']:>7} {fmt(p['parse']):>9} {fmt(p['build']):>9} "
                   f"{fmt(p['passes']):>9} {fmt(p['lower']):>9} {fmt(total):>9} {fmt(total / p['nodes']):>9} "
                   f"{fmt(own):>9}  {tokens:>7} {p['eqns']:>7}")
            print(row)
            rows.append(row)
    per_token, tokens = lark_floor(flat(10_000)[0])
    per_eqn = trace_floor()
    rows.append(f"  floors: Lark alone {fmt(per_token)} per token ({tokens} tokens); "
                f"JAX tracing alone {fmt(per_eqn)} per primitive")
    print(rows[-1])
    print("  (own = parse + build + passes, kgraph's work before JAX; lower = JAX tracing kgraph's "
          "interpreter; eqns = primitives in the jaxpr)")
    return rows
