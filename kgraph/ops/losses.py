"""More losses and metrics: in_top_k, the focal crossentropies, CTC loss and decoding.

The focal crossentropies read a sigmoid's or softmax's logits as the other
crossentropies do (nn.py: each loss's `reads_logits`, settled when it is built).
`ctc_batch_cost` is optax.ctc_loss on
log(y_pred + epsilon), as tf_keras feeds TF's ctc_loss; the blank is the last
class. `ctc_decode` is one packed IR node (decoded labels and each path's log
probability, `(batch, top_paths, time + 1)`) that the front end slices into
tf_keras's `decoded, log_prob`: greedy decoding in JAX, and the beam search, which
has no JAX form, as a host callback running the prefix beam search TF runs
(`merge_repeated=True`: repeated labels in a beam's output are merged).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ArgumentError
from ..types import TensorType, is_float, is_int
from .nn import EPSILON, _binary_crossentropy_type, _crossentropy_type, _loss, _lower_binary_crossentropy
from .registry import Op, OpError


# ---- focal crossentropies (tf_keras 2.x formulas) -------------------------------------------

def _lower_binary_focal(target, output, *, apply_class_balancing, alpha, gamma, from_logits):
    target = target.astype(output.dtype)
    sigmoidal = jax.nn.sigmoid(output) if from_logits else output
    p_t = target * sigmoidal + (1 - target) * (1 - sigmoidal)
    focal = jnp.power(1 - p_t, jnp.asarray(gamma, output.dtype))
    loss = focal * _lower_binary_crossentropy(target, output, from_logits=from_logits)
    if apply_class_balancing:
        loss = (target * alpha + (1 - target) * (1 - alpha)) * loss
    return loss


def _lower_categorical_focal(target, output, *, alpha, gamma, from_logits, axis):
    if from_logits:
        output = jax.nn.softmax(output, axis=axis)
    output = output / jnp.sum(output, axis=axis, keepdims=True)
    eps = jnp.asarray(EPSILON, output.dtype)
    output = jnp.clip(output, eps, 1 - eps)
    cce = -target.astype(output.dtype) * jnp.log(output)
    weight = jnp.power(1 - output, jnp.asarray(gamma, output.dtype)) * jnp.asarray(alpha, output.dtype)
    return jnp.sum(weight * cce, axis=axis)


# ---- in_top_k ------------------------------------------------------------------------------

def _in_top_k_type(types, attrs):
    predictions, targets = types
    if predictions.ndim != 2 or not is_float(predictions.dtype):
        raise OpError("predictions must be a 2-d float tensor (batch, classes): {0}")
    if targets.ndim != 1 or not is_int(targets.dtype):
        raise OpError("targets must be a 1-d integer tensor of class indices: {1}")
    k = attrs["k"]
    if not isinstance(k, int) or isinstance(k, bool):
        raise OpError(f"k must be an int, got {k!r}", kind="argument")
    return TensorType("bool", predictions.shape[:1])


def _lower_in_top_k(predictions, targets, *, k):
    """tf.math.in_top_k: classes tied with the target at the boundary all count as in the top k;
    a target out of range or with a non-finite prediction is not."""
    n = predictions.shape[1]
    valid = (targets >= 0) & (targets < n)
    picked = jnp.take_along_axis(predictions, jnp.where(valid, targets, 0)[:, None].astype(jnp.int32),
                                 axis=1)
    above = jnp.sum(predictions > picked, axis=1)
    return valid & jnp.isfinite(picked[:, 0]) & (above < k)


# ---- CTC -----------------------------------------------------------------------------------

def _ctc_cost_type(types, attrs):
    y_true, y_pred, input_length, label_length = types
    if y_pred.ndim != 3 or not is_float(y_pred.dtype):
        raise OpError("y_pred must be a float tensor (samples, time_steps, num_categories): {1}")
    if y_true.ndim != 2:
        raise OpError("y_true must be (samples, max_string_length): {0}")
    for i, t in ((2, input_length), (3, label_length)):
        if t.ndim not in (1, 2) or (t.ndim == 2 and t.shape[1] not in (1, None)):
            raise OpError("the lengths must be (samples, 1): {%d}" % i)
    return TensorType(y_pred.dtype, (y_pred.shape[0], 1))


def _lower_ctc_batch_cost(y_true, y_pred, input_length, label_length):
    import optax

    steps, classes = y_pred.shape[1], y_pred.shape[2]
    logits = jnp.log(y_pred + jnp.asarray(EPSILON, y_pred.dtype))
    inputs = input_length.reshape(-1).astype(jnp.int32)
    labels = label_length.reshape(-1).astype(jnp.int32)
    logit_paddings = (jnp.arange(steps)[None, :] >= inputs[:, None]).astype(y_pred.dtype)
    label_paddings = (jnp.arange(y_true.shape[1])[None, :] >= labels[:, None]).astype(y_pred.dtype)
    loss = optax.ctc_loss(logits, logit_paddings, y_true.astype(jnp.int32), label_paddings,
                          blank_id=classes - 1)
    return loss[:, None].astype(y_pred.dtype)


def _decode_type(types, attrs):
    y_pred, input_length = types
    if y_pred.ndim != 3 or not is_float(y_pred.dtype):
        raise OpError("y_pred must be a float tensor (samples, time_steps, num_categories): {0}")
    if input_length.ndim not in (1, 2):
        raise OpError("input_length must be (samples,): {1}")
    paths = attrs.get("top_paths", 1)
    for name in ("beam_width", "top_paths"):
        v = attrs.get(name, 1)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise OpError(f"{name} must be a positive int, got {v!r}", kind="argument")
    if paths > attrs.get("beam_width", 1):
        raise OpError(f"top_paths ({paths}) cannot exceed beam_width ({attrs['beam_width']})",
                      kind="argument")
    steps = y_pred.shape[1]
    return TensorType(y_pred.dtype, (y_pred.shape[0], paths, steps + 1 if isinstance(steps, int) else None))


def _lower_greedy(y_pred, input_length):
    """tf.nn.ctc_greedy_decoder: the best class at each step, repeats merged, blanks removed;
    its log_prob is tf's: minus the sum of the best log probabilities."""
    batch, steps, classes = y_pred.shape
    logp = jnp.log(y_pred + jnp.asarray(EPSILON, y_pred.dtype))
    best = jnp.argmax(logp, axis=-1).astype(jnp.int32)
    valid = jnp.arange(steps)[None, :] < input_length.reshape(-1)[:, None]
    prev = jnp.concatenate([jnp.full((batch, 1), -1, jnp.int32), best[:, :-1]], axis=1)
    emit = valid & (best != classes - 1) & (best != prev)
    where = jnp.where(emit, jnp.cumsum(emit, axis=1) - 1, steps)
    rows = jnp.broadcast_to(jnp.arange(batch)[:, None], (batch, steps))
    decoded = jnp.full((batch, steps), -1, jnp.int32).at[rows, where].set(best, mode="drop")
    log_prob = -jnp.sum(jnp.where(valid, jnp.max(logp, axis=-1), 0), axis=1)
    packed = jnp.concatenate([decoded.astype(y_pred.dtype), log_prob[:, None].astype(y_pred.dtype)], 1)
    return packed[:, None, :]


def _logaddexp(a: float, b: float) -> float:
    return float(np.logaddexp(a, b))


def prefix_beam_search(logp: np.ndarray, length: int, beam_width: int, top_paths: int):
    """TF's CTC beam search on log probabilities (time, classes), blank last: the best
    `top_paths` label sequences (repeats merged) and their log probabilities."""
    blank = logp.shape[1] - 1
    beams = {(): (0.0, -np.inf)}  # prefix -> (log p of paths ending in blank, ending in its label)
    for t in range(length):
        row, grown = logp[t], {}

        def add(prefix, pb, pl):
            ob, ol = grown.get(prefix, (-np.inf, -np.inf))
            grown[prefix] = (_logaddexp(ob, pb), _logaddexp(ol, pl))

        for prefix, (pb, pl) in beams.items():
            total = _logaddexp(pb, pl)
            add(prefix, total + row[blank], -np.inf)
            if prefix:
                add(prefix, -np.inf, pl + row[prefix[-1]])
            for c in range(blank):
                add(prefix + (c,), -np.inf, (pb if prefix and prefix[-1] == c else total) + row[c])
        beams = dict(sorted(grown.items(), key=lambda kv: -_logaddexp(*kv[1]))[:beam_width])
    ranked = sorted(beams.items(), key=lambda kv: -_logaddexp(*kv[1]))[:top_paths]
    merged = [[c for i, c in enumerate(p) if i == 0 or p[i - 1] != c] for p, _ in ranked]
    return merged, [_logaddexp(*s) for _, s in ranked]


def _host_beam_search(y_pred, input_length, beam_width, top_paths):
    batch, steps, _ = y_pred.shape
    logp = np.log(np.asarray(y_pred, np.float64) + EPSILON)
    packed = np.full((batch, top_paths, steps + 1), -1.0)
    for b in range(batch):
        length = min(max(int(input_length[b]), 0), steps)  # the greedy decoder's `t < length`
        paths, scores = prefix_beam_search(logp[b], length, beam_width, top_paths)
        for i, (path, score) in enumerate(zip(paths, scores)):
            packed[b, i, :len(path)] = path
            packed[b, i, steps] = score
        packed[b, len(paths):, steps] = -np.inf
    return packed.astype(y_pred.dtype)


def _lower_beam(y_pred, input_length, *, beam_width, top_paths):
    batch, steps, _ = y_pred.shape
    result = jax.ShapeDtypeStruct((batch, top_paths, steps + 1), y_pred.dtype)
    return jax.pure_callback(lambda p, n: _host_beam_search(p, n, beam_width, top_paths), result,
                             y_pred, input_length.reshape(-1).astype(jnp.int32))


def _check_lengths(y_pred, input_length, site) -> None:
    """A length past the time steps is an error where it is known (tf's decoders raise);
    at run time both decoders read it as the whole sequence."""
    shape = getattr(y_pred, "shape", ())
    steps = shape[1] if len(shape) == 3 else None  # another rank is the shape rule's to report
    if getattr(input_length, "op", None) == "const" and isinstance(steps, int):
        lengths = input_length.attr("value").array
        if lengths.size and lengths.max() > steps:
            raise ArgumentError(f"ctc_decode: input_length {lengths.max()} is past the {steps} time "
                                f"steps of y_pred", site.arg_span("input_length"))


def _build_ctc_decode(builder, site, args):
    y_pred, input_length = args["y_pred"], args["input_length"]
    if not isinstance(args["greedy"], bool):
        raise ArgumentError(f"ctc_decode: greedy must be True or False, got {args['greedy']!r}",
                            site.arg_span("greedy"))
    _check_lengths(y_pred, input_length, site)
    if args["greedy"]:
        packed = builder.make_node("ctc_greedy_decode", {"y_pred": y_pred, "input_length": input_length}, site)
        paths = 1
    else:
        packed = builder.make_node("ctc_beam_search", {"y_pred": y_pred, "input_length": input_length,
                                                       "beam_width": args["beam_width"],
                                                       "top_paths": args["top_paths"]}, site)
        paths = args["top_paths"]
    decoded = [builder.make_node("ctc_path", {"packed": packed, "path": i}, site) for i in range(paths)]
    return [decoded, builder.make_node("ctc_log_prob", {"packed": packed}, site)]


def _path_type(types, attrs):
    (packed,) = types
    steps = packed.shape[2] - 1 if isinstance(packed.shape[2], int) else None
    return TensorType("int64", (packed.shape[0], steps))


def _lower_path(packed, *, path):
    return packed[:, path, :-1].astype("int64")


_CTC = ("y_pred = softmax([[[1.0, 0.1, 0.2], [0.1, 2.0, 0.3], [0.2, 0.1, 3.0]]])\n")

OPS = [
    Op("in_top_k(predictions, targets, k)", infer=_in_top_k_type, lower=_lower_in_top_k,
       tensors=("predictions", "targets"), category="nn",
       doc="Whether each target class is among the k largest predictions of its row (classes tied "
           "at the boundary all count, as tf.math.in_top_k).",
       example="p = [[0.1, 0.5, 0.4], [0.8, 0.1, 0.1]]\noutput in_top_k(p, [2, 1], 1), in_top_k(p, [2, 1], 2)"),
    _loss("binary_focal_crossentropy(target, output, apply_class_balancing=False, alpha=0.25, "
          "gamma=2.0, from_logits=False)", _binary_crossentropy_type, _lower_binary_focal,
          "Binary crossentropy scaled by (1 - p_t) ** gamma (and by alpha for class 1, 1 - alpha for "
          "class 0 with apply_class_balancing), as tf_keras.",
          "output binary_focal_crossentropy([[0.0, 1.0]], [[0.2, 0.9]])", reads_logits="sigmoid"),
    _loss("categorical_focal_crossentropy(target, output, alpha=0.25, gamma=2.0, from_logits=False, "
          "axis=-1)", _crossentropy_type, _lower_categorical_focal,
          "Categorical crossentropy with each class's term scaled by alpha * (1 - p) ** gamma, as "
          "tf_keras.",
          "output categorical_focal_crossentropy([[0.0, 1.0, 0.0]], [[0.1, 0.8, 0.1]])"),
    Op("ctc_batch_cost(y_true, y_pred, input_length, label_length)", infer=_ctc_cost_type,
       lower=_lower_ctc_batch_cost, tensors=("y_true", "y_pred", "input_length", "label_length"),
       category="nn",
       doc="The CTC loss of each sample, (samples, 1), from softmax outputs (samples, time, classes) "
           "whose last class is the blank.",
       example=_CTC + "output ctc_batch_cost([[0]], y_pred, [[3]], [[1]])"),
    Op("ctc_decode(y_pred, input_length, greedy=True, beam_width=100, top_paths=1)", infer=None,
       lower=None, tensors=("y_pred", "input_length"), build=_build_ctc_decode, category="nn",
       doc="Decodes softmax outputs (blank last): `decoded, log_prob`, decoded a list of top_paths "
           "int64 tensors (samples, time) padded with -1, log_prob (samples, top_paths); greedy, or "
           "a beam search of beam_width.",
       example=_CTC + "decoded, log_prob = ctc_decode(y_pred, [3])\n"
                      "beams, scores = ctc_decode(y_pred, [3], greedy=False, beam_width=4, top_paths=2)\n"
                      "output decoded[0], log_prob, beams[1], scores"),
    Op("ctc_greedy_decode(y_pred, input_length)", infer=_decode_type, lower=_lower_greedy,
       tensors=("y_pred", "input_length"), category="internal",
       doc="Greedy CTC decoding, packed (samples, 1, time + 1): labels, then the log probability.",
       example=_CTC + "decoded, log_prob = ctc_decode(y_pred, [3])\noutput log_prob"),
    Op("ctc_beam_search(y_pred, input_length, beam_width, top_paths)", infer=_decode_type,
       lower=_lower_beam, tensors=("y_pred", "input_length"), category="internal", foldable=False,
       doc="CTC beam search (a host callback), packed (samples, top_paths, time + 1).",
       example=_CTC + "d, log_prob = ctc_decode(y_pred, [3], greedy=False)\noutput log_prob"),
    Op("ctc_path(packed, path)", infer=_path_type, lower=_lower_path, tensors=("packed",),
       category="internal", doc="One decoded path of a packed CTC decoding.",
       example=_CTC + "decoded, log_prob = ctc_decode(y_pred, [3])\noutput decoded[0]"),
    Op("ctc_log_prob(packed)", infer=lambda t, a: TensorType(t[0].dtype, t[0].shape[:2]),
       lower=lambda packed: packed[:, :, -1], tensors=("packed",), category="internal",
       doc="The log probabilities of a packed CTC decoding.",
       example=_CTC + "decoded, log_prob = ctc_decode(y_pred, [3])\noutput log_prob"),
]
