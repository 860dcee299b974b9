"""SimpleRNN, LSTM, GRU and Bidirectional: a small step `def` per layer and one `rnn` call.

The step functions are tf_keras's cells (LSTM gates in the order i, f, c, o; GRU's z, r, h,
with `reset_after` as saved). `rnn` is K.rnn, so masks from `Embedding(mask_zero=True)`,
`go_backwards` and the last output under a mask behave as in Keras; a Bidirectional layer
runs its backward copy with `go_backwards` flipped, reverses its sequence back, and merges.
"""
from __future__ import annotations

from .activations import activation
from .layers_core import need, one, weights
from .model import Layer
from .writer import Tensor, Writer

REFUSED = {"stateful": False, "return_state": False, "time_major": False, "unroll": False,
           "dropout": 0.0, "recurrent_dropout": 0.0}
GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


def _check(layer: Layer) -> None:
    for key, fine in REFUSED.items():
        value = layer.get(key, fine)
        if value != fine:
            raise layer.refuse(f"{key}={value!r} is not translated")
    layer.get("implementation")  # 1 or 2: the same values, computed in a different order
    layer.get("unit_forget_bias")  # an initializer's choice


def _step_def(w: Writer, layer: Layer, v: dict, units: int) -> str:
    """The cell as a `def NAME_step(x_t, states)`, written into the program once."""
    name = w.fresh(f"{layer.name}_step")
    act = lambda e: activation(w, layer, e)  # noqa: E731
    rec = lambda e: activation(w, layer, e, "recurrent_activation")  # noqa: E731
    k, rk, b = v["kernel"], v["recurrent_kernel"], v.get("bias")
    u = units
    bias = f" + {b}" if b else ""
    if layer.cls == "SimpleRNN":
        body = [f"h2 = {act(f'dot(x_t, {k}){bias} + dot(states[0], {rk})')}",
                "return h2, [h2]"]
    elif layer.cls == "LSTM":
        body = ["h, c = states",
                f"z = dot(x_t, {k}) + dot(h, {rk}){bias}",
                f"c2 = {rec(f'z[:, {u}:{2 * u}]')} * c + {rec(f'z[:, :{u}]')} * {act(f'z[:, {2 * u}:{3 * u}]')}",
                f"h2 = {rec(f'z[:, {3 * u}:]')} * {act('c2')}",
                "return h2, [h2, c2]"]
    elif layer.get("reset_after", True):
        xb, hb = (f" + {b}[0]", f" + {b}[1]") if b else ("", "")
        body = ["h = states[0]",
                f"xz = dot(x_t, {k}){xb}",
                f"hz = dot(h, {rk}){hb}",
                f"z = {rec(f'xz[:, :{u}] + hz[:, :{u}]')}",
                f"r = {rec(f'xz[:, {u}:{2 * u}] + hz[:, {u}:{2 * u}]')}",
                f"hh = {act(f'xz[:, {2 * u}:] + r * hz[:, {2 * u}:]')}",
                "h2 = z * h + (1 - z) * hh",
                "return h2, [h2]"]
    else:
        body = ["h = states[0]",
                f"xz = dot(x_t, {k}){bias}",
                f"z = {rec(f'xz[:, :{u}] + dot(h, {rk}[:, :{u}])')}",
                f"r = {rec(f'xz[:, {u}:{2 * u}] + dot(h, {rk}[:, {u}:{2 * u}])')}",
                f"hh = {act(f'xz[:, {2 * u}:] + dot(r * h, {rk}[:, {2 * u}:])')}",
                "h2 = z * h + (1 - z) * hh",
                "return h2, [h2]"]
    w.body.append(f"def {name}(x_t, states):")
    w.body.extend("    " + line for line in body)
    return name


def _roles(layer: Layer, x: Tensor, units: int) -> tuple[list[str], list[tuple]]:
    gates = GATES[layer.cls]
    roles = ["kernel", "recurrent_kernel"]
    shapes = [(x.shape[-1], gates * units), (units, gates * units)]
    if layer.get("use_bias", True):
        roles.append("bias")
        two_rows = layer.cls == "GRU" and layer.get("reset_after", True)
        shapes.append((2, gates * units) if two_rows else (gates * units,))
    return roles, shapes


def _run(w: Writer, layer: Layer, x: Tensor, v: dict, out_name: str, go_backwards: bool,
         zero_output_for_mask: bool = False) -> Tensor:
    """One rnn() over `x` with the layer's cell: its sequence or its last output."""
    units = int(layer.get("units"))
    step = _step_def(w, layer, v, units)
    states = ["h0", "c0"] if layer.cls == "LSTM" else ["h0"]
    initial = []
    for s in states:
        initial.append(w.let(f"{out_name}_{s}", f"zeros_like({x.name}[:, 0, :1]) + zeros((1, {units}))"))
    args = ""
    if go_backwards:
        args += ", go_backwards=True"
    if x.mask:
        args += f", mask={x.mask}"
        if zero_output_for_mask:
            args += ", zero_output_for_mask=True"
    sequences = bool(layer.get("return_sequences", False))
    names = [f"{out_name}_last", f"{out_name}_sequence", f"{out_name}_states"]
    last, seq, _ = w.let_many(names, f"rnn({step}, {x.name}, [{', '.join(initial)}]{args})")
    shape = (x.shape[0], x.shape[1], units) if sequences else (x.shape[0], units)
    return Tensor(seq if sequences else last, shape, mask=x.mask if sequences else None)


def recurrent(w, layer, xs):
    x = one(layer, xs)
    need(layer, "rnn")
    _check(layer)
    units = int(layer.get("units"))
    roles, shapes = _roles(layer, x, units)
    v = weights(w, layer, roles, shapes)
    out = _run(w, layer, x, v, layer.name, bool(layer.get("go_backwards", False)),
               bool(layer.get("zero_output_for_mask", False)))
    return [Tensor(w.let(layer.name, out.name), out.shape, mask=out.mask)]


def _inner(outer: Layer, config: dict, role: str) -> Layer:
    if not isinstance(config, dict) or config.get("class_name") not in GATES:
        cls = config.get("class_name") if isinstance(config, dict) else config
        raise outer.refuse(f"its {role} is a {cls}: kgraph translates Bidirectional SimpleRNN, LSTM and GRU")
    return Layer(f"{outer.name}_{role}", config["class_name"], config["config"], [], outer.place)


def bidirectional(w, layer, xs):
    x = one(layer, xs)
    need(layer, "rnn", "reverse")
    forward = _inner(layer, layer.get("layer"), "forward")
    backward_config = layer.get("backward_layer")
    backward = _inner(layer, backward_config, "backward") if backward_config else \
        Layer(f"{layer.name}_backward", forward.cls, dict(forward.config, go_backwards=not forward.config.get(
            "go_backwards", False)), [], layer.place)
    merge = layer.get("merge_mode", "concat")
    if merge not in ("concat", "sum", "ave", "mul"):
        raise layer.refuse(f"merge_mode={merge!r} is not translated")
    units = int(forward.config.get("units"))
    roles, shapes = _roles(forward, x, units)
    if backward.cls != forward.cls or int(backward.get("units")) != units or _roles(backward, x, units) != (roles, shapes):
        raise layer.refuse("its backward layer differs from its forward layer in class, units or weights")
    both = [f"forward_{r}" for r in roles] + [f"backward_{r}" for r in roles]
    v = weights(w, layer, both, shapes + shapes)
    outs = []
    for inner, side in ((forward, "forward"), (backward, "backward")):
        _check(inner)
        mine = {r: v[f"{side}_{r}"] for r in roles}
        sequences = bool(inner.get("return_sequences", False))
        outs.append(_run(w, inner, x, mine, f"{layer.name}_{side}", bool(inner.get("go_backwards", False)),
                         zero_output_for_mask=sequences))
        inner.get("zero_output_for_mask")  # Bidirectional sets it to return_sequences, as here
        if inner.get("dtype", "float32") != "float32" or inner.unread():
            raise layer.refuse(f"its {side} layer has arguments kgraph does not translate: "
                               f"{', '.join(inner.unread()) or 'dtype ' + repr(inner.config['dtype'])}")
    y, y_rev = outs
    rev = f"reverse({y_rev.name}, 1)" if len(y.shape) == 3 else y_rev.name
    expr = {"concat": f"concatenate([{y.name}, {rev}])", "sum": f"{y.name} + {rev}",
            "ave": f"({y.name} + {rev}) / 2", "mul": f"{y.name} * {rev}"}[merge]
    shape = y.shape[:-1] + (2 * units if merge == "concat" else units,)
    return [Tensor(w.let(layer.name, expr), shape, mask=y.mask)]


TRANSLATORS = {"SimpleRNN": recurrent, "LSTM": recurrent, "GRU": recurrent, "Bidirectional": bidirectional}
