"""kgraph: a compiler from a small Keras-backend expression-graph language to JAX/XLA.

Importing the package is light: the compiler (program.py and everything it imports: Lark,
the ops, the passes) loads on first use, so that a program-cache hit (kgraph/warm.py) never
pays for it. `kgraph.Program` and the submodules (`kgraph.ops`, ...) load when named.
"""
import importlib

from .errors import (ArgumentError, DTypeError, FeedError, KGraphError, KGraphWarning, NameError,
                     ParseError, ShapeError, StateError)
from .limits import LimitError, Limits
from .version import __version__
from .warm import compile, load


def import_keras(path, **options):
    """A saved tf_keras model as (.kg source, {variable: array}); see kgraph/keras_import."""
    from .keras_import import import_keras as _import_keras

    return _import_keras(path, **options)


def __getattr__(name: str):
    """`kgraph.Program` and `kgraph.<submodule>`, imported when first named (PEP 562)."""
    if name == "Program":
        from .program import Program  # deferred: the compiler loads on first use

        return Program
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'kgraph' has no attribute {name!r}") from None


__all__ = ["compile", "load", "import_keras", "Program", "KGraphError", "KGraphWarning", "ParseError",
           "ShapeError", "DTypeError", "FeedError", "NameError", "ArgumentError", "StateError", "Limits",
           "LimitError", "__version__"]


def load_ipython_extension(ipython) -> None:
    """`%load_ext kgraph`: the %%kgraph cell magic, %kgraph_ops and located errors (kgraph/notebook.py)."""
    from .notebook import load_ipython_extension as load  # IPython is needed only here

    load(ipython)
