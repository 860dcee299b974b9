"""`kgraph run --trace`: the value of every named step, as a learner would print each one.

The values are real run-time values: the builder's top-level bindings (name, value,
span, in source order) become the outputs of a second program, built from the
unoptimised graph (so every named step still exists) and compiled with `jax.jit`.
It gets exactly what the real run gets: the same feeds, variable values and random
key, so its values are the run's values. Its `print_tensor`s are silent, so that
each message is printed once, by the real run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import jax
import numpy as np

from .device import running
from .values import Binding, Function
from .ir import Node, toposort
from .lower import Interpreter

FULL_LIMIT = 24  # values shown in full up to this many elements
EDGE = 3  # elements shown at each end of a summarised value


class _QuietInterpreter(Interpreter):
    def apply(self, node: Node, inputs: list[Any]) -> Any:
        if node.op == "print_tensor":
            return inputs[0]
        return super().apply(node, inputs)


def evaluate(nodes: list[Node], feeds: dict[str, Any], variables: dict[str, Any], rng: Any,
             quiet: bool = False) -> list[np.ndarray]:
    """The values of graph nodes, compiled and run: feeds and variables by leaf name."""
    if not nodes:
        return []
    leaves = [n for n in toposort(nodes) if n.is_leaf]
    interpreter = _QuietInterpreter if quiet else Interpreter

    def run(leaf_values, rng):
        env = {n.id: leaf_values[i] for i, n in enumerate(leaves)}
        return tuple(interpreter(env, rng).evaluate(list(nodes)))

    values = [feeds[n.attr("name")] if n.op == "placeholder" else variables[n.attr("name")]
              for n in leaves]
    with running():
        return [np.asarray(v) for v in jax.jit(run)(values, rng)]


@dataclass
class Step:
    """One traced name: its value (an array, a Python value, or None when not computed)."""

    name: str
    binding: Binding
    node: Node | None = None
    python: Any = None
    value: np.ndarray | None = None
    missing: str = ""  # why there is no value
    per_step: bool = False  # a loop's outputs stacked over its steps (see _loop_steps)


def steps_of(bindings: Iterable[Binding]) -> list[Step]:
    """Bindings flattened: a list of tensors (from `gradients`) becomes name[0], name[1], ..."""
    out = []
    for b in bindings:
        v = b.value
        if isinstance(v, Node):
            out.append(Step(b.name, b, node=v))
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, Node) for x in v):
            out += [Step(f"{b.name}[{i}]", b, node=x) for i, x in enumerate(v)]
        else:
            out.append(Step(b.name, b, python=v))
    return out


def trace(program, feeds: dict[str, Any]) -> list[Step]:
    """Run the program's named steps with the feeds and state of its next run."""
    steps = _loop_steps(steps_of(program.module.bindings))
    arrays = program.check_feeds(feeds)
    with running():  # the key of the next run (unseeded random ops draw from it)
        rng = jax.random.fold_in(jax.random.PRNGKey(program.seed), program._runs)
    tensor_steps = []
    for step in steps:
        if step.node is None:
            continue
        unfed = [n.attr("name") for n in toposort([step.node])
                 if n.op == "placeholder" and n.attr("name") not in arrays]
        if unfed:
            step.missing = f"not computed: needs a feed for {', '.join(unfed)}"
        else:
            tensor_steps.append(step)
    # One node may be bound to several names: compute it once.
    unique = list({s.node.id: s.node for s in tensor_steps}.values())
    values = evaluate(unique, arrays, program.variables, rng, quiet=True)
    by_id = {n.id: v for n, v in zip(unique, values)}
    for step in tensor_steps:
        step.value = by_id[step.node.id]
    return steps


def _loop_steps(steps: list[Step]) -> list[Step]:
    """Before the first name computed from a loop, the loop's per-step outputs, stacked."""
    out, seen = [], set()
    for step in steps:
        if step.node is not None:
            for n in toposort([step.node]):
                if n.op == "scan" and n.id not in seen:
                    seen.add(n.id)
                    for i in range(n.attr("n_carry"), len(n.type.types)):
                        stacked = n.graph.make("nth", (n,), {"index": i}, span=n.span)
                        label = f"each step of {n.span.text().split('(')[0]} (output {i - n.attr('n_carry')})"
                        out.append(Step(label, step.binding, node=stacked, per_step=True))
        out.append(step)
    return out


# ---- printing -------------------------------------------------------------------

def format_type(value: np.ndarray) -> str:
    return f"{value.dtype.name}[{', '.join(str(d) for d in value.shape)}]"


def _number(v) -> str:
    return np.format_float_positional(v, precision=6, trim="-") if isinstance(v, float) else str(v)


def summarize(a: np.ndarray) -> str:
    """A large array in one line: min/max/mean and a few entries from each end."""
    flat = a.ravel()
    head = ", ".join(str(x) for x in flat[:EDGE])
    tail = ", ".join(str(x) for x in flat[-EDGE:])
    entries = f"[{head}, ..., {tail}]"
    if a.dtype == bool:
        return f"{int(flat.sum())} of {flat.size} true  {entries}"
    numbers = flat.astype(np.float64)
    finite = numbers[np.isfinite(numbers)]
    parts = []
    if finite.size:
        parts = [f"min {_number(float(finite.min()))}", f"max {_number(float(finite.max()))}",
                 f"mean {_number(float(finite.mean()))}"]
    if finite.size != numbers.size:
        parts.append(f"{numbers.size - finite.size} non-finite")
    return "  ".join(parts) + f"  {entries}"


def format_value(a: np.ndarray, indent: str = "    ") -> list[str]:
    """`= value` on the same line when short; else indented lines below."""
    if a.size > FULL_LIMIT:
        return [f" = {summarize(a)}"]
    text = np.array2string(a, max_line_width=100, threshold=FULL_LIMIT)
    if "\n" not in text:
        return [f" = {text}"]
    return [" ="] + [(indent + line).rstrip() for line in text.splitlines()]


def _describe_python(v: Any) -> str:
    if isinstance(v, Function):
        return f"function {v.definition.name}({', '.join(v.definition.params)})"
    return f"{v!r} (known at compile time)"


def format_steps(steps: list[Step], filename: str) -> str:
    lines: list[str] = []
    last_span = None
    short = filename.rsplit("/", 1)[-1]
    for step in steps:
        b = step.binding
        if b.span != last_span:  # `a, b = ...` binds two names at one statement
            source = b.span.source_line().strip()
            if b.span.end_line > b.span.line:
                source += " ..."
            lines.append(f"{short}:{b.span.line}: {source}")
            last_span = b.span
        head = f"    {step.name}"
        if step.per_step and step.value is not None:
            lines += format_per_step(step.name, step.value)
        elif step.node is None:
            lines.append(f"{head} = {_describe_python(step.python)}")
        elif step.value is None:
            lines.append(f"{head}: {step.node.type} ({step.missing})")
        else:
            body = format_value(step.value, indent="      ")
            lines.append(f"{head}: {format_type(step.value)}{body[0]}")
            lines += body[1:]
    return "\n".join(lines)


PER_STEP_LIMIT = 8  # steps summarised one by one up to this many; beyond, the first and the last


def format_per_step(name: str, stacked: np.ndarray) -> list[str]:
    """A loop's outputs: one line per step, or the first and last steps' values and a summary."""
    n = stacked.shape[0]
    lines = [f"    {name}: {n} steps of {format_type(stacked[0]) if n else '(none)'}"]
    shown = range(n) if n <= PER_STEP_LIMIT else (0, n - 1)
    for t in shown:
        if n > PER_STEP_LIMIT and t == n - 1:
            lines.append(f"      ... {n - 2} steps ...")
        value = stacked[t]
        text = summarize(value) if value.size > FULL_LIMIT else np.array2string(
            value, max_line_width=100, threshold=FULL_LIMIT).replace("\n", "")
        lines.append(f"      step {t}: {' '.join(text.split())}")
    if n > PER_STEP_LIMIT:
        lines.append(f"      all steps: {summarize(stacked)}")
    return lines
