"""tf_keras's backend_test.py rnn tests, ported to kgraph.backend, and tf_keras reference values.

The first tests follow tf_keras/backend_test.py (BackendNNOpsTest.test_rnn and its
neighbours) with their inputs, checks and tolerances. tf_keras has no map_fn / foldl
/ foldr tests there, so those, and every rnn argument combination, are checked
against values that tf_keras 2.21 computed: tests/reference/make_loops_reference.py
wrote tests/reference/loops.npz.
"""
import os

import numpy as np
import pytest

from kgraph import backend as K

REFERENCE = np.load(os.path.join(os.path.dirname(__file__), "reference", "loops.npz"), allow_pickle=False)


@pytest.fixture(autouse=True)
def fresh_session():
    K.clear_session()
    yield
    K.clear_session()


def evaluate(tensors):
    """The tensors' values from one compiled function (K.eval compiles one per tensor)."""
    return K.function([], list(tensors))([])


def _simple_step(w_i_val, w_o_val, extra_state=False):
    w_i = K.variable(w_i_val)
    w_o = K.variable(w_o_val)

    def step_function(x, states):
        assert len(states) == (2 if extra_state else 1)
        prev_output = states[0]
        output = K.dot(x, w_i) + K.dot(prev_output, w_o)
        if extra_state:
            return output, [output, K.concatenate([output, output], axis=-1)]
        return output, [output]

    return step_function


KWARGS = [
    {"go_backwards": False, "mask": None},
    {"go_backwards": False, "mask": None, "unroll": True},
    {"go_backwards": True, "mask": None},
    {"go_backwards": True, "mask": None, "unroll": True},
    {"go_backwards": False, "mask": "mask"},
    {"go_backwards": False, "mask": "mask", "unroll": True},
]


@pytest.mark.parametrize("extra_state", [False, True], ids=["test_rnn", "test_rnn_additional_states"])
def test_rnn(extra_state):
    num_samples, input_dim, output_dim, timesteps = 4, 5, 3, 6
    rs = np.random.RandomState(0)
    input_val = rs.random_sample((num_samples, timesteps, input_dim)).astype(np.float32)
    init_state_val = rs.random_sample((num_samples, output_dim)).astype(np.float32)
    w_i_val = rs.random_sample((input_dim, output_dim)).astype(np.float32)
    w_o_val = rs.random_sample((output_dim, output_dim)).astype(np.float32)
    np_mask = rs.randint(2, size=(num_samples, timesteps))

    rnn_fn = _simple_step(w_i_val, w_o_val, extra_state)
    inputs = K.variable(input_val)
    initial_states = [K.variable(init_state_val)]
    if extra_state:
        initial_states.append(K.constant(np.concatenate([init_state_val, init_state_val], axis=-1)))
    mask = K.variable(np_mask)
    tensors = []
    for kwargs in KWARGS:
        kwargs = {**kwargs, "mask": mask if kwargs["mask"] else None}
        last_output, outputs, new_states = K.rnn(rnn_fn, inputs, initial_states, **kwargs)
        assert K.int_shape(last_output) == (num_samples, output_dim)
        assert K.int_shape(outputs) == (num_samples, timesteps, output_dim)
        assert K.int_shape(new_states[0]) == (num_samples, output_dim)
        if extra_state:
            assert K.int_shape(new_states[1]) == (num_samples, 2 * output_dim)
        assert len(new_states) == len(initial_states)
        tensors.append([last_output, outputs, *new_states])
    flat = evaluate([t for group in tensors for t in group])  # one compile for all six
    size = len(tensors[0])
    results = [flat[i:i + size] for i in range(0, len(flat), size)]
    for a, b in [(0, 1), (2, 3), (4, 5)]:  # unrolled and looped agree, as tf_keras checks
        for u, v in zip(results[a], results[b]):
            np.testing.assert_allclose(u, v, atol=1e-4)
    # and the values are a simple RNN's (NumPy), forwards, backwards and masked
    for i, (backwards, masked) in enumerate([(False, False), (True, False), (False, True)]):
        h, outs = init_state_val, []
        order = range(timesteps)[::-1] if backwards else range(timesteps)
        for t in order:
            out = input_val[:, t] @ w_i_val + h @ w_o_val
            if masked:
                on = np_mask[:, t, None].astype(bool)
                out = np.where(on, out, outs[-1] if outs else 0.0)
                h = np.where(on, out, h)
            else:
                h = out
            outs.append(out)
        np.testing.assert_allclose(results[2 * i][1], np.stack(outs, 1), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(results[2 * i][2], h, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("unroll", [True, False])
def test_rnn_output_and_state_masking_independent(unroll):
    num_samples, num_timesteps, state_and_io_size, mask_last = 2, 4, 2, 2

    def step_function(inputs, states):
        return inputs, [s + 1 for s in states]

    rs = np.random.RandomState(1)
    inputs_vals = rs.random_sample((num_samples, num_timesteps, state_and_io_size))
    initial_state_vals = rs.random_sample((num_samples, state_and_io_size))
    mask_vals = np.ones((num_samples, num_timesteps))
    mask_vals[1, -mask_last:] = 0
    expected_outputs = inputs_vals.copy()
    expected_outputs[1, -mask_last:] = expected_outputs[1, -(mask_last + 1)]
    expected_last_state = initial_state_vals.copy()
    expected_last_state[0] += num_timesteps
    expected_last_state[1] += num_timesteps - mask_last

    _, outputs, last_states = K.rnn(step_function, K.variable(inputs_vals), [K.variable(initial_state_vals)],
                                    mask=K.variable(mask_vals), unroll=unroll,
                                    input_length=num_timesteps if unroll else None)
    np.testing.assert_allclose(K.eval(outputs), expected_outputs, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(K.eval(last_states[0]), expected_last_state, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("unroll", [True, False])
def test_rnn_output_num_dim_larger_than_2_masking(unroll):
    num_samples, num_timesteps, num_features = 3, 4, 5

    def step_function(inputs, states):
        outputs = K.tile(K.expand_dims(inputs), [1, 1, 2])
        return outputs, [s * 1.0 for s in states]

    rs = np.random.RandomState(2)
    inputs_vals = rs.random_sample((num_samples, num_timesteps, num_features))
    initial_state_vals = rs.random_sample((num_samples, 6))
    mask_vals = np.ones((num_samples, num_timesteps))
    mask_vals[-1, -1] = 0
    expected_outputs = np.repeat(inputs_vals[..., None], repeats=2, axis=-1)
    expected_outputs[-1, -1] = expected_outputs[-1, -2]

    _, outputs, _ = K.rnn(step_function, K.variable(inputs_vals), [K.variable(initial_state_vals)],
                          mask=K.variable(mask_vals), unroll=unroll,
                          input_length=num_timesteps if unroll else None)
    np.testing.assert_allclose(K.eval(outputs), expected_outputs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("unroll", [True, False])
def test_rnn_state_num_dim_larger_than_2_masking(unroll):
    num_samples, num_timesteps = 3, 4

    def step_function(inputs, states):
        return inputs, [s + 1 for s in states]

    rs = np.random.RandomState(3)
    inputs_vals = rs.random_sample((num_samples, num_timesteps, 5))
    initial_state_vals = rs.random_sample((num_samples, 6, 7))
    mask_vals = np.ones((num_samples, num_timesteps))
    mask_vals[0, -2:] = 0
    expected_last_state = initial_state_vals.copy()
    expected_last_state[0] += num_timesteps - 2
    expected_last_state[1:] += num_timesteps

    _, _, last_states = K.rnn(step_function, K.variable(inputs_vals), [K.variable(initial_state_vals)],
                              mask=K.variable(mask_vals), unroll=unroll,
                              input_length=num_timesteps if unroll else None)
    np.testing.assert_allclose(K.eval(last_states[0]), expected_last_state, rtol=1e-6, atol=1e-6)


def test_rnn_function_jit_compile_no_unroll_input_length_none():
    """tf_keras runs this one under tf.function(jit_compile=True); every K.function is jitted."""
    num_samples, num_timesteps = 3, 4

    def step_function(inputs, states):
        return inputs, [s + 1 for s in states]

    rs = np.random.RandomState(4)
    inputs_vals = rs.random_sample((num_samples, num_timesteps, 5)).astype(np.float32)
    initial_state_vals = rs.random_sample((num_samples, 6, 7)).astype(np.float32)
    mask_vals = np.ones((num_samples, num_timesteps), np.float32)
    mask_vals[0, -2:] = 0
    expected_last_state = initial_state_vals.copy()
    expected_last_state[0] += num_timesteps - 2
    expected_last_state[1:] += num_timesteps

    x = K.placeholder(shape=(None, None, 5))
    h0 = K.placeholder(shape=(None, 6, 7))
    m = K.placeholder(shape=(None, None))
    _, _, last_states = K.rnn(step_function, x, [h0], mask=m, unroll=False, input_length=None)
    fn = K.function([x, h0, m], [last_states[0]])
    np.testing.assert_allclose(fn([inputs_vals, initial_state_vals, mask_vals])[0], expected_last_state,
                               rtol=1e-6, atol=1e-6)


# ---- every argument combination, against tf_keras's values --------------------------------

CASES = {
    "plain": {}, "unroll": {"unroll": True}, "backwards": {"go_backwards": True},
    "backwards_unroll": {"go_backwards": True, "unroll": True}, "mask": {"mask": "mask"},
    "mask_unroll": {"mask": "mask", "unroll": True}, "mask_backwards": {"mask": "mask", "go_backwards": True},
    "mask_zero": {"mask": "mask", "zero_output_for_mask": True},
    "mask_zero_backwards": {"mask": "mask", "zero_output_for_mask": True, "go_backwards": True},
    "last_only": {"return_all_outputs": False},
    "mask_last_only": {"mask": "mask", "return_all_outputs": False},
    "constants": {"constants": "constants"}, "time_major": {"time_major": True},
    "lengths": {"input_length": "lengths"}, "lengths_backwards": {"input_length": "lengths", "go_backwards": True},
}


def _reference_step():
    w_i, w_o = K.constant(REFERENCE["w_i"]), K.constant(REFERENCE["w_o"])

    def step(x, states):
        out = K.dot(x, w_i) + K.dot(states[0], w_o)
        if len(states) > 2:
            out = out * states[2]
        return out, [out, K.concatenate([out, states[1][:, :3] + 1.0], axis=-1)]

    return step


def test_rnn_matches_tf_keras():
    """Every case of the reference script, computed by one compiled function."""
    step, tensors = _reference_step(), {}
    h0 = K.constant(REFERENCE["h0"])
    for case, kwargs in CASES.items():
        kwargs = {k: (K.constant(REFERENCE[v]) if isinstance(v, str) else v) for k, v in kwargs.items()}
        if "constants" in kwargs:
            kwargs["constants"] = [kwargs["constants"]]
        if "input_length" in kwargs:
            kwargs["input_length"] = K.cast(kwargs["input_length"], "int32")
        x = REFERENCE["x"].transpose(1, 0, 2) if kwargs.get("time_major") else REFERENCE["x"]
        last, outputs, states = K.rnn(step, K.constant(x), [h0, K.concatenate([h0, h0], axis=-1)], **kwargs)
        for key, tensor in zip(("last", "outputs", "state0", "state1"), (last, outputs, *states)):
            tensors[f"{case}_{key}"] = tensor
    for (key, tensor), value in zip(tensors.items(), evaluate(tensors.values())):
        assert K.int_shape(tensor) == REFERENCE[key].shape, key
        np.testing.assert_allclose(value, REFERENCE[key], rtol=1e-5, atol=1e-5, err_msg=key)


def test_map_fn_foldl_foldr_match_tf_keras():
    elems = K.constant(REFERENCE["elems"])
    checks = {
        "map_fn": K.map_fn(lambda row: K.sum(row * row) + 1.0, elems),
        "map_fn_rows": K.map_fn(lambda row: K.tanh(row) * 2.0, elems),
        "foldl": K.foldl(lambda acc, row: acc * 0.5 + row, elems),
        "foldl_init": K.foldl(lambda acc, row: acc + K.sum(row), elems, initializer=K.constant(1.0)),
        "foldr": K.foldr(lambda acc, row: acc * 0.5 + row, elems),
        "foldr_init": K.foldr(lambda acc, row: acc * 2.0 - row[0], elems, initializer=K.constant(0.5)),
    }
    for (name, tensor), value in zip(checks.items(), evaluate(list(checks.values()))):
        np.testing.assert_allclose(value, REFERENCE[name], rtol=1e-6, atol=1e-6, err_msg=name)
