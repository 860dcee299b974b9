"""kgraph: a compiler from a small Keras-backend expression-graph language to JAX/XLA."""
from .errors import (ArgumentError, DTypeError, FeedError, KGraphError, KGraphWarning, NameError,
                     ParseError, ShapeError, StateError)
from .program import Program, compile, load

__version__ = "0.1.0"

__all__ = ["compile", "load", "Program", "KGraphError", "KGraphWarning", "ParseError", "ShapeError",
           "DTypeError", "FeedError", "NameError", "ArgumentError", "StateError"]


def load_ipython_extension(ipython) -> None:
    """`%load_ext kgraph`: the %%kgraph cell magic, %kgraph_ops and located errors (kgraph/notebook.py)."""
    from .notebook import load_ipython_extension as load  # IPython is needed only here

    load(ipython)
