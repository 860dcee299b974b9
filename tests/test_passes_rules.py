"""Every rewrite rule fires where it should and refuses where it must; results agree with -O0."""
import re

import pytest

from kgraph.passes import algebra, stability

from passes_util import assert_levels_agree, optimise

DECLS = {
    "x": "placeholder x: float32[3]",
    "y": "placeholder y: float32[3]",
    "i": "placeholder i: int32[3]",
    "m": "placeholder m: float32[2, 3]",
    "m2": "placeholder m2: float32[4, 3]",
    "t": "placeholder t: float32[2, 3, 4]",
}


def program(expr: str) -> str:
    decls = [d for name, d in DECLS.items() if re.search(rf"\b{name}\b", expr)]
    return "\n".join(decls) + f"\noutput {expr} as out\n"


# (rule, program that fires it, program where it must not fire, options)
CASES = [
    ("mul-one", "x * 1", "x * [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]", {}),  # refusal: 1 broadcasts x
    ("div-one", "x / 1", "i / 1", {}),  # refusal: int / int is float, not i
    ("add-zero", "0 + x", "x + [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]", {}),
    ("sub-zero", "x - 0", "x - 1", {}),
    ("zero-sub", "0 - x", "1 - x", {}),
    ("mul-minus-one", "x * -1", "x * -2", {}),
    ("double-negation", "-(-x)", "-(x * 2.0)", {}),
    ("add-negation", "y + -x", "y + x", {}),
    ("sub-negation", "y - -x", "y - x", {}),
    ("self-sub-int", "i - i", "x - x", {}),  # refusal: NaN - NaN is NaN, not 0
    ("mul-zero", "x * 0", "x * 0", {"fast_math": True}),
    ("self-sub", "x - x", "x - x", {"fast_math": True}),
    ("self-div", "x / x", "x / x", {"fast_math": True}),
    ("reassociate-mul", "(x * 2.0) * 4.0", "(x * 3.0) * 4.0", {}),  # refusal: 3 is not a power of 2
    ("reassociate-add-int", "(i + 2) + 3", "(x + 2.0) + 3.0", {}),
    ("reassociate-sub-int", "(i - 2) - 3", "(x - 2.0) - 3.0", {}),
    ("reassociate-add-sub-int", "(i + 2) - 3", "(x + 2.0) - 3.0", {}),
    ("reassociate-sub-add-int", "(i - 2) + 3", "(x - 2.0) + 3.0", {}),
    ("reassociate-mul-fast", "(x * 3.0) * 5.0", "(x * 3.0) * 5.0", {"fast_math": True}),
    ("reassociate-add-fast", "(x + 2.0) + 3.0", "(x + 2.0) + 3.0", {"fast_math": True}),
    ("transpose-transpose", "transpose(transpose(m))", "transpose(m) * 2.0", {}),
    ("transpose-vector", "transpose(x)", "transpose(m)", {}),
    ("permute-identity", "permute_dimensions(t, (0, 1, 2))", "permute_dimensions(t, (0, 2, 1))", {}),
    ("permute-permute", "permute_dimensions(permute_dimensions(t, (1, 2, 0)), (2, 0, 1))",
     "permute_dimensions(permute_dimensions(t, (1, 2, 0)) * 2.0, (2, 0, 1))", {}),
    ("transpose-permute", "transpose(permute_dimensions(t, (1, 0, 2)))",
     "transpose(permute_dimensions(t, (1, 0, 2)) * 2.0)", {}),
    ("permute-transpose", "permute_dimensions(transpose(t), (0, 2, 1))",
     "permute_dimensions(transpose(t) * 2.0, (0, 2, 1))", {}),
    ("reshape-noop", "reshape(m, (2, 3))", "reshape(m, (3, 2))", {}),
    ("reshape-reshape", "reshape(reshape(m, (6,)), (3, 2))", "reshape(reshape(m, (6,)) * 2.0, (3, 2))", {}),
    ("reshape-flatten", "reshape(flatten(m), (3, 2))", "reshape(flatten(m) * 2.0, (3, 2))", {}),
    ("sum-concatenate", "sum(concatenate([m, m2], axis=0))",
     "sum(concatenate([m, m2], axis=0), axis=1)", {}),  # refusal: the sum keeps the joined axis
    ("exp-log", "exp(log(exp(x)))", "exp(log(x))", {}),  # refusal: x may be negative
    ("log-softmax", "log(softmax(m))", "log(softmax(m) * 2.0)", {}),
    ("log-sigmoid", "log(sigmoid(x))", "log(sigmoid(x) * 2.0)", {}),
    ("log1p", "log(1 + x)", "log(2 + x)", {}),
    ("expm1", "exp(x) - 1", "exp(x) - 2", {}),
    ("logsumexp", "log(sum(exp(m), axis=1))", "log(sum(exp(m) * 2.0, axis=1))", {}),
]

RULES = {r.name: r for r in algebra.RULES + stability.RULES}


def test_every_rule_has_a_case():
    assert sorted(RULES) == sorted(name for name, *_ in CASES)


@pytest.mark.parametrize("rule,fires,refuses,options", CASES, ids=[c[0] for c in CASES])
def test_rule_fires(rule, fires, refuses, options):
    _, fired = optimise(program(fires), **options)
    assert fired[rule] >= 1, dict(fired)
    assert_levels_agree(program(fires), **options)


@pytest.mark.parametrize("rule,fires,refuses,options", CASES, ids=[c[0] for c in CASES])
def test_rule_refuses(rule, fires, refuses, options):
    options = {k: v for k, v in options.items() if k != "fast_math"}
    _, fired = optimise(program(refuses), **options)
    assert fired[rule] == 0, dict(fired)
    assert_levels_agree(program(refuses), **options)
