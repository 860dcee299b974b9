"""Writes conv_reference.npz: tf_keras's values for the cases in conv_cases.py.

Run with the tf_keras environment (never a kgraph dependency):
    /work/tfvenv/bin/python tests/reference/make_conv_reference.py
tf_keras's separable_conv1d does not run on CPU (no such kernel), so its reference is
what it is documented to compute: tf_keras's separable_conv2d of the input with a
height-1 axis inserted (what tf_keras's separable_conv1d does before calling it).
"""
import os
import sys

import numpy as np
import tensorflow as tf
from tf_keras import backend as K

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from conv_cases import CASES  # noqa: E402


def inputs(index, shapes):
    rng = np.random.default_rng(index)
    return [rng.uniform(-1, 1, size=s).astype(np.float32) for s in shapes]


def separable_conv1d(x, depthwise, pointwise, strides=1, padding="valid", data_format=None,
                     dilation_rate=1):
    axis = 2 if data_format == "channels_first" else 1
    y = K.separable_conv2d(tf.expand_dims(x, axis), tf.expand_dims(depthwise, 0),
                           tf.expand_dims(pointwise, 0), strides=(1, strides), padding=padding,
                           data_format=data_format, dilation_rate=(1, dilation_rate))
    return tf.squeeze(y, [axis])


def main():
    out = {}
    for index, (name, op, shapes, args, kwargs) in enumerate(CASES):
        arrays = inputs(index, shapes)
        fn = separable_conv1d if op == "separable_conv1d" else getattr(K, op)
        value = K.eval(fn(*[K.constant(a) for a in arrays], *args, **kwargs))
        out[name] = np.asarray(value, np.float32)
    np.savez_compressed(os.path.join(HERE, "conv_reference.npz"), **out)
    print(f"wrote {len(out)} cases")


if __name__ == "__main__":
    main()
