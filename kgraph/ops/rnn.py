"""`rnn`: Keras's K.rnn as one loop (LANGUAGE.md §10), with tf_keras's arguments and values.

The step function is traced once into a `scan` body (ops/loops.py). What tf_keras's
`K.rnn` does around it is ordinary nodes: the batch/time transposes, the mask's cast
and reversal under `go_backwards` (inputs are reversed too, and the outputs stay in
processing order), and, inside the body, the masked step: where the mask is off the
step repeats the previous output (zeros with `zero_output_for_mask`) and keeps the
previous states. A rank-1 `input_length` tensor masks as tf_keras does when no mask
is given; an int `input_length` changes nothing (as in tf_keras).
"""
from __future__ import annotations

from ..errors import ArgumentError, KGraphError, ShapeError
from ..loops import expect_like, inline_body, result_span, trace_body
from ..types import TensorType
from ..values import describe
from .loops import _as_list, _node, scan
from .registry import Op

FLAGS = ("go_backwards", "unroll", "time_major", "zero_output_for_mask", "return_all_outputs")
NOTE = "in the step function of this rnn call"


def _swap_batch_time(builder, site, x):
    pattern = (1, 0) + tuple(range(2, x.type.ndim))
    return _node(builder, site, "permute_dimensions", x=x, pattern=pattern)


class _Step:
    """The rnn body's layout: carries [*states, prev_output?, time?], sequences [x_t, mask_t?]."""

    def __init__(self, builder, site, args, states, lengths, mask):
        self.builder, self.site, self.args = builder, site, args
        self.fn = args["step_function"]
        self.states, self.lengths, self.mask = states, lengths, mask
        self.constants = list(args["constants"] or [])
        self.masked = mask is not None or lengths is not None
        self.span = result_span(self.fn, site.span)
        self.out_type: TensorType | None = None  # known after the first trace, where masked
        self.learning = False  # the first trace: states and inputs only, to learn the output's type

    def arrange(self, params):
        n = len(self.states)
        return [params[self.n_carry], list(params[:n]) + self.constants]

    @property
    def n_carry(self) -> int:
        if self.learning:
            return len(self.states)
        return len(self.states) + int(self.masked) + int(self.lengths is not None)

    def collect(self, params, result):
        b, n, span = self.builder, len(self.states), self.span
        if not isinstance(result, (list, tuple)) or len(result) != 2:
            raise KGraphError(f"rnn: the step function must return `output, new_states` (a tensor and a "
                              f"list of {n} states), but it returned {describe(result)}", span)
        out = b.tensor(result[0], span)
        new = _as_list(result[1], n, "rnn: the step function's new_states (one per initial state)", span)
        new = [b.tensor(s, span) for s in new]
        for i, (s, p) in enumerate(zip(new, params)):
            expect_like(s, p.type, f"rnn: the step function's new state {i}", span)
        if self.learning:
            return [*new, out]
        if self.out_type is not None:
            expect_like(out, self.out_type, "rnn: the step function's output", span)
        extra = []
        if self.masked:
            on = self._mask_at(params)
            prev = params[n]
            if self.args["zero_output_for_mask"]:
                prev = _node(b, self.site, "zeros_like", x=out, dtype=None)
            out = self._where(on, out, prev)
            new = [self._where(on, s, old) for s, old in zip(new, params[:n])]
            extra.append(out)
        if self.lengths is not None:
            extra.append(_node(b, self.site, "add", x=params[n + 1], y=b.tensor(1, span, like="int32")))
        return [*new, *extra, out]

    def _mask_at(self, params):
        b, n = self.builder, len(self.states)
        if self.mask is not None:
            return params[self.n_carry + 1]
        t = params[n + 1]
        if self.args["go_backwards"]:
            return _node(b, self.site, "less", x=self.lengths, y=t)  # lengths reversed outside
        return _node(b, self.site, "greater", x=self.lengths, y=t)

    def _where(self, on, then, other):
        if on.type.ndim > then.type.ndim:
            raise ShapeError(f"rnn: the mask at one step is {on.type}, which has more axes than the "
                             f"step's {then.type}", self.site.arg_span("mask"))
        while on.type.ndim < then.type.ndim:  # a step's mask covers the trailing axes
            on = _node(self.builder, self.site, "expand_dims", x=on, axis=-1)
        return _node(self.builder, self.site, "switch", condition=on, then_expression=then,
                     else_expression=other)


def _prepare_mask(builder, site, mask, x, time_major):
    if mask.dtype != "bool":
        mask = _node(builder, site, "cast", x=mask, dtype="bool")
    if mask.type.ndim == 2:
        mask = _node(builder, site, "expand_dims", x=mask, axis=-1)
    if not time_major:
        mask = _swap_batch_time(builder, site, mask)
    leading = TensorType("bool", tuple(x.shape[:2]))
    expect_like(_node(builder, site, "getitem", x=mask, index=(Ellipsis, 0)) if mask.type.ndim > 2 else mask,
                TensorType("bool", leading.shape + tuple(mask.shape[2:-1])) if mask.type.ndim > 2 else leading,
                "rnn: the mask (time-major)", site.arg_span("mask"))
    return mask


def _lengths(builder, site, input_length, go_backwards):
    """A rank-1 input_length masks each sample after its length; an int (or None) does not."""
    if input_length is None or input_length.type.ndim == 0:
        return None
    if input_length.type.ndim != 1:
        raise ShapeError(f"rnn: input_length must be an int or a rank-1 tensor (one length per sample), "
                         f"but {site.label('input_length')} is {input_length.type}",
                         site.arg_span("input_length"))
    lengths = input_length
    if go_backwards:  # tf_keras: max_len - 1 - input_length, compared with `<`
        top = _node(builder, site, "max", x=lengths, axis=0, keepdims=False)
        one = builder.tensor(1, site.span, like=lengths.dtype)
        lengths = _node(builder, site, "subtract", x=_node(builder, site, "subtract", x=top, y=one), y=lengths)
    return _node(builder, site, "cast", x=lengths, dtype="int32")


def _build_rnn(builder, site, args):
    for flag in FLAGS:
        if not isinstance(args[flag], bool):
            raise ArgumentError(f"rnn(): '{flag}' must be True or False, got {args[flag]!r}",
                                site.arg_span(flag))
    x, states = args["inputs"], list(args["initial_states"])
    if x.type.ndim < 3:
        raise ShapeError(f"rnn: inputs must have at least 3 axes (samples, time, ...), but "
                         f"{site.label('inputs')} is {x.type}", site.arg_span("inputs"))
    time_major = args["time_major"]
    if not time_major:
        x = _swap_batch_time(builder, site, x)
    steps = x.shape[0]
    if args["unroll"] and not isinstance(steps, int):
        raise ArgumentError(f"rnn: unroll=True needs a fixed number of time steps, but the time axis of "
                            f"{site.label('inputs')} is {steps}", site.arg_span("unroll"))
    mask = args["mask"]
    if mask is not None:
        mask = _prepare_mask(builder, site, mask, x, time_major)
    lengths = _lengths(builder, site, args["input_length"], args["go_backwards"]) if mask is None else None
    seqs = [x] + ([mask] if mask is not None else [])
    if args["go_backwards"]:
        seqs = [_node(builder, site, "reverse", x=s, axes=0) for s in seqs]
    step = _Step(builder, site, args, states, lengths, mask)
    carries = list(states)
    if step.masked:  # the first trace finds the output's type, for the previous-output carry
        x_t = TensorType(x.dtype, x.shape[1:])
        types = [s.type for s in states] + [x_t]
        step.learning = True
        body, captured = trace_body(builder, step.fn, types, step.arrange, step.collect, site.span, NOTE)
        step.out_type, step.learning = body.results[-1].type, False
        # tf_keras: zeros like the output at time zero (XLA drops the step itself: only its shape is used)
        first = _node(builder, site, "getitem", x=seqs[0], index=(0,))
        output_zero = inline_body(builder.graph, body, [*states, first, *captured])[-1]
        carries.append(_node(builder, site, "zeros_like", x=output_zero, dtype=None))
        if lengths is not None:
            carries.append(builder.tensor(0, site.span, like="int32"))
    results = scan(builder, site, step.fn, carries, seqs, step.arrange, step.collect, NOTE,
                   unroll=args["unroll"])
    outputs = results[-1]
    last = _node(builder, site, "getitem", x=outputs, index=(-1,))
    if not args["return_all_outputs"]:
        outputs = _node(builder, site, "expand_dims", x=last, axis=0)
    if not time_major:
        outputs = _swap_batch_time(builder, site, outputs)
    return last, outputs, results[:len(states)]


OPS = [
    Op("rnn(step_function, inputs, initial_states, go_backwards=False, mask=None, constants=None, "
       "unroll=False, input_length=None, time_major=False, zero_output_for_mask=False, "
       "return_all_outputs=True)", infer=None, lower=None, tensors=("inputs", "mask", "input_length"),
       tensor_lists=("initial_states", "constants"), functions=("step_function",), build=_build_rnn,
       category="loops",
       doc="Iterates step_function(inputs_t, states) -> (output, new_states) over the time axis; "
           "returns last_output, outputs, new_states (one loop, compiled once).",
       example="x = [[[1.0], [2.0], [3.0]]]\nh0 = zeros((1, 1))\n"
               "last, outs, states = rnn(lambda x_t, s: (x_t + s[0], [x_t + s[0]]), x, [h0])\n"
               "output last, outs"),
]
