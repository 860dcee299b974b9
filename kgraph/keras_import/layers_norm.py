"""BatchNormalization: the moving statistics at inference, the batch's in a training step.

A plain run (learning phase 0, what `model.predict` does) normalises with the moving mean
and variance; learning phase 1 (`--learning-phase 1`, a training loop's steps) normalises
with the batch's statistics and `update` statements move the moving ones, as Keras's
layer does in `model(x, training=True)`. For a 4-d input normalised on its last axis
tf_keras uses the fused kernel, whose moving variance takes the batch's unbiased variance;
`normalize_batch_in_training` returns exactly that variance for that case.
"""
from __future__ import annotations

from .layers_core import need, one, weights
from .writer import Tensor


def batch_normalization(w, layer, xs):
    x = one(layer, xs)
    need(layer, "normalize_batch_in_training", "batch_normalization", "in_train_phase", "moving_average_update")
    axis = layer.get("axis", -1)
    axes = axis if isinstance(axis, list) else [axis]
    if len(axes) != 1 or axes[0] % x.ndim != x.ndim - 1:
        raise layer.refuse(f"axis={axis!r}: kgraph translates batch normalization over the last axis only")
    for key in ("renorm", "virtual_batch_size", "adjustment"):
        if layer.get(key) not in (None, False):
            raise layer.refuse(f"{key}={layer.config[key]!r} is not translated")
    if layer.get("synchronized", False):
        raise layer.refuse("synchronized=True is not translated")
    momentum, eps = float(layer.get("momentum", 0.99)), float(layer.get("epsilon", 1e-3))
    scale, center = layer.get("scale", True), layer.get("center", True)
    roles = (["gamma"] if scale else []) + (["beta"] if center else []) + ["moving_mean", "moving_variance"]
    v = weights(w, layer, roles, [(x.shape[-1],)] * len(roles))
    gamma, beta = v.get("gamma", "None"), v.get("beta", "None")
    reduce = "[" + ", ".join(str(a) for a in range(x.ndim - 1)) + "]"
    name = layer.name
    normed, mean, var = w.let_many([f"{name}_normed", f"{name}_mean", f"{name}_var"],
                                   f"normalize_batch_in_training({x.name}, {gamma}, {beta}, "
                                   f"{reduce}, "
                                   f"epsilon={eps!r})")
    inference = f"batch_normalization({x.name}, {v['moving_mean']}, {v['moving_variance']}, {beta}, " \
                f"{gamma}, epsilon={eps!r})"
    out = w.let(name, f"in_train_phase({normed}, {inference})")
    for stat, batch in (("moving_mean", mean), ("moving_variance", var)):
        if v[stat] in w.updated:
            raise layer.refuse("it is called more than once: each call would move the same moving "
                               "statistics, which kgraph does not translate")
        w.updated.add(v[stat])
        w.update(v[stat], f"in_train_phase(moving_average_update({v[stat]}, {batch}, {momentum!r}), {v[stat]})")
    return [Tensor(out, x.shape, mask=x.mask)]


TRANSLATORS = {"BatchNormalization": batch_normalization}
