"""tf_keras reference values for tests/test_keras_backend_loops.py (rnn, map_fn, foldl, foldr).

Run with the tf_keras environment (never a kgraph dependency):
    /work/tfvenv/bin/python tests/reference/make_loops_reference.py
It writes tests/reference/loops.npz: the inputs (seeded NumPy) and tf_keras's results.
"""
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402
from tf_keras import backend as K  # noqa: E402

# One case per argument combination: name -> rnn keyword arguments (mask, constants and
# input_length stand for the arrays below).
CASES = {
    "plain": {},
    "unroll": {"unroll": True},
    "backwards": {"go_backwards": True},
    "backwards_unroll": {"go_backwards": True, "unroll": True},
    "mask": {"mask": "mask"},
    "mask_unroll": {"mask": "mask", "unroll": True},
    "mask_backwards": {"mask": "mask", "go_backwards": True},
    "mask_zero": {"mask": "mask", "zero_output_for_mask": True},
    "mask_zero_backwards": {"mask": "mask", "zero_output_for_mask": True, "go_backwards": True},
    "last_only": {"return_all_outputs": False},
    "mask_last_only": {"mask": "mask", "return_all_outputs": False},
    "constants": {"constants": "constants"},
    "time_major": {"time_major": True},
    "lengths": {"input_length": "lengths"},
    "lengths_backwards": {"input_length": "lengths", "go_backwards": True},
}


def main():
    rng = np.random.default_rng(13)
    data = {
        "x": rng.random((4, 6, 5)).astype(np.float32),
        "h0": rng.random((4, 3)).astype(np.float32),
        "w_i": rng.random((5, 3)).astype(np.float32),
        "w_o": (rng.random((3, 3)) - 0.5).astype(np.float32),
        "mask": rng.integers(0, 2, size=(4, 6)).astype(np.float32),
        "constants": rng.random((4, 3)).astype(np.float32),
        "lengths": np.array([6, 2, 4, 0], dtype=np.int32),
        "elems": rng.random((5, 3)).astype(np.float32),
    }
    w_i, w_o = tf.constant(data["w_i"]), tf.constant(data["w_o"])

    def step(x, states):
        out = K.dot(x, w_i) + K.dot(states[0], w_o)
        if len(states) > 2:  # a constant appended to the states
            out = out * states[2]
        return out, [out, K.concatenate([out, states[1][:, :3] + 1.0], axis=-1)]

    h0 = tf.constant(data["h0"])
    states = [h0, K.concatenate([h0, h0], axis=-1)]
    out = {}
    for name, kwargs in CASES.items():
        kwargs = {k: (tf.constant(data[v]) if isinstance(v, str) else v) for k, v in kwargs.items()}
        if "constants" in kwargs:
            kwargs["constants"] = [kwargs["constants"]]
        x = tf.constant(data["x"])
        if kwargs.get("time_major"):
            x = tf.transpose(x, (1, 0, 2))
        last, outputs, new_states = K.rnn(step, x, states, **kwargs)
        out[f"{name}_last"] = K.eval(last)
        out[f"{name}_outputs"] = K.eval(outputs)
        out[f"{name}_state0"] = K.eval(new_states[0])
        out[f"{name}_state1"] = K.eval(new_states[1])
    elems = tf.constant(data["elems"])
    out["map_fn"] = K.eval(K.map_fn(lambda row: K.sum(row * row) + 1.0, elems))
    out["map_fn_rows"] = K.eval(K.map_fn(lambda row: K.tanh(row) * 2.0, elems))
    out["foldl"] = K.eval(K.foldl(lambda acc, row: acc * 0.5 + row, elems))
    out["foldl_init"] = K.eval(K.foldl(lambda acc, row: acc + K.sum(row), elems, initializer=tf.constant(1.0)))
    out["foldr"] = K.eval(K.foldr(lambda acc, row: acc * 0.5 + row, elems))
    out["foldr_init"] = K.eval(K.foldr(lambda acc, row: acc * 2.0 - row[0], elems,
                                       initializer=tf.constant(0.5)))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loops.npz")
    np.savez(path, **data, **out)
    print(f"wrote {path}: {len(data) + len(out)} arrays, tensorflow {tf.__version__}")


if __name__ == "__main__":
    main()
