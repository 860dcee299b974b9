"""The fuzzer's grammar-aware program mutator: changes that keep a program well formed.

tests/fuzzing.py's token mutator (edge numbers, dropped and doubled brackets) mostly
tests the parser's errors: about one mutated program in fourteen compiled. This one
knows what each token is and replaces it with a valid alternative, so most of its
programs parse, many compile and run, and the builder, the shape rules, the passes and
the lowering see programs no test wrote:

- an op's name becomes another op with the same signature (`exp` -> `tanh`, `sum` -> `std`);
- a use of a name becomes another name bound before it;
- a number becomes a small one of its kind (an int stays an int), an `axis=` may become None;
- a dtype becomes another dtype, a padding or data format another of its kind;
- `True` and `False` swap, an arithmetic or comparison operator becomes another;
- a use of a name is wrapped in a one-argument op, or an output of an op of it is added.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

TOKEN = re.compile(r"#[^\n]*|\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+|\d+(?:[eE][-+]?\d+)?"
                   r"|\"[^\"\n]*\"|'[^'\n]*'|[A-Za-z_]\w*|\*\*|//|[<>=!]=|\n|[^\S\n]+|.")
KEYWORDS = {"placeholder", "variable", "def", "return", "output", "as", "update", "shard",
            "lambda", "True", "False", "None"}
BINDERS = {"placeholder", "variable", "update", "def", "as", "shard", "lambda", ","}
DTYPE_NAMES = ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
               "uint8", "bool"]
STRING_KINDS = [DTYPE_NAMES, ["valid", "same", "causal"], ["channels_last", "channels_first"],
                ["max", "avg"], ["nearest", "bilinear"]]
INTS = ["0", "1", "2", "3", "4", "-1", "-2"]
FLOATS = ["0.0", "1.0", "-1.0", "0.5", "2.5", "1e-3", "100.0", "-0.0"]
OPERATORS = [["+", "-", "*", "/", "**", "//", "%"], ["<", "<=", ">", ">=", "==", "!="]]
DEFINES = re.compile(r"^[ \t]*(?:(?:placeholder|variable|update)[ \t]+)?"
                     r"([A-Za-z_]\w*(?:[ \t]*,[ \t]*[A-Za-z_]\w*)*)[ \t]*,?[ \t]*(?:=(?!=)|:)",
                     re.MULTILINE)


@dataclass(frozen=True)
class Vocabulary:
    """What the mutator may put in: ops grouped by signature, one-argument ops."""

    alternatives: dict[str, list[str]]  # op name -> ops with the same argument names
    unary: list[str]                    # ops called as op(x)
    reductions: list[str]               # ops called as op(x, axis=..., keepdims=...)

    @classmethod
    def from_registry(cls) -> "Vocabulary":
        from kgraph.ops import REGISTRY

        groups: dict[tuple, list[str]] = {}
        for name, op in sorted(REGISTRY.items()):
            if op.category != "internal" and op.creates_nodes:
                groups.setdefault(tuple(p.name for p in op.params), []).append(name)
        alternatives = {n: g for g in groups.values() if len(g) > 1 for n in g}
        unary = sorted(n for key, g in groups.items() if key == ("x",) for n in g)
        reductions = sorted(n for key, g in groups.items() if key[:2] == ("x", "axis") for n in g)
        return cls(alternatives, unary, reductions)


def definitions(text: str) -> list[tuple[int, str]]:
    """(offset, name) of each name a statement binds: assignments, placeholders, variables
    (a def's parameters are left out). A name may be used after the line that binds it."""
    return [(m.start(1) + n.start(), n.group()) for m in DEFINES.finditer(text)
            for n in re.finditer(r"[A-Za-z_]\w*", m.group(1)) if n.group() not in KEYWORDS]


def _neighbours(tokens: list[str], i: int) -> tuple[str, str]:
    """The significant tokens before and after token i (a newline counts)."""
    def first(seq):
        return next((tok for tok in seq if not tok.isspace() or tok == "\n"), "")
    return first(reversed(tokens[:i])), first(tokens[i + 1:])


def _replace_token(tok: str, before: str, after: str, rng: random.Random, vocab: Vocabulary,
                   bound: list[str]) -> str | None:
    """A valid alternative for one token, or None when there is none to offer."""
    if tok[0].isdigit() or tok[0] == ".":
        return rng.choice(FLOATS if any(c in tok for c in ".eE") else INTS)
    if tok[0] in "\"'":
        kind = next((k for k in STRING_KINDS if tok[1:-1] in k), None)
        return tok[0] + rng.choice(kind) + tok[0] if kind else None
    if tok in ("True", "False"):
        return "False" if tok == "True" else "True"
    if tok in DTYPE_NAMES:
        return rng.choice(DTYPE_NAMES)
    if tok[0].isalpha() or tok[0] == "_":
        if after == "(":
            return rng.choice(vocab.alternatives[tok]) if tok in vocab.alternatives else None
        if after != "=" and tok not in KEYWORDS and before not in BINDERS and bound:
            if rng.random() < 0.3 and vocab.unary:
                return f"{rng.choice(vocab.unary)}({tok})"
            return rng.choice(bound)
        return None
    group = next((g for g in OPERATORS if tok in g), None)
    binary = before[:1].isalnum() or before[:1] in ")]_"  # not a unary minus
    return rng.choice(group) if group and binary else None


def _add_output(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    names = sorted({name for _, name in definitions(text)})
    if not names:
        return text
    name = rng.choice(names)
    if rng.random() < 0.5 and vocab.reductions:
        axis = rng.choice(["None", "0", "-1", "1"])
        call = f"{rng.choice(vocab.reductions)}({name}, axis={axis})"
    else:
        call = f"{rng.choice(vocab.unary)}({name})"
    return text.rstrip("\n") + f"\noutput {call} as fuzz_{rng.randrange(1000)}\n"


def mutate_validly(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """One to three valid changes to `text` (see the module's docstring)."""
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.15:
            text = _add_output(text, rng, vocab)
            continue
        tokens = TOKEN.findall(text)
        offsets = [0]
        for tok in tokens:
            offsets.append(offsets[-1] + len(tok))
        defined = definitions(text)
        targets = {at for at, _ in defined}
        candidates = [i for i, tok in enumerate(tokens)
                      if not tok.isspace() and tok[0] != "#" and offsets[i] not in targets]
        for i in rng.sample(candidates, min(len(candidates), 8)):
            line_start = text.rfind("\n", 0, offsets[i]) + 1
            bound = [name for at, name in defined if at < line_start]
            new = _replace_token(tokens[i], *_neighbours(tokens, i), rng, vocab, bound)
            if new is not None:
                tokens[i] = new
                break
        text = "".join(tokens)
    return text
