"""kgraph: a compiler from a small Keras-backend expression-graph language to JAX/XLA."""
from .errors import (ArgumentError, DTypeError, FeedError, KGraphError, KGraphWarning, NameError,
                     ParseError, ShapeError, StateError)
from .limits import LimitError, Limits
from .program import Program, compile, load

__version__ = "0.1.0"

__all__ = ["compile", "load", "Program", "KGraphError", "KGraphWarning", "ParseError", "ShapeError",
           "DTypeError", "FeedError", "NameError", "ArgumentError", "StateError", "Limits", "LimitError"]
