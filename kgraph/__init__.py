"""kgraph: a compiler from a small Keras-backend expression-graph language to JAX/XLA."""
from .errors import (ArgumentError, DTypeError, FeedError, KGraphError, KGraphWarning, NameError,
                     ParseError, ShapeError, StateError)
from .limits import LimitError, Limits
from .program import Program, compile, load


def import_keras(path, **options):
    """A saved tf_keras model as (.kg source, {variable: array}); see kgraph/keras_import."""
    from .keras_import import import_keras as _import_keras

    return _import_keras(path, **options)


from .version import __version__  # noqa: E402

__all__ = ["compile", "load", "import_keras", "Program", "KGraphError", "KGraphWarning", "ParseError",
           "ShapeError", "DTypeError", "FeedError", "NameError", "ArgumentError", "StateError", "Limits",
           "LimitError"]


def load_ipython_extension(ipython) -> None:
    """`%load_ext kgraph`: the %%kgraph cell magic, %kgraph_ops and located errors (kgraph/notebook.py)."""
    from .notebook import load_ipython_extension as load  # IPython is needed only here

    load(ipython)
