"""Make the Keras fixtures that tests/test_keras_import.py reads (tf_keras 2.21, never in CI).

Run with the TensorFlow venv, from anywhere:

    /work/tfvenv/bin/python tests/keras_models/make_models.py

For each model NAME it writes, beside this script, NAME.keras (one model also as a legacy
NAME.h5) and NAME.npz holding the fixed inputs (`in:INPUT`), the `model.predict` outputs
(`out:OUTPUT`) and, for models whose training-mode value is deterministic (batch
normalization without dropout), `model(x, training=True)` (`train:OUTPUT`) and the moving
statistics that call leaves (`after:LAYER/WEIGHT`). Every weight is
set from a seeded generator (not left at Keras's zeros and ones, so biases, moving statistics
and the like are all exercised). Keep every model tiny: the files are committed.
"""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras import layers as L  # noqa: E402

HERE = Path(__file__).resolve().parent
BATCH = 3
ACTIVATIONS = ["elu", "exponential", "gelu", "hard_sigmoid", "linear", "mish", "relu", "selu",
               "sigmoid", "softmax", "softplus", "softsign", "swish", "tanh"]


def mlp():
    return keras.Sequential([
        L.Input((8,), name="features"),
        L.Dense(6, activation="relu", name="hidden"),
        L.Dropout(0.3, name="drop"),
        L.Dense(4, activation="softmax", name="probs"),
    ], name="mlp")


def cnn_bn():
    return keras.Sequential([
        L.Input((8, 8, 2), name="image"),
        L.Conv2D(4, 3, padding="same", name="conv"),
        L.BatchNormalization(name="bn"),
        L.Activation("relu", name="relu"),
        L.MaxPooling2D(2, name="pool"),
        L.Conv2D(3, (3, 2), strides=(1, 2), use_bias=False, name="conv_b"),
        L.BatchNormalization(momentum=0.9, epsilon=1e-2, center=False, name="bn_b"),
        L.Flatten(name="flat"),
        L.Dense(3, activation="softmax", name="classes"),
    ], name="cnn_bn")


def lstm_text():
    return keras.Sequential([
        L.Input((7,), dtype="int32", name="tokens"),
        L.Embedding(20, 6, mask_zero=True, name="embed"),
        L.LSTM(5, name="lstm"),
        L.Dense(1, activation="sigmoid", name="positive"),
    ], name="lstm_text")


def gru():
    return keras.Sequential([
        L.Input((6, 3), name="series"),
        L.GRU(4, return_sequences=True, go_backwards=True, name="gru_a"),
        L.GRU(3, reset_after=False, name="gru_b"),
        L.Dense(2, name="head"),
    ], name="gru")


def bilstm():
    tokens = L.Input((6,), dtype="int32", name="tokens")
    x = L.Embedding(15, 4, mask_zero=True, name="embed")(tokens)
    x = L.Bidirectional(L.LSTM(3, return_sequences=True), name="bi_seq")(x)
    x = L.Bidirectional(L.LSTM(2, go_backwards=False), merge_mode="sum", name="bi_sum")(x)
    out = L.Dense(2, activation="softmax", name="label")(x)
    return keras.Model(tokens, out, name="bilstm")


def two_in_two_out():
    a = L.Input((5,), name="left")
    b = L.Input((3,), name="right")
    ha = L.Dense(4, activation="tanh", name="dense_left")(a)
    hb = L.Dense(4, activation="relu", name="dense_right")(b)
    joined = L.Concatenate(name="join")([ha, hb])
    score = L.Dense(1, name="score")(joined)
    mixed = L.Multiply(name="mul")([L.Add(name="add")([ha, hb]), L.Subtract(name="sub")([ha, hb])])
    kind = L.Dense(3, activation="softmax", name="kind")(mixed)
    return keras.Model([a, b], [score, kind], name="two_in_two_out")


def shared():
    a = L.Input((4,), name="first")
    b = L.Input((4,), name="second")
    dense = L.Dense(3, activation="sigmoid", name="shared_dense")
    fa, fb = dense(a), dense(b)
    avg = L.Average(name="avg")([fa, fb])
    hi = L.Maximum(name="hi")([fa, fb, avg])
    lo = L.Minimum(name="lo")([fa, fb])
    out = L.Dense(2, name="out")(L.Concatenate(axis=-1, name="cat")([hi, lo]))
    return keras.Model([a, b], out, name="shared")


def legacy_h5():
    return keras.Sequential([
        L.Input((5,), name="x"),
        L.Dense(4, activation="elu", name="d1"),
        L.Dense(4, activation="selu", use_bias=False, name="d2"),
        L.Dense(2, activation="softplus", name="d3"),
    ], name="legacy")


def conv1d():
    return keras.Sequential([
        L.Input((12, 3), name="signal"),
        L.ZeroPadding1D((1, 2), name="pad"),
        L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu", name="causal"),
        L.Cropping1D((2, 1), name="crop"),
        L.MaxPooling1D(2, name="maxp"),
        L.UpSampling1D(3, name="up"),
        L.SeparableConv1D(3, 3, depth_multiplier=2, padding="same", name="sep1d"),
        L.AveragePooling1D(3, strides=2, padding="same", name="avgp"),
        L.Conv1D(2, 2, strides=2, name="strided"),
        L.GlobalMaxPooling1D(name="gmax"),
    ], name="conv1d")


def conv3d():
    return keras.Sequential([
        L.Input((4, 5, 4, 2), name="volume"),
        L.ZeroPadding3D(((1, 0), (0, 1), (1, 1)), name="pad"),
        L.Conv3D(3, 2, activation="tanh", name="conv"),
        L.Cropping3D(((0, 1), (1, 0), (0, 0)), name="crop"),
        L.UpSampling3D((1, 2, 1), name="up"),
        L.MaxPooling3D(2, padding="same", name="maxp"),
        L.AveragePooling3D((1, 2, 2), strides=1, name="avgp"),
        L.GlobalAveragePooling3D(name="gavg"),
    ], name="conv3d")


def conv2d_kinds():
    return keras.Sequential([
        L.Input((6, 5, 2), name="image"),
        L.ZeroPadding2D(((1, 0), (2, 1)), name="pad"),
        L.Conv2DTranspose(3, 3, strides=2, padding="same", name="up_conv"),
        L.Cropping2D(((1, 2), (0, 1)), name="crop"),
        L.DepthwiseConv2D(3, depth_multiplier=2, activation="relu", name="depthwise"),
        L.SeparableConv2D(4, (2, 3), padding="same", dilation_rate=1, name="separable"),
        L.AveragePooling2D(2, name="avgp"),
        L.UpSampling2D((2, 1), name="up"),
        L.Conv2DTranspose(2, (2, 3), strides=(1, 2), padding="valid", name="up_valid"),
        L.GlobalMaxPooling2D(name="gmax"),
    ], name="conv2d_kinds")


def global_pools():
    x = L.Input((6, 4), name="seq")
    img = L.Input((4, 4, 3), name="img")
    vol = L.Input((2, 3, 2, 2), name="vol")
    outs = [L.GlobalAveragePooling1D(name="gap1")(x), L.GlobalAveragePooling2D(name="gap2")(img),
            L.GlobalMaxPooling3D(name="gmp3")(vol), L.MaxPooling2D((2, 3), strides=1, name="mp2")(img)]
    return keras.Model([x, img, vol], outs, name="global_pools")


def rnn_norm():
    return keras.Sequential([
        L.Input((5, 3), name="steps"),
        L.SimpleRNN(4, return_sequences=True, name="rnn_a"),
        L.LayerNormalization(name="norm"),
        L.SimpleRNN(3, go_backwards=True, activation="relu", name="rnn_b"),
        L.LayerNormalization(epsilon=1e-2, center=False, name="norm_b"),
    ], name="rnn_norm")


def shapes():
    return keras.Sequential([
        L.Input((6,), name="vec"),
        L.Dense(4, name="proj"),
        L.RepeatVector(3, name="repeat"),
        L.Permute((2, 1), name="swap"),
        L.Reshape((2, -1), name="reshape"),
        L.Flatten(name="flat"),
        L.Dense(2, name="out"),
    ], name="shapes")


def activations():
    x = L.Input((5,), name="x")
    outs = [L.Activation(name, name=f"act_{name}")(x) for name in ACTIVATIONS]
    outs.append(L.Dense(3, activation="gelu", name="dense_gelu")(x))
    return keras.Model(x, outs, name="activations")


def variants():
    tokens = L.Input((5,), dtype="int32", name="tokens")
    img = L.Input((4, 4, 2), name="img")
    seq = L.Embedding(16, 3, mask_zero=True, name="embed")(tokens)
    back = L.LSTM(2, return_sequences=True, go_backwards=True, name="lstm_back")(seq)
    ave = L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode="ave", name="bi_ave")(back)
    mul = L.Bidirectional(L.SimpleRNN(2), merge_mode="mul", name="bi_mul")(ave)
    up = L.UpSampling2D((2, 3), interpolation="bilinear", name="bilinear")(img)
    dil = L.Conv2D(2, 2, dilation_rate=2, padding="same", activation="softsign", name="dilated")(up)
    keep = L.GlobalAveragePooling2D(keepdims=True, name="keep")(dil)
    flat = L.Flatten(name="flat")(keep)
    return keras.Model([tokens, img], [mul, flat], name="variants")


def causal_separable():
    return keras.Sequential([
        L.Input((7, 2), name="signal"),
        L.SeparableConv1D(3, 3, padding="causal", dilation_rate=2, depth_multiplier=2, name="causal_sep"),
    ], name="causal_separable")


def no_input_layer():
    return keras.Sequential([
        L.Dense(3, activation="relu", input_shape=(4,), name="first"),
        L.Dense(2, name="second"),
    ], name="no_input_layer")


MODELS = [mlp, cnn_bn, lstm_text, gru, bilstm, two_in_two_out, shared, legacy_h5, conv1d, conv3d,
          conv2d_kinds, global_pools, rnn_norm, shapes, activations, variants, no_input_layer,
          causal_separable]
TRAINING = {"cnn_bn"}  # deterministic in training mode: batch norm, no dropout


def set_weights(model, rng):
    values = []
    for w in model.weights:
        if "moving_variance" in w.name:
            values.append(rng.uniform(0.5, 1.5, w.shape))
        else:
            values.append(rng.normal(0.0, 0.5, w.shape))
    model.set_weights([v.astype(np.float32) for v in values])


def inputs_for(model, rng) -> list[np.ndarray]:
    arrays = []
    for t in model.inputs:
        shape = (BATCH,) + tuple(t.shape[1:])
        if t.dtype.is_integer:
            a = rng.integers(1, 15, shape).astype(np.int32)
            a[0, 4:] = 0  # padding at the end of a row, and a row that is all padding but one
            a[1, 1:] = 0
            arrays.append(a)
        else:
            arrays.append(rng.normal(0.0, 1.0, shape).astype(np.float32))
    return arrays


def as_list(value):
    return value if isinstance(value, list) else [value]


def make(build) -> None:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(MODELS.index(build))
    model = build()
    set_weights(model, rng)
    xs = inputs_for(model, rng)
    arrays = {f"in:{name}": x for name, x in zip(model.input_names, xs)}
    for name, y in zip(model.output_names, as_list(model.predict(xs, verbose=0))):
        arrays[f"out:{name}"] = y
    suffix = ".h5" if build.__name__ == "legacy_h5" else ".keras"
    model.save(HERE / (build.__name__ + suffix))
    if build.__name__ in TRAINING:
        # An eager call in training mode also moves the batch norms' statistics: keep both.
        for name, y in zip(model.output_names, as_list(model(xs, training=True))):
            arrays[f"train:{name}"] = np.asarray(y)
        for layer in model.layers:
            for w in layer.non_trainable_weights:
                arrays[f"after:{layer.name}/{w.name.split('/')[-1].split(':')[0]}"] = w.numpy()
    np.savez(HERE / f"{build.__name__}.npz", **arrays)
    print(f"{build.__name__}{suffix}: {model.count_params()} parameters, outputs {model.output_names}")


if __name__ == "__main__":
    import sys

    chosen = sys.argv[1:]  # names to remake (default: all)
    for build in MODELS:
        if not chosen or build.__name__ in chosen:
            make(build)
