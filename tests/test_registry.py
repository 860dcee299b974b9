"""Every op in the registry has a shape rule, a lowering, docs, a runnable example and a value test."""
import importlib
from pathlib import Path

import pytest

import kgraph
from kgraph.ops import REGISTRY

TESTS = Path(__file__).resolve().parent
# IR-only ops: made by statements or by the compiler, never called by name.
INTERNAL = {name for name, op in REGISTRY.items() if op.category == "internal"}


def covered_ops() -> set[str]:
    covered = set()
    for path in TESTS.glob("test_*.py"):
        module = importlib.import_module(path.stem)
        covered |= set(getattr(module, "COVERS", ()))
    return covered


def test_every_op_has_a_shape_rule_and_a_lowering():
    for name, op in REGISTRY.items():
        if op.infer is None:
            # A front-end function (gradients, int_shape, constant): it makes other ops' nodes
            # or folds to a Python value, so it has a build and no node of its own.
            assert op.build is not None and op.lower is None, name
        elif not op.leaf and name != "param":  # leaves: fed, kept, or passed by a loop
            assert op.lower is not None or op.lower_node is not None, f"{name} has no lowering"


def test_every_op_has_docs_and_an_example():
    for name, op in REGISTRY.items():
        if name in INTERNAL:
            continue
        assert op.doc and op.doc.endswith("."), f"{name}: doc {op.doc!r}"
        assert "output" in op.example, f"{name} has no runnable example"


def test_every_op_has_a_value_test():
    missing = sorted(set(REGISTRY) - INTERNAL - covered_ops())
    assert not missing, f"ops without a value test (add them to a test module's COVERS): {missing}"


@pytest.mark.parametrize("name", sorted(n for n in REGISTRY if n not in INTERNAL))
def test_op_example_runs(name):
    prog = kgraph.compile(REGISTRY[name].example, filename=f"<example of {name}>")
    outputs = prog.run()
    assert outputs, name

