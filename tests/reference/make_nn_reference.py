"""Reference values from tf_keras for the neural-network ops (issue 12, part B).

Run with a Python that has tensorflow-cpu and tf-keras 2.x (never a kgraph dependency):
    /work/tfvenv/bin/python tests/reference/make_nn_reference.py
It writes tests/reference/nn_reference.npz: inputs and tf_keras's outputs, keyed
`<case>/<name>`. tests/test_keras_backend_nn.py reads it.
"""
from pathlib import Path

import numpy as np
import tensorflow as tf
from tf_keras import backend as K

OUT = Path(__file__).with_name("nn_reference.npz")
rng = np.random.RandomState(0)
data = {}


def put(case, **arrays):
    for k, v in arrays.items():
        data[f"{case}/{k}"] = np.asarray(v)


def ev(t):
    return np.asarray(K.eval(t)) if not isinstance(t, np.ndarray) else t


# normalize_batch_in_training: each rank and each code path (regular, broadcast, fused).
NORM_CASES = {
    "norm2": ((6, 3), (0,)), "norm3": ((4, 3, 2), (0, 1)), "norm3b": ((4, 3, 2), (0, 2)),
    "norm4": ((4, 3, 2, 5), (0, 1, 2)), "norm4b": ((4, 3, 2, 5), (0, 2, 3)),
    "norm4c": ((4, 3, 2, 5), (0, 1)), "norm5": ((2, 3, 2, 2, 4), (0, 1, 2, 3)),
}
for case, (shape, axes) in NORM_CASES.items():
    x = rng.randn(*shape).astype(np.float32) * 2 + 1
    kept = [d for i, d in enumerate(shape) if i not in axes]
    gamma = rng.uniform(0.5, 1.5, kept).astype(np.float32)
    beta = rng.randn(*kept).astype(np.float32)
    normed, mean, var = K.normalize_batch_in_training(K.constant(x), K.constant(gamma),
                                                      K.constant(beta), list(axes), epsilon=1e-3)
    put(case, x=x, gamma=gamma, beta=beta, axes=np.array(axes), normed=ev(normed), mean=ev(mean),
        var=ev(var))
    normed, mean, var = K.normalize_batch_in_training(K.constant(x), None, None, list(axes), epsilon=1e-3)
    put(case, normed_plain=ev(normed))

# batch_normalization: 2-d, 3-d, 4-d channels last (fused: epsilon raised to 1.001e-5), 4-d axis 1.
for case, shape, axis, eps in [("bn2", (5, 3), -1, 1e-3), ("bn3", (2, 3, 4), -1, 1e-3),
                               ("bn4", (2, 3, 3, 4), -1, 1e-6), ("bn4first", (2, 3, 3, 4), 1, 1e-3)]:
    x = rng.randn(*shape).astype(np.float32)
    c = shape[axis]
    mean, var = rng.randn(c).astype(np.float32), rng.uniform(0.1, 2, c).astype(np.float32)
    beta, gamma = rng.randn(c).astype(np.float32), rng.uniform(0.5, 1.5, c).astype(np.float32)
    try:
        y = ev(K.batch_normalization(K.constant(x), K.constant(mean), K.constant(var), K.constant(beta),
                                     K.constant(gamma), axis=axis, epsilon=eps))
    except Exception as e:  # noqa: BLE001 - recorded: what tf_keras does on CPU
        print(case, "tf_keras fails:", type(e).__name__, str(e).split("\n")[0][:200])
        continue
    put(case, x=x, mean=mean, var=var, beta=beta, gamma=gamma, axis=axis, epsilon=eps, y=y)

# Focal crossentropies.
t = (rng.uniform(size=(4, 3)) > 0.5).astype(np.float32)
p = rng.uniform(0.05, 0.95, (4, 3)).astype(np.float32)
z = rng.randn(4, 3).astype(np.float32) * 2
put("bfocal", t=t, p=p, z=z,
    plain=ev(K.binary_focal_crossentropy(K.constant(t), K.constant(p))),
    gamma3=ev(K.binary_focal_crossentropy(K.constant(t), K.constant(p), gamma=3.0)),
    balanced=ev(K.binary_focal_crossentropy(K.constant(t), K.constant(p), apply_class_balancing=True,
                                            alpha=0.3)),
    logits=ev(K.binary_focal_crossentropy(K.constant(t), K.constant(z), from_logits=True)),
    sigmoid=ev(K.binary_focal_crossentropy(K.constant(t), K.sigmoid(K.constant(z)))))
ct = np.eye(3, dtype=np.float32)[rng.randint(0, 3, 4)]
put("cfocal", t=ct, p=p, z=z,
    plain=ev(K.categorical_focal_crossentropy(K.constant(ct), K.constant(p))),
    tuned=ev(K.categorical_focal_crossentropy(K.constant(ct), K.constant(p), alpha=0.5, gamma=1.0)),
    logits=ev(K.categorical_focal_crossentropy(K.constant(ct), K.constant(z), from_logits=True)),
    softmax=ev(K.categorical_focal_crossentropy(K.constant(ct), K.softmax(K.constant(z)))),
    axis0=ev(K.categorical_focal_crossentropy(K.constant(ct.T), K.constant(p.T), axis=0)))

# in_top_k, with ties straddling the boundary.
pred = np.array([[0.1, 0.5, 0.5, 0.2], [0.3, 0.3, 0.3, 0.1], [0.9, 0.05, 0.03, 0.02]], np.float32)
targ = np.array([2, 3, 0], np.int32)
put("topk", pred=pred, targets=targ, **{f"k{k}": ev(K.in_top_k(K.constant(pred), K.constant(targ, "int32"), k))
                                     for k in (1, 2, 3)})

# CTC: batch cost and decoding (greedy; beam with several widths and paths).
T, C, B = 6, 4, 3
logits = rng.randn(B, T, C).astype(np.float32) * 1.5
probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
labels = np.array([[0, 1, 1], [2, 0, 0], [1, 2, 0]], np.int32)
label_length = np.array([[3], [1], [2]], np.int32)
input_length = np.array([[6], [5], [4]], np.int32)
cost = ev(K.ctc_batch_cost(K.constant(labels, "int32"), K.constant(probs), K.constant(input_length, "int32"),
                           K.constant(label_length, "int32")))
put("ctc", probs=probs, labels=labels, label_length=label_length, input_length=input_length, cost=cost)
lengths = input_length[:, 0]
decoded, log_prob = K.ctc_decode(K.constant(probs), K.constant(lengths, "int32"), greedy=True)
put("ctc", greedy=ev(decoded[0]), greedy_log_prob=ev(log_prob))
for width, paths in [(100, 1), (100, 3), (2, 2), (1, 1)]:
    decoded, log_prob = K.ctc_decode(K.constant(probs), K.constant(lengths, "int32"), greedy=False,
                                     beam_width=width, top_paths=paths)
    put(f"ctc_beam{width}_{paths}", log_prob=ev(log_prob),
        **{f"decoded{i}": ev(d) for i, d in enumerate(decoded)})

# A beam path 'a blank a a': TF's v1 beam decoder merges repeats (two beams print as [0]).
rep = np.array([[[0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.9, 0.05, 0.05], [0.9, 0.05, 0.05]]], np.float32)
decoded, log_prob = K.ctc_decode(K.constant(rep), K.constant([4], "int32"), greedy=False, beam_width=10,
                                 top_paths=3)
put("ctc_repeats", probs=rep, log_prob=ev(log_prob), **{f"decoded{i}": ev(d) for i, d in enumerate(decoded)})
decoded, log_prob = K.ctc_decode(K.constant(rep), K.constant([4], "int32"))
put("ctc_repeats", greedy=ev(decoded[0]), greedy_log_prob=ev(log_prob))

names = sorted(n for n in dir(K) if not n.startswith("_"))
data["names"] = np.array(names)
np.savez_compressed(OUT, **data)
print("wrote", OUT, len(data), "arrays;", len(names), "public names")
