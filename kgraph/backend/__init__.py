"""kgraph's Keras backend: `from kgraph import backend as K`.

Keras 2 backend code runs against kgraph: `K.placeholder`, `K.variable`, every op
of the language as a function (`K.dot`, `K.sum`, `K.softmax`, ...), Python
operators on symbolic tensors, `K.eval`, `K.function`, `K.gradients`. The graph it
builds is the IR the `.kg` front end builds, through the same registry entries, so
both share shape rules, optimiser passes and lowering. See docs/python.md.
"""
from .creation import (cast_to_floatx, constant, dtype, epsilon, eye, is_placeholder, ones, placeholder,
                       random_normal_variable, random_uniform_variable, variable, zeros)
from .functions import (Function, KUpdate, batch_get_value, batch_set_value, eval_tensor, function, get_value,
                        set_value, update, update_add, update_sub)
from .compat import NAMES as _COMPAT_NAMES
from .compat import (backend, ctc_label_dense_to_sparse, experimental, get_graph, get_session, get_uid,
                     is_keras_tensor, is_sparse, manual_variable_initialization, moving_average_update,
                     name_scope, reset_uids, set_epsilon, set_session, stop_gradient, switch, to_dense)
from .ops import op_functions as _op_functions
from .phase import (global_learning_phase_is_set, in_test_phase, in_train_phase, learning_phase,
                    learning_phase_scope, set_learning_phase, symbolic_learning_phase)
from .session import clear_session, floatx, image_data_format, set_floatx, set_image_data_format
from .tensor import KTensor, KVariable

eval = eval_tensor  # noqa: A001 - K.eval, Keras's name

# Every registry op a program can call becomes K.<name>, unless written above with
# Keras's own behaviour (zeros makes a variable, cast_to_floatx takes NumPy, ...).
_GENERATED = {name: fn for name, fn in _op_functions().items() if name not in globals()}
globals().update(_GENERATED)

__all__ = sorted([
    "cast_to_floatx", "constant", "dtype", "epsilon", "eye", "is_placeholder", "ones", "placeholder",
    "random_normal_variable", "random_uniform_variable", "variable", "zeros", "Function", "KUpdate",
    "batch_get_value", "batch_set_value", "eval", "function", "get_value", "set_value", "update",
    "update_add", "update_sub", "clear_session", "floatx", "set_floatx", "image_data_format",
    "set_image_data_format", "KTensor", "KVariable",
    "global_learning_phase_is_set", "in_test_phase", "in_train_phase", "learning_phase",
    "learning_phase_scope", "set_learning_phase", "symbolic_learning_phase",
    *_COMPAT_NAMES, *_GENERATED])
