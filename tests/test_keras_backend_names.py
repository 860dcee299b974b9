"""Every public name of tf_keras.backend is in kgraph.backend, working or refusing clearly.

TF_KERAS_NAMES is `dir(tf_keras.backend)` without underscores, from tf-keras 2.21
(tests/reference/make_nn_reference.py stores the same list in nn_reference.npz).
The session and graph plumbing kgraph has no use for does the harmless
equivalent or raises a KGraphError that says what kgraph does instead.
"""
import numpy as np
import pytest

from kgraph import backend as K
from kgraph.errors import KGraphError

TF_KERAS_NAMES = """
abs all any arange argmax argmin backend batch_dot batch_flatten batch_get_value
batch_normalization batch_set_value bias_add binary_crossentropy binary_focal_crossentropy cast
cast_to_floatx categorical_crossentropy categorical_focal_crossentropy clear_session clip
concatenate constant conv1d conv2d conv2d_transpose conv3d cos count_params ctc_batch_cost
ctc_decode ctc_label_dense_to_sparse cumprod cumsum depthwise_conv2d dot dropout dtype elu
epsilon equal eval exp expand_dims experimental eye flatten floatx foldl foldr function gather
get_uid get_value gradients greater greater_equal hard_sigmoid image_data_format in_test_phase
in_top_k in_train_phase int_shape is_keras_tensor is_sparse l2_normalize learning_phase
learning_phase_scope less less_equal local_conv1d local_conv2d log
manual_variable_initialization map_fn max maximum mean min minimum moving_average_update
name_scope ndim normalize_batch_in_training not_equal one_hot ones ones_like permute_dimensions
placeholder pool2d pool3d pow print_tensor prod random_bernoulli random_binomial random_normal
random_normal_variable random_uniform random_uniform_variable relu repeat repeat_elements
reset_uids reshape resize_images resize_volumes reverse rnn round separable_conv2d set_epsilon
set_floatx set_image_data_format set_learning_phase set_value shape sigmoid sign sin softmax
softplus softsign sparse_categorical_crossentropy spatial_2d_padding spatial_3d_padding sqrt
square squeeze stack std stop_gradient sum switch tanh temporal_padding tile to_dense transpose
truncated_normal update update_add update_sub var variable zeros zeros_like
""".split()

def test_the_reference_list_is_tf_kerass():
    stored = np.load("tests/reference/nn_reference.npz", allow_pickle=False)["names"]
    assert sorted(TF_KERAS_NAMES) == [str(n) for n in stored]
    assert len(TF_KERAS_NAMES) == 148


@pytest.mark.parametrize("name", TF_KERAS_NAMES)
def test_every_tf_keras_backend_name_is_in_kgraph_backend(name):
    assert name in dir(K)
    assert callable(getattr(K, name)) or name == "experimental"


def test_harmless_equivalents():
    assert K.backend() == "kgraph"
    K.reset_uids()
    assert [K.get_uid("dense"), K.get_uid("dense"), K.get_uid("conv")] == [1, 2, 1]
    K.reset_uids()
    assert K.get_uid("dense") == 1
    x = K.placeholder(shape=(None, 3))
    with K.name_scope("block1"):
        y = x * 2
    assert y.shape == (None, 3)
    assert K.is_keras_tensor(x) and K.is_keras_tensor(y) and not K.is_keras_tensor(K.variable(1.0))
    assert not K.is_sparse(x) and K.to_dense(x) is x
    K.set_epsilon(1e-7)
    K.manual_variable_initialization(False)
    assert K.experimental.is_tf_random_generator_enabled() is False
    K.experimental.disable_tf_random_generator()


@pytest.mark.parametrize("call, says", [
    (lambda: K.get_session(), "no TensorFlow session"),
    (lambda: K.set_session(object()), "K.function"),
    (lambda: K.get_graph(), "K.clear_session"),
    (lambda: K.set_epsilon(1e-3), "fixed at 1e-07"),
    (lambda: K.manual_variable_initialization(True), "K.set_value"),
    (lambda: K.is_keras_tensor(0), "expects a symbolic tensor"),
    (lambda: K.ctc_label_dense_to_sparse([[1]], [1]), "no sparse tensors"),
    (lambda: K.placeholder(shape=(2,), sparse=True), "sparse"),
    (lambda: K.experimental.enable_tf_random_generator(), "--seed"),
])
def test_refusals_say_what_kgraph_does_instead(call, says):
    with pytest.raises(KGraphError, match=says) as e:
        call()
    assert e.value.line is not None  # located at the caller's line
