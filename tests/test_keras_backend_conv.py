"""Convolution, pooling, padding and resizing against tf_keras.

Three kinds of check:
- values: every case of reference/conv_cases.py, computed by tf_keras 2.21 into
  reference/conv_reference.npz (reference/make_conv_reference.py), run through the
  `.kg` front end (with a None batch, at -O0 and -O2) and through kgraph.backend;
- tf_keras's own backend_test.py tests for these functions, ported with their inputs,
  NumPy references and tolerances (test_* names follow theirs);
- gradients of every differentiable op with jax.test_util.check_grads (float64).
"""
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

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
