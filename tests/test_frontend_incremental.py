"""The front end's incremental door (the REPL's): a program fed a statement at a time is the
program `frontend()` builds from the same text, and places count the session's lines."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from kgraph import ast
from kgraph.commands.repl_input import Reader
from kgraph.errors import KGraphError
from kgraph.frontend import IncrementalFrontend, frontend
from kgraph.ir import format_ir

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PROGRAMS = ["quickstart.kg", "logreg.kg", "mlp.kg", "sequence/lstm.kg", "digits/cnn.kg"]


def fed_in_pieces(source: str, filename: str) -> IncrementalFrontend:
    """`source` as a piped REPL session reads it: one complete input at a time."""
    program = IncrementalFrontend(filename)
    for first, text in Reader(io.StringIO(source), interactive=False).chunks():
        for stmt in program.statements(text, first):
            program.add(stmt)
    return program


@pytest.mark.parametrize("name", PROGRAMS)
def test_an_example_fed_a_statement_at_a_time_is_the_program_of_its_file(name):
    source = (EXAMPLES / name).read_text(encoding="utf-8")
    whole = frontend(source, name)
    grown = fed_in_pieces(source, name).module()
    assert format_ir(grown.graph) == format_ir(whole.graph)
    assert [(b.name, b.span.line) for b in grown.bindings] == [(b.name, b.span.line) for b in whole.bindings]
    assert {k: (s.line, s.column) for k, s in grown.leaf_spans.items()} == {
        k: (s.line, s.column) for k, s in whole.leaf_spans.items()}
    assert list(grown.names) == list(whole.names) and grown.floatx == whole.floatx


def test_variables_have_the_values_of_the_file_program():
    source = (EXAMPLES / "logreg.kg").read_text(encoding="utf-8")
    whole, grown = frontend(source).variables, fed_in_pieces(source, "<string>").module().variables
    assert list(grown) == ["W", "b"] == list(whole)
    for name in whole:  # a random initial value too: the same node, computed the same way
        np.testing.assert_array_equal(grown[name], whole[name])


def test_a_step_says_what_the_statement_made():
    program = IncrementalFrontend("<repl>")
    (x,) = program.statements("x = ones((2, 2))")
    assert program.add(x).outputs == () and program.module().names["x"].type.shape == (2, 2)
    (expr,) = program.statements("sum(x, axis=1)", first_line=2)
    step = program.add(expr)
    assert isinstance(step.statement, ast.ExprStmt) and step.value.type.shape == (2,)
    assert program.warnings == ()  # an expression typed alone is shown, not warned about
    (out,) = program.statements("output x * 2 as doubled", first_line=3)
    [(name, node)] = program.add(out).outputs
    assert name == "doubled" and program.module().graph.outputs == [("doubled", node)]
    program.add(*program.statements("variable w = zeros((2,))"))
    call = program.add(*program.statements("update_add(w, sum(x, axis=0))"))  # a statement, no value
    assert [name for name, _ in call.updates] == ["w"] and not call.shows_a_value
    assert [name for name, _ in program.module().graph.updates] == ["w"]


def test_places_count_the_session_lines():
    program = IncrementalFrontend("<stdin>")
    (stmt,) = program.statements("y = nosuch(1)", first_line=7)
    with pytest.raises(KGraphError) as build_error:
        program.add(stmt)
    assert build_error.value.render().startswith("<stdin>:7:5: error: unknown op 'nosuch'")
    with pytest.raises(KGraphError) as syntax_error:
        program.statements("z = 1 +", first_line=12)
    assert syntax_error.value.render().startswith("<stdin>:12:8: error: expected an expression")


def test_a_failed_statement_leaves_the_program_going():
    program = IncrementalFrontend("<repl>")
    for text in ("placeholder p: float32[None, 2]", "q = p * 2"):
        program.add(*program.statements(text))
    (bad,) = program.statements("r = dot(q, ones((3,)))")
    with pytest.raises(KGraphError, match="contraction dims differ"):
        program.add(bad)
    program.add(*program.statements("output q"))
    module = program.module()  # still verifies, and the failed name was never bound
    assert list(module.names) == ["p", "q"] and [n for n, _ in module.graph.outputs] == ["q"]


def test_statements_are_built_with_the_file_front_end_stack_room():
    # 1,000 nested calls compile in a file (test_deep_programs.py); typed in a session too.
    program = IncrementalFrontend("<repl>")
    program.add(*program.statements("def f0(a):\n    return a"))
    for i in range(1, 1000):
        program.add(*program.statements(f"def f{i}(a):\n    return f{i - 1}(a) + 1.0"))
    step = program.add(*program.statements("f999(zeros((2,)))"))
    assert step.value.type.shape == (2,)


def test_a_bad_floatx_is_refused_at_the_door():
    with pytest.raises(KGraphError, match="floatx must be one of"):
        IncrementalFrontend(floatx="float8")
