"""Syntax tree → IR: the builder (statements, updates, expressions and lifting, one file each).

The builder walks the statements once. Python-like values (numbers, strings,
tuples, lists, functions) live only here; tensors become IR nodes through
`make_node`, which is the one place where Python literals are lifted into the
graph and where an op's shape rule is run with the call's source labels.
"""
from .builder import Builder
from .expressions import INFIX, PY_INFIX, UPDATE_CALLS

__all__ = ["Builder", "INFIX", "PY_INFIX", "UPDATE_CALLS"]
