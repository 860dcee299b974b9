"""Gradients of the convolution, pooling, padding and resizing ops, and through a small
CNN, checked with jax.test_util.check_grads (float64, forward and reverse mode)
against finite differences, and `gradients(...)` in the language against jax.grad."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import kgraph

# (call, {placeholder: shape}): every differentiable op of the conv, pool and image modules.
CASES = {
    "conv1d": ("conv1d(x, k, padding='causal', dilation_rate=2)", {"x": (2, 5, 2), "k": (2, 2, 3)}),
    "conv2d": ("conv2d(x, k, strides=(2, 1), padding='same')", {"x": (1, 5, 4, 2), "k": (3, 2, 2, 2)}),
    "conv3d": ("conv3d(x, k, data_format='channels_first')", {"x": (1, 2, 3, 3, 3), "k": (2, 2, 2, 2, 1)}),
    "conv2d_transpose": ("conv2d_transpose(x, k, (None, 6, 4, 2), strides=(2, 2), padding='same')",
                         {"x": (1, 3, 2, 3), "k": (3, 3, 2, 3)}),
    "depthwise_conv2d": ("depthwise_conv2d(x, k, padding='same')", {"x": (1, 4, 4, 2), "k": (2, 2, 2, 2)}),
    "separable_conv1d": ("separable_conv1d(x, d, p)", {"x": (1, 5, 2), "d": (2, 2, 1), "p": (1, 2, 2)}),
    "separable_conv2d": ("separable_conv2d(x, d, p, strides=(2, 2), padding='same')",
                         {"x": (1, 4, 4, 2), "d": (2, 2, 2, 2), "p": (1, 1, 4, 3)}),
    "local_conv": ("local_conv(x, k, (2,), (1,), (3,))", {"x": (2, 4, 2), "k": (3, 4, 2)}),
    "local_conv1d": ("local_conv1d(x, k, (2,), (2,))", {"x": (2, 5, 2), "k": (2, 4, 2)}),
    "local_conv2d": ("local_conv2d(x, k, (2, 2), (1, 1), (2, 2), data_format='channels_first')",
                     {"x": (1, 2, 3, 3), "k": (4, 8, 2)}),
    "pool2d_max": ("pool2d(x, (2, 2), strides=(2, 2), padding='same')", {"x": (1, 5, 5, 2)}),
    "pool2d_avg": ("pool2d(x, (3, 3), strides=(2, 2), padding='same', pool_mode='avg')", {"x": (1, 5, 5, 2)}),
    "pool3d": ("pool3d(x, (2, 2, 2), pool_mode='avg')", {"x": (1, 3, 3, 3, 1)}),
    "temporal_padding": ("temporal_padding(x, (1, 2))", {"x": (1, 3, 2)}),
    "spatial_2d_padding": ("spatial_2d_padding(x)", {"x": (1, 2, 2, 1)}),
    "spatial_3d_padding": ("spatial_3d_padding(x, ((0, 1), (1, 0), (1, 1)))", {"x": (1, 2, 1, 2, 1)}),
    "resize_nearest": ("resize_images(x, 2, 3, 'channels_last')", {"x": (1, 2, 2, 1)}),
    "resize_bilinear": ("resize_images(x, 2, 2, 'channels_last', interpolation='bilinear')",
                        {"x": (1, 3, 2, 2)}),
    "resize_volumes": ("resize_volumes(x, 2, 1, 2, 'channels_last')", {"x": (1, 2, 2, 2, 1)}),
}


def program(call, shapes):
    decls = "\n".join(f"placeholder {n}: float64[{', '.join(map(str, s))}]" for n, s in shapes.items())
    return kgraph.compile(f"{decls}\noutput {call} as y")


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_grads(name):
    call, shapes = CASES[name]
    f = program(call, shapes).as_jax_function()
    rng = np.random.default_rng(0)
    values = tuple(rng.uniform(-1, 1, size=s) for s in shapes.values())
    with jax.enable_x64(True):
        out_shape = f({}, **dict(zip(shapes, values)))["y"].shape
        # A fixed random projection of the output, so that every output element counts.
        weights = jnp.asarray(np.random.default_rng(1).uniform(0.5, 1.5, size=out_shape))
        loss = jax.jit(lambda *args: jnp.sum(f({}, **dict(zip(shapes, args)))["y"] * weights))
        # Second order for conv2d (a convolution's gradient is a convolution too).
        order = 2 if name == "conv2d" else 1
        check_grads(loss, tuple(map(jnp.asarray, values)), order=order, modes=("fwd", "rev"),
                    atol=1e-5, rtol=1e-5)


CNN = """
placeholder x: float64[None, 6, 6, 1]
placeholder y: float64[None, 3]
variable k1: float64 = random_normal_variable((3, 3, 1, 2), 0.0, 0.5, seed=1)
variable k2: float64 = random_normal_variable((2, 2, 2, 3), 0.0, 0.5, seed=2)
variable W: float64 = random_normal_variable((3, 3), 0.0, 0.5, seed=3)
h = pool2d(relu(conv2d(x, k1, padding='same')), (2, 2), strides=(2, 2))
h = pool2d(relu(conv2d(h, k2)), (2, 2), pool_mode='avg')
logits = dot(batch_flatten(h), W)
loss = mean(categorical_crossentropy(y, softmax(logits)))
g1, g2, gW = gradients(loss, [k1, k2, W])
output loss, g1, g2, gW
"""


@pytest.mark.slow
def test_gradients_through_a_small_cnn():
    prog = kgraph.compile(CNN)
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(4, 6, 6, 1))
    y = np.eye(3)[[0, 1, 2, 1]]
    f = prog.as_jax_function()
    names = ["k1", "k2", "W"]
    with jax.enable_x64(True):
        @jax.jit
        def loss(*params):
            return f(dict(zip(names, params)), x=x, y=y)["loss"]

        params = tuple(jnp.asarray(prog.variables[n]) for n in names)
        check_grads(loss, params, order=1, modes=("rev",), atol=1e-5, rtol=1e-5)
        expected = jax.grad(loss, argnums=(0, 1, 2))(*params)
    out = prog.run(x=x, y=y)
    for got, want in zip((out["g1"], out["g2"], out["gW"]), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
