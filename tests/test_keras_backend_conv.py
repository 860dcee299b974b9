"""Convolution, pooling, padding and resizing against tf_keras.

Three kinds of check:
- values: every case of reference/conv_cases.py, computed by tf_keras 2.21 into
  reference/conv_reference.npz (reference/make_conv_reference.py), run through the
  `.kg` front end (with a None batch, at -O0 and -O2) and through kgraph.backend;
- tf_keras's own backend_test.py tests for these functions, ported with their inputs,
  NumPy references and tolerances (test_* names follow theirs);
- located shape errors, and image_data_format in both front ends and on the command line.
Gradients are in test_conv_gradients.py.
"""
from pathlib import Path

import numpy as np
import pytest

import kgraph
from kgraph import backend as K
from kgraph.errors import KGraphError

from conftest import run_both
from reference.conv_cases import CASES

COVERS = {"conv1d", "conv2d", "conv3d", "conv2d_transpose", "depthwise_conv2d", "separable_conv1d",
          "separable_conv2d", "local_conv", "local_conv1d", "local_conv2d", "pool2d", "pool3d",
          "temporal_padding", "spatial_2d_padding", "spatial_3d_padding", "resize_images",
          "resize_volumes", "image_data_format"}

REFERENCE = np.load(Path(__file__).parent / "reference" / "conv_reference.npz", allow_pickle=False)
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(autouse=True)
def fresh_session():
    K.clear_session()
    yield
    K.clear_session()
    K.set_image_data_format("channels_last")


def case_inputs(index, shapes):
    rng = np.random.default_rng(index)
    return [rng.uniform(-1, 1, size=s).astype(np.float32) for s in shapes]


def call_text(op, names, args, kwargs):
    parts = list(names) + [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{op}({', '.join(parts)})"


def dims(shape, none_batch):
    return ", ".join(["None" if none_batch else str(shape[0])] + [str(d) for d in shape[1:]])


@pytest.fixture(scope="module")
def text_results():
    """All reference cases as one .kg program: the first input of each has a None batch."""
    lines, feeds = [], {}
    for index, (name, op, shapes, args, kwargs) in enumerate(CASES):
        names = [f"{name}_{j}" for j in range(len(shapes))]
        for j, (arg, shape, value) in enumerate(zip(names, shapes, case_inputs(index, shapes))):
            lines.append(f"placeholder {arg}: float32[{dims(shape, j == 0)}]")
            feeds[arg] = value
        if op == "conv2d_transpose":  # the batch of output_shape may be None: taken from x
            args = [(None,) + tuple(args[0][1:])]
        lines.append(f"output {call_text(op, names, args, kwargs)} as {name}")
    return run_both("\n".join(lines), **feeds)


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_text_front_end_matches_tf_keras(text_results, name):
    np.testing.assert_allclose(text_results[name], REFERENCE[name], **TOL)


def test_backend_matches_tf_keras():
    outputs, names = [], []
    for index, (name, op, shapes, args, kwargs) in enumerate(CASES):
        tensors = [K.constant(a) for a in case_inputs(index, shapes)]
        outputs.append(getattr(K, op)(*tensors, *args, **kwargs))
        names.append(name)
    values = K.function([], outputs)([])
    for name, value in zip(names, values):
        np.testing.assert_allclose(value, REFERENCE[name], err_msg=name, **TOL)


def test_static_shapes_carry_none_and_named_dims():
    prog = kgraph.compile("""
placeholder x: float32[batch, None, 8, 3]
placeholder k: float32[3, 3, 3, 4]
a = conv2d(x, k, padding='same')
b = pool2d(a, (2, 2), strides=(2, 2))
c = conv2d(x, k)
d = depthwise_conv2d(x, ones((1, 1, 3, 2)))
output a, b, c, d
""")
    shapes = {name: node.type.shape for name, node in prog.graph.outputs}
    assert shapes == {"a": ("batch", None, 8, 4), "b": ("batch", None, 4, 4),
                      "c": ("batch", None, 6, 4), "d": ("batch", None, 8, 6)}


# ---- errors: located, naming both operands ---------------------------------------------

@pytest.mark.parametrize("source, message", [
    ("placeholder x: float32[None, 8, 8, 3]\nplaceholder k: float32[3, 3, 2, 4]\noutput conv2d(x, k)",
     "conv2d: the input has 3 channels but the kernel takes 2 (its axis -2): x is "
     "float32[None, 8, 8, 3], k is float32[3, 3, 2, 4]"),
    ("placeholder x: float32[None, 2, 2, 3]\noutput conv2d(x, ones((3, 3, 3, 1)))",
     "larger than the input (2)"),
    ("placeholder x: float32[None, 8, 8, 3]\noutput conv2d(x, ones((3, 3, 3, 1)), padding='full')",
     "invalid padding 'full'"),
    ("placeholder x: float32[None, 8, 8, 3]\noutput conv2d(x, ones((3, 3, 3, 1)), strides=(2, 2, 2))",
     "strides must be a tuple of 2 positive integers"),
    ("placeholder x: float32[None, 8, 8, 3]\noutput pool2d(x, (2, 2), data_format='nhwc')",
     "unknown data_format 'nhwc'"),
    ("placeholder x: bool[None, 4, 4, 1]\noutput pool2d(x, (2, 2))", "max pooling takes numbers, not bool"),
    ("placeholder x: int32[None, 4, 4, 1]\noutput pool2d(x, (2, 2), pool_mode='avg')",
     "expects a floating-point tensor"),
    ("placeholder x: float32[None, 8, 3]\noutput conv2d(x, ones((3, 3, 3, 1)))",
     "expects a 4-D input, but x is float32[None, 8, 3]"),
    ("placeholder x: float32[None, 4, 4, 3]\n"
     "output conv2d_transpose(x, ones((3, 3, 2, 3)), (None, 9, 8, 2), strides=(2, 2), padding='same')",
     "does not match the input"),
])
def test_shape_errors_are_located(source, message):
    with pytest.raises(KGraphError) as err:
        kgraph.compile(source, filename="m.kg")
    assert message in str(err.value)
    assert err.value.filename == "m.kg" and err.value.line == source.count("\n") + 1


# ---- image_data_format ---------------------------------------------------------------------

def test_image_data_format_in_both_front_ends():
    source = "placeholder x: float32[1, 2, 3, 4]\noutput conv2d(x, ones((1, 1, 2, 5))) as y"
    with pytest.raises(KGraphError, match="input has 4 channels"):
        kgraph.compile(source)  # channels_last: 4 channels, the kernel takes 2
    prog = kgraph.compile(source, image_data_format="channels_first")
    x = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    np.testing.assert_allclose(prog.run(x=x)["y"], np.broadcast_to(x.sum(1, keepdims=True), (1, 5, 3, 4)))
    assert K.image_data_format() == "channels_last"
    K.set_image_data_format("channels_first")
    assert K.image_data_format() == "channels_first"
    y = K.conv2d(K.constant(x), K.constant(np.ones((1, 1, 2, 5), np.float32)))
    assert K.int_shape(y) == (1, 5, 3, 4)
    with pytest.raises(KGraphError, match="image_data_format must be"):
        K.set_image_data_format("nchw")
    with pytest.raises(KGraphError, match="image_data_format must be"):
        kgraph.compile(source, image_data_format="NCHW")


def test_image_data_format_on_the_command_line(tmp_path):
    from kgraph.cli import main

    path = tmp_path / "m.kg"
    path.write_text("placeholder x: float32[1, 2, 3, 3]\noutput pool2d(x, (2, 2)) as y\n")
    out = tmp_path / "out.npz"
    x = tmp_path / "x.npy"
    np.save(x, np.arange(18, dtype=np.float32).reshape(1, 2, 3, 3))
    assert main(["run", str(path), "--image-data-format", "channels_first", "--feed", f"x={x}",
                 "--out", str(out)]) == 0
    assert np.load(out)["y"].shape == (1, 2, 2, 2)
    assert main(["run", str(path), "--feed", f"x={x}", "--out", str(out)]) == 0
    assert np.load(out)["y"].shape == (1, 1, 2, 3)


# ---- tf_keras backend_test.py, ported (BackendShapeOpsTest, BackendNNOpsTest) ----------------

def compare_single_input_op_to_numpy(keras_op, np_op, input_shape, dtype="float32", keras_args=(),
                                     keras_kwargs=None, np_args=(), np_kwargs=None):
    inputs = 2.0 * np.random.random(input_shape) - 1.0
    keras_output = K.eval(keras_op(K.variable(inputs, dtype=dtype), *keras_args, **(keras_kwargs or {})))
    np_output = np_op(inputs.astype(dtype), *np_args, **(np_kwargs or {}))
    np.testing.assert_allclose(keras_output, np_output, atol=1e-4)


def shape(y):
    return list(K.int_shape(y))


def test_resize_images():
    x = K.variable(np.ones((1, 2, 2, 3)))
    assert shape(K.resize_images(x, 2, 2, "channels_last")) == [1, 4, 4, 3]
    x = K.variable(np.ones((1, 3, 2, 2)))
    assert shape(K.resize_images(x, 2, 2, "channels_first")) == [1, 3, 4, 4]
    x = K.placeholder(shape=(1, 3, None, None))
    assert shape(K.resize_images(x, 2, 2, "channels_first")) == [1, 3, None, None]
    with pytest.raises(KGraphError):
        K.resize_images(x, 2, 2, data_format="unknown")


def test_resize_volumes():
    x = K.variable(np.ones((1, 2, 2, 2, 3)))
    assert shape(K.resize_volumes(x, 2, 2, 2, "channels_last")) == [1, 4, 4, 4, 3]
    x = K.variable(np.ones((1, 3, 2, 2, 2)))
    assert shape(K.resize_volumes(x, 2, 2, 2, "channels_first")) == [1, 3, 4, 4, 4]
    with pytest.raises(KGraphError):
        K.resize_volumes(x, 2, 2, 2, data_format="unknown")


def test_temporal_padding():
    def ref_op(x, padding):
        shape = list(x.shape)
        shape[1] += padding[0] + padding[1]
        y = np.zeros(tuple(shape))
        y[:, padding[0]:-padding[1], :] = x
        return y

    compare_single_input_op_to_numpy(K.temporal_padding, ref_op, input_shape=(4, 7, 6),
                                     keras_args=[(2, 3)], np_args=[(2, 3)])


def _ref_spatial_padding(x, padding, data_format="channels_last"):
    n = len(padding)
    axes = range(1, n + 1) if data_format == "channels_last" else range(2, n + 2)
    shape = list(x.shape)
    index = [slice(None)] * x.ndim
    for axis, (before, after) in zip(axes, padding):
        shape[axis] += before + after
        index[axis] = slice(before, -after)
    y = np.zeros(tuple(shape))
    y[tuple(index)] = x
    return y


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_spatial_2d_and_3d_padding(data_format):
    compare_single_input_op_to_numpy(
        K.spatial_2d_padding, _ref_spatial_padding, input_shape=(2, 3, 2, 3),
        keras_args=[((2, 3), (1, 2))], keras_kwargs={"data_format": data_format},
        np_args=[((2, 3), (1, 2))], np_kwargs={"data_format": data_format})
    compare_single_input_op_to_numpy(
        K.spatial_3d_padding, _ref_spatial_padding, input_shape=(2, 3, 2, 3, 2),
        keras_args=[((2, 3), (1, 2), (2, 3))], keras_kwargs={"data_format": data_format},
        np_args=[((2, 3), (1, 2), (2, 3))], np_kwargs={"data_format": data_format})


def test_pool2d():
    x = K.variable(np.random.random((10, 3, 10, 10)))
    for mode in ("max", "avg"):
        y = K.pool2d(x, (2, 2), strides=(1, 1), padding="valid", data_format="channels_first",
                     pool_mode=mode)
        assert shape(y) == [10, 3, 9, 9]
    x = K.variable(np.random.random((10, 10, 10, 3)))
    assert shape(K.pool2d(x, (2, 2), strides=(1, 1), padding="valid", data_format="channels_last")) == [10, 9, 9, 3]
    assert shape(K.pool2d(x, (2, 2), strides=(1, 1), padding="same", data_format="channels_last")) == [10, 10, 10, 3]
    assert shape(K.pool2d(x, (2, 2), strides=(2, 2), padding="same", data_format="channels_last")) == [10, 5, 5, 3]
    for bad in [dict(pool_size=(2, 2), strides=(2, 2), padding="other", data_format="channels_last"),
                dict(pool_size=(2, 2), strides=(2, 2), data_format="other"),
                dict(pool_size=(2, 2, 2), strides=(2, 2)),
                dict(pool_size=(2, 2), strides=(2, 2, 2)),
                dict(pool_size=(2, 2), strides=(2, 2), pool_mode="other")]:
        with pytest.raises(KGraphError):
            K.pool2d(x, **bad)


def test_pool3d():
    x = K.variable(np.random.random((10, 3, 10, 10, 10)))
    for mode in ("max", "avg"):
        y = K.pool3d(x, (2, 2, 2), strides=(1, 1, 1), padding="valid", data_format="channels_first",
                     pool_mode=mode)
        assert shape(y) == [10, 3, 9, 9, 9]
    x = K.variable(np.random.random((10, 10, 10, 10, 3)))
    assert shape(K.pool3d(x, (2, 2, 2), strides=(1, 1, 1), padding="valid",
                          data_format="channels_last")) == [10, 9, 9, 9, 3]
    assert shape(K.pool3d(x, (2, 2, 2), strides=(1, 1, 1), padding="same",
                          data_format="channels_last")) == [10, 10, 10, 10, 3]
    assert shape(K.pool3d(x, (2, 2, 2), strides=(2, 2, 2), padding="same",
                          data_format="channels_last")) == [10, 5, 5, 5, 3]


def test_conv1d():
    k = K.variable(np.random.random((3, 4, 5)))
    x = K.variable(np.random.random((10, 4, 10)))
    assert shape(K.conv1d(x, k, strides=(1,), padding="valid", data_format="channels_first")) == [10, 5, 8]
    x = K.variable(np.random.random((10, 10, 4)))
    assert shape(K.conv1d(x, k, strides=(1,), padding="valid", data_format="channels_last")) == [10, 8, 5]
    assert shape(K.conv1d(x, k, strides=(1,), padding="same", data_format="channels_last")) == [10, 10, 5]
    assert shape(K.conv1d(x, k, strides=(2,), padding="same", data_format="channels_last")) == [10, 5, 5]


@pytest.mark.slow
def test_local_conv_channels_dim():
    filters, batch_size = 3, 2
    pairs = []  # (channels_first result, channels_last result, dim): evaluated in one K.function
    for input_shape in [(3, 5), (2, 3, 5), (2, 5, 3, 4)]:
        channels_in, spatial = input_shape[0], input_shape[1:]
        dim = len(spatial)
        inputs = np.random.normal(0, 1, (batch_size,) + input_shape)
        inputs_cf = K.variable(inputs)
        inputs_cl = K.variable(np.transpose(inputs, [0, 2] + list(range(3, dim + 2)) + [1]))
        for kernel_size in [1, 2]:
            for stride in [1, 2]:
                kernel_sizes, strides = (kernel_size,) * dim, (stride,) * dim
                output_shape = tuple((i - kernel_size + stride) // stride for i in spatial)
                kernel_shape = (np.prod(output_shape), np.prod(kernel_sizes) * channels_in, filters)
                kernel = np.random.normal(0, 1, output_shape + (channels_in, np.prod(kernel_sizes), filters))
                kernel_cf = K.variable(np.reshape(kernel, kernel_shape))
                conv_cf = K.local_conv(inputs_cf, kernel_cf, kernel_sizes, strides, output_shape,
                                       "channels_first")
                kernel_cl = K.variable(np.reshape(
                    np.transpose(kernel, list(range(dim)) + [dim + 1, dim, dim + 2]), kernel_shape))
                conv_cl = K.local_conv(inputs_cl, kernel_cl, kernel_sizes, strides, output_shape,
                                       "channels_last")
                pairs.append((conv_cf, conv_cl, dim))
    values = K.function([], [t for cf, cl, _ in pairs for t in (cf, cl)])([])
    for i, (_, _, dim) in enumerate(pairs):
        conv_cf, conv_cl = values[2 * i], values[2 * i + 1]
        np.testing.assert_allclose(conv_cf, np.transpose(conv_cl, [0, dim + 1] + list(range(1, dim + 1))),
                                   atol=1e-5)


@pytest.mark.parametrize("input_shape, kernel_sizes, strides, output_shape", [
    ((5, 6), (3,), (1,), (3,)), ((4, 5, 6), (3, 3), (1, 1), (2, 3))], ids=["local_conv1d", "local_conv2d"])
def test_local_conv_1d_and_2d(input_shape, kernel_sizes, strides, output_shape):
    filters, batch_size = 3, 2
    inputs = K.variable(np.random.normal(0, 1, (batch_size,) + input_shape))
    kernel = K.variable(np.random.normal(0, 1, (np.prod(output_shape), np.prod(kernel_sizes) * input_shape[-1],
                                                filters)))
    local_conv = K.local_conv(inputs, kernel, kernel_sizes, strides, output_shape, "channels_last")
    if len(output_shape) == 1:
        local_conv_dim = K.local_conv1d(inputs, kernel, kernel_sizes, strides, "channels_last")
    else:
        local_conv_dim = K.local_conv2d(inputs, kernel, kernel_sizes, strides, output_shape, "channels_last")
    np.testing.assert_allclose(K.eval(local_conv), K.eval(local_conv_dim), rtol=1e-6)


def test_local_conv_against_keras_loop():
    """tf_keras's local_conv is a loop over output positions; here in NumPy."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 4, 3)).astype(np.float32)
    kernel = rng.normal(size=(4, 12, 2)).astype(np.float32)
    xs = [x[:, i * 2:i * 2 + 2, j * 1:j * 1 + 2, :].reshape(1, -1, 12) for i in range(2) for j in range(2)]
    expected = np.matmul(np.concatenate(xs, 0), kernel).reshape(2, 2, 2, 2).transpose(2, 0, 1, 3)
    got = K.eval(K.local_conv2d(K.constant(x), K.constant(kernel), (2, 2), (2, 1), (2, 2), "channels_last"))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_conv2d():
    k = K.variable(np.random.random((3, 3, 4, 5)))
    x = K.variable(np.random.random((10, 4, 10, 10)))
    assert shape(K.conv2d(x, k, padding="valid", data_format="channels_first")) == [10, 5, 8, 8]
    x = K.variable(np.random.random((10, 10, 10, 4)))
    assert shape(K.conv2d(x, k, strides=(1, 1), padding="valid", data_format="channels_last")) == [10, 8, 8, 5]
    assert shape(K.conv2d(x, k, padding="same", data_format="channels_last")) == [10, 10, 10, 5]
    assert shape(K.conv2d(x, k, dilation_rate=(2, 2), padding="same", data_format="channels_last")) == [10, 10, 10, 5]
    assert shape(K.conv2d(x, k, strides=(2, 2), padding="same", data_format="channels_last")) == [10, 5, 5, 5]
    with pytest.raises(KGraphError):
        K.conv2d(x, k, (2, 2), padding="other", data_format="channels_last")
    with pytest.raises(KGraphError):
        K.conv2d(x, k, (2, 2), data_format="other")
    with pytest.raises(KGraphError):
        K.conv2d(x, k, (2, 2, 2))


def test_conv2d_transpose():
    input_size, input_depth, filters, batch_size = (7, 8), 6, 6, 2
    k = K.variable(np.random.random((3, 3, input_depth, filters)))
    x = K.variable(np.random.random((batch_size, input_depth) + input_size))
    y = K.conv2d_transpose(x, k, (batch_size, filters) + input_size, padding="same", data_format="channels_first")
    assert tuple(K.int_shape(y)) == (batch_size, filters) + input_size
    x = K.variable(np.random.random((batch_size,) + input_size + (input_depth,)))
    y = K.conv2d_transpose(x, k, (batch_size,) + input_size + (filters,), padding="same", data_format="channels_last")
    assert tuple(K.int_shape(y)) == (batch_size,) + input_size + (filters,)
    y = K.conv2d_transpose(x, k, (batch_size,) + input_size + (filters,), padding="same",
                           data_format="channels_last", dilation_rate=(2, 2))
    assert tuple(K.int_shape(y)) == (batch_size,) + input_size + (filters,)
    with pytest.raises(KGraphError, match="Expected the 2 dimensions"):
        K.conv2d_transpose(x, k, (batch_size,) + input_size + (filters,), padding="same",
                           data_format="channels_last", dilation_rate=(1, 2))
    y = K.conv2d_transpose(x, k, (None,) + input_size + (filters,), padding="same", data_format="channels_last")
    assert tuple(K.int_shape(y)) == (batch_size,) + input_size + (filters,)
    with pytest.raises(KGraphError):
        K.conv2d_transpose(x, k, (2, 2, 8, 9), padding="other", data_format="channels_last")
    with pytest.raises(KGraphError):
        K.conv2d_transpose(x, k, (2, 2, 8, 9), data_format="other")


def test_conv2d_transpose_is_the_adjoint_of_conv2d():
    """<conv2d(y, k), x> == <y, conv2d_transpose(x, k)>: the transpose is conv2d's gradient."""
    rng = np.random.default_rng(5)
    k = rng.normal(size=(3, 2, 4, 3))
    for strides, padding, out in [((2, 2), "same", (2, 7, 6, 4)), ((2, 3), "valid", (2, 8, 7, 4))]:
        y = rng.normal(size=out)
        fwd = K.eval(K.conv2d(K.constant(y), K.constant(k), strides=strides, padding=padding))
        x = rng.normal(size=fwd.shape)
        back = K.eval(K.conv2d_transpose(K.constant(x), K.constant(k), out, strides=strides, padding=padding))
        np.testing.assert_allclose(np.sum(fwd * x), np.sum(y * back), rtol=1e-4)


def test_separable_conv2d():
    dk = K.variable(np.random.random((3, 3, 4, 1)))
    pk = K.variable(np.random.random((1, 1, 4, 5)))
    x = K.variable(np.random.random((10, 4, 10, 10)))
    assert shape(K.separable_conv2d(x, dk, pk, padding="valid", data_format="channels_first")) == [10, 5, 8, 8]
    x = K.variable(np.random.random((10, 10, 10, 4)))
    assert shape(K.separable_conv2d(x, dk, pk, strides=(1, 1), padding="valid",
                                    data_format="channels_last")) == [10, 8, 8, 5]
    assert shape(K.separable_conv2d(x, dk, pk, strides=(1, 1), padding="same",
                                    data_format="channels_last")) == [10, 10, 10, 5]
    assert shape(K.separable_conv2d(x, dk, pk, strides=(2, 2), padding="same",
                                    data_format="channels_last")) == [10, 5, 5, 5]
    with pytest.raises(KGraphError):
        K.separable_conv2d(x, dk, pk, (2, 2), padding="other", data_format="channels_last")
    with pytest.raises(KGraphError):
        K.separable_conv2d(x, dk, pk, (2, 2), data_format="other")
    with pytest.raises(KGraphError):
        K.separable_conv2d(x, dk, pk, (2, 2, 2))


def test_conv3d():
    k = K.variable(np.random.random((3, 3, 3, 4, 5)))
    x = K.variable(np.random.random((10, 4, 10, 10, 10)))
    assert shape(K.conv3d(x, k, padding="valid", data_format="channels_first")) == [10, 5, 8, 8, 8]
    x = K.variable(np.random.random((10, 10, 10, 10, 4)))
    assert shape(K.conv3d(x, k, strides=(1, 1, 1), padding="valid", data_format="channels_last")) == [10, 8, 8, 8, 5]
    assert shape(K.conv3d(x, k, strides=(1, 1, 1), padding="same", data_format="channels_last")) == [10, 10, 10, 10, 5]
    assert shape(K.conv3d(x, k, strides=(2, 2, 2), padding="same", data_format="channels_last")) == [10, 5, 5, 5, 5]
    with pytest.raises(KGraphError):
        K.conv3d(x, k, (2, 2, 2), padding="other", data_format="channels_last")
    with pytest.raises(KGraphError):
        K.conv3d(x, k, (2, 2, 2), data_format="other")
    with pytest.raises(KGraphError):
        K.conv3d(x, k, (2, 2))


def test_causal_conv1d_pads_the_time_axis_in_both_formats():
    """tf_keras pads axis 1 (the channels, for channels_first); kgraph pads time (docs/conv.md)."""
    rng = np.random.default_rng(7)
    x, k = rng.normal(size=(2, 6, 3)), rng.normal(size=(3, 3, 4))
    last = K.eval(K.conv1d(K.constant(x), K.constant(k), padding="causal", dilation_rate=2))
    first = K.eval(K.conv1d(K.constant(x.transpose(0, 2, 1)), K.constant(k), padding="causal",
                            dilation_rate=2, data_format="channels_first"))
    np.testing.assert_allclose(first, last.transpose(0, 2, 1), rtol=1e-5, atol=1e-6)
    # Output t sees inputs t, t - 2, t - 4 only: changing the last step changes only the last output.
    x2 = x.copy()
    x2[:, -1] += 1.0
    moved = K.eval(K.conv1d(K.constant(x2), K.constant(k), padding="causal", dilation_rate=2))
    np.testing.assert_allclose(moved[:, :-1], last[:, :-1], rtol=1e-6)
    assert not np.allclose(moved[:, -1], last[:, -1])


def test_run_time_sizes_are_checked_where_the_compiler_could_not():
    prog = kgraph.compile("placeholder x: float32[1, None, None, 1]\n"
                          "output conv2d_transpose(x, ones((3, 3, 1, 1)), (1, 4, 4, 1), strides=(2, 2), "
                          "padding='same') as y", filename="t.kg")
    assert prog.run(x=np.ones((1, 2, 2, 1), np.float32))["y"].shape == (1, 4, 4, 1)
    with pytest.raises(KGraphError, match="run-time shapes do not agree") as err:
        prog.run(x=np.ones((1, 3, 3, 1), np.float32))
    assert err.value.filename == "t.kg" and err.value.line == 2
    prog = kgraph.compile("placeholder x: float32[1, None, None, 1]\noutput conv2d(x, ones((3, 3, 1, 1)))")
    with pytest.raises(KGraphError, match="run-time shapes"):
        prog.run(x=np.ones((1, 2, 2, 1), np.float32))
    prog = kgraph.compile("placeholder x: float32[1, None, None, 1]\noutput pool2d(x, (3, 3))")
    assert prog.run(x=np.ones((1, 3, 4, 1), np.float32))["out0"].shape == (1, 1, 2, 1)
    with pytest.raises(KGraphError, match="run-time shapes"):
        prog.run(x=np.ones((1, 2, 2, 1), np.float32))
