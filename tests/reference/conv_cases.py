"""The convolution, pooling and resizing cases whose values tf_keras computed.

Shared by make_conv_reference.py (run with tf_keras, writes conv_reference.npz) and
tests/test_keras_backend_conv.py (runs the same calls in kgraph). Plain Python only:
this file is imported by both environments.

Each case: (name, op, shapes of its tensor arguments, further positional arguments,
keyword arguments). Inputs are uniform in [-1, 1) from numpy's default_rng(seed
of the case's index), so the npz holds only the outputs' inputs and values.
"""
CL, CF = "channels_last", "channels_first"

CASES = [
    ("conv1d_valid", "conv1d", [(2, 7, 3), (3, 3, 4)], [], {"data_format": CL}),
    ("conv1d_same_s2", "conv1d", [(2, 7, 3), (3, 3, 4)], [], {"strides": 2, "padding": "same", "data_format": CL}),
    ("conv1d_causal_d2", "conv1d", [(2, 7, 3), (3, 3, 4)], [],
     {"padding": "causal", "dilation_rate": 2, "data_format": CL}),
    ("conv1d_cf", "conv1d", [(2, 3, 7), (2, 3, 4)], [], {"padding": "same", "data_format": CF}),
    ("conv2d_valid", "conv2d", [(2, 6, 5, 3), (3, 2, 3, 4)], [], {"data_format": CL}),
    ("conv2d_same_s2", "conv2d", [(2, 6, 5, 3), (3, 3, 3, 4)], [],
     {"strides": (2, 2), "padding": "same", "data_format": CL}),
    ("conv2d_dilated", "conv2d", [(2, 7, 7, 2), (3, 3, 2, 3)], [],
     {"padding": "same", "dilation_rate": (2, 2), "data_format": CL}),
    ("conv2d_cf", "conv2d", [(2, 3, 6, 5), (3, 3, 3, 2)], [],
     {"strides": (1, 2), "padding": "valid", "data_format": CF}),
    ("conv3d_same_s2", "conv3d", [(1, 5, 4, 4, 2), (2, 3, 2, 2, 3)], [],
     {"strides": (2, 1, 2), "padding": "same", "data_format": CL}),
    ("conv3d_cf", "conv3d", [(1, 2, 4, 4, 3), (2, 2, 2, 2, 3)], [], {"data_format": CF}),
    ("conv2d_transpose_same_s2", "conv2d_transpose", [(2, 3, 4, 3), (3, 3, 2, 3)], [(2, 6, 8, 2)],
     {"strides": (2, 2), "padding": "same", "data_format": CL}),
    ("conv2d_transpose_valid_s2", "conv2d_transpose", [(2, 3, 4, 3), (3, 3, 2, 3)], [(2, 7, 9, 2)],
     {"strides": (2, 2), "padding": "valid", "data_format": CL}),
    ("conv2d_transpose_dilated", "conv2d_transpose", [(1, 5, 5, 2), (3, 3, 3, 2)], [(1, 5, 5, 3)],
     {"padding": "same", "dilation_rate": (2, 2), "data_format": CL}),
    ("conv2d_transpose_cf", "conv2d_transpose", [(2, 3, 3, 4), (2, 2, 2, 3)], [(2, 2, 6, 8)],
     {"strides": (2, 2), "padding": "same", "data_format": CF}),
    ("depthwise_same_s2", "depthwise_conv2d", [(2, 5, 6, 3), (3, 3, 3, 2)], [],
     {"strides": (2, 2), "padding": "same", "data_format": CL}),
    ("depthwise_dilated_cf", "depthwise_conv2d", [(1, 2, 7, 7), (3, 3, 2, 1)], [],
     {"dilation_rate": (2, 2), "data_format": CF}),
    ("separable2d_same", "separable_conv2d", [(2, 5, 5, 3), (3, 3, 3, 2), (1, 1, 6, 4)], [],
     {"padding": "same", "data_format": CL}),
    ("separable2d_cf_s2", "separable_conv2d", [(1, 3, 6, 6), (2, 2, 3, 1), (1, 1, 3, 2)], [],
     {"strides": (2, 2), "data_format": CF}),
    ("separable1d_same", "separable_conv1d", [(2, 7, 3), (3, 3, 2), (1, 6, 4)], [],
     {"padding": "same", "data_format": CL}),
    ("local_conv1d", "local_conv1d", [(2, 6, 3), (4, 9, 2)], [(3,), (1,)], {"data_format": CL}),
    ("local_conv2d_cl", "local_conv2d", [(2, 5, 4, 3), (4, 12, 2)], [(2, 2), (2, 2), (2, 2)],
     {"data_format": CL}),
    ("local_conv2d_cf", "local_conv2d", [(2, 3, 5, 4), (4, 12, 2)], [(2, 2), (2, 2), (2, 2)],
     {"data_format": CF}),
    ("pool2d_max_valid", "pool2d", [(2, 5, 6, 3)], [(2, 2)], {"strides": (2, 2), "data_format": CL}),
    ("pool2d_max_same", "pool2d", [(2, 5, 6, 3)], [(3, 3)],
     {"strides": (2, 2), "padding": "same", "data_format": CL}),
    ("pool2d_avg_same", "pool2d", [(2, 5, 6, 3)], [(3, 3)],
     {"strides": (2, 2), "padding": "same", "data_format": CL, "pool_mode": "avg"}),
    ("pool2d_avg_same_s1_cf", "pool2d", [(2, 3, 5, 4)], [(2, 3)],
     {"padding": "same", "data_format": CF, "pool_mode": "avg"}),
    ("pool3d_max_same", "pool3d", [(1, 4, 5, 3, 2)], [(2, 2, 2)],
     {"strides": (2, 2, 2), "padding": "same", "data_format": CL}),
    ("pool3d_avg_same_cf", "pool3d", [(1, 2, 4, 5, 3)], [(3, 2, 2)],
     {"strides": (1, 2, 2), "padding": "same", "data_format": CF, "pool_mode": "avg"}),
    ("resize_nearest", "resize_images", [(2, 3, 4, 2)], [2, 3, CL], {}),
    ("resize_bilinear", "resize_images", [(2, 3, 4, 2)], [2, 3, CL], {"interpolation": "bilinear"}),
    ("resize_bilinear_cf", "resize_images", [(1, 2, 3, 3)], [3, 2, CF], {"interpolation": "bilinear"}),
    ("resize_volumes_cf", "resize_volumes", [(1, 2, 2, 3, 2)], [2, 1, 3, CF], {}),
]
