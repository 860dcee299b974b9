"""Limits on what an input may ask of kgraph: depth, digits, elements, bytes.

A stranger's `.kg` file, feed, state file or `.kgx` must not take the process down:
every quantity an input controls and that costs time or memory in proportion to its
size is checked against one of these limits *before* the work is done (a folded
integer's digits before the power is computed, a shape's element count before XLA is
asked, a `.npy` header's claimed bytes before its data is read).

Each limit has a default, a command-line option and a `Limits` field:

    kgraph.compile(text, limits=kgraph.Limits(max_elements=10**10))
    kgraph run model.kg --max-elements 10000000000

Errors name the limit, the value that passed it and the option that raises it.
The limits in force are a context variable: `compile`/`load` use the `limits=` they
are given, else the ones the command line (or an enclosing `using(...)`) set.
"""
from __future__ import annotations

import argparse
import contextlib
import contextvars
import math
import re
from dataclasses import dataclass, fields, replace

import numpy as np

from .errors import KGraphError, Span


@dataclass(frozen=True)
class Limits:
    max_depth: int = 2_000           # nesting of brackets and calls in a program
    max_call_depth: int = 2_000      # functions calling functions (a def's body calling the next)
    max_int_digits: int = 4300       # decimal digits of an integer literal or a folded integer
    max_elements: int = 2**30        # elements of any compile-time shape, constant or literal
    max_file_bytes: int = 2**33      # bytes a program, feed, state file or export may claim

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LimitError(f"limit {f.name} must be a positive integer, got {value!r}")


DEFAULT = Limits()

# name -> (command-line option, what it bounds)
OPTIONS = {
    "max_depth": ("--max-depth", "nesting depth of brackets and calls in a program"),
    "max_call_depth": ("--max-call-depth", "functions calling functions: the depth of the "
                                           "calls the builder inlines"),
    "max_int_digits": ("--max-int-digits", "decimal digits of an integer literal or folded integer"),
    "max_elements": ("--max-elements", "elements of any compile-time shape, constant or literal "
                                       "(checked before XLA is asked)"),
    "max_file_bytes": ("--max-file-bytes", "bytes a program, feed, state file or export may "
                                           "claim (checked from the header before reading)"),
}


class LimitError(KGraphError, ValueError):
    """An input asks for more than a limit allows (see kgraph/limits.py)."""


_current: contextvars.ContextVar[Limits] = contextvars.ContextVar("kgraph_limits", default=DEFAULT)


def current() -> Limits:
    return _current.get()


@contextlib.contextmanager
def using(limits: Limits | None):
    """Make `limits` the ones in force inside the block (None: keep the current ones)."""
    if limits is None:
        yield current()
        return
    if not isinstance(limits, Limits):
        raise LimitError(f"limits must be a kgraph.Limits, got {type(limits).__name__}")
    token = _current.set(limits)
    try:
        yield limits
    finally:
        _current.reset(token)


def exceeded(name: str, value: int, what: str, span: Span | None = None) -> LimitError:
    limit = getattr(current(), name)
    option = OPTIONS[name][0]
    shown = f"{value:,}" if value < 10**30 else f"about 10^{int(math.log10(value))}"
    return LimitError(f"{what} is {shown}, over the limit {name} = {limit:,} (raise it with "
                      f"{option} N, or kgraph.compile(..., limits=kgraph.Limits({name}=N)))", span)


def check(name: str, value: int, what: str, span: Span | None = None) -> None:
    """Raise a LimitError naming the limit and its option when `value` is over it."""
    if value > getattr(current(), name):
        raise exceeded(name, value, what, span)


# NumPy and XLA allow this many axes, so a literal list or a JSON document nested deeper
# cannot be an array (and Python's json would recurse past its own limit first).
MAX_AXES = 64


def check_json_depth(text: str, what: str) -> None:
    """A JSON text nested within max_depth and within the 64 axes an array may have."""
    depth = nesting_depth(text)[0]
    check("max_depth", depth, what)
    if depth > MAX_AXES:
        raise LimitError(f"{what} is {depth:,}, over the {MAX_AXES} axes an array may have "
                         f"(NumPy's and XLA's limit)")


def list_depth(value) -> int:
    """The nesting depth of a literal list, without recursion (0 for a scalar)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (list, tuple)):
            deepest = max(deepest, depth + 1)
            stack.extend((x, depth + 1) for x in v)
    return deepest


def elements(shape) -> int:
    """The element count of a shape's static dimensions (None and named ones count as 1)."""
    n = 1
    for d in shape:
        if isinstance(d, int):
            n *= d
    return n


def int_digits(value: int) -> int:
    """Decimal digits of an integer, without converting it to text (Python caps that)."""
    if value == 0:
        return 1
    return int(abs(value).bit_length() * math.log10(2)) + 1


def power_digits(base, exponent) -> int:
    """An upper bound on the digits of `base ** exponent` for integers, before computing it."""
    if not isinstance(base, int) or not isinstance(exponent, int) or exponent <= 0 or abs(base) <= 1:
        return 1
    return int(exponent * math.log10(abs(base))) + 1


_SKIPPED = {None: re.compile(r'"(?:\\.|[^"\\\n])*"'), "#": re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*')}


def nesting_depth(text: str, comment: str | None = None, past: int = 0) -> tuple[int, int]:
    """The deepest nesting of brackets in a program or JSON text, and the index of the
    first bracket deeper than `past`, without parsing (strings in double quotes, and
    comments from `comment` to the end of a line, are skipped). Vectorised: a megabyte
    of source takes milliseconds."""
    if not text:
        return 0, 0
    blanked = _SKIPPED[comment].sub(lambda m: " " * len(m.group()), text)
    codes = np.frombuffer(blanked.encode("utf-32-le"), dtype=np.uint32)
    steps = np.zeros(codes.shape, dtype=np.int32)
    for opening, closing in zip(_OPEN, _CLOSE):
        steps += codes == opening
        steps -= codes == closing
    depth = np.cumsum(steps)
    deepest = int(depth.max())
    beyond = np.flatnonzero(depth > past)
    return deepest, int(beyond[0]) if beyond.size else 0


_OPEN = np.array([ord(c) for c in "([{"], dtype=np.uint32)
_CLOSE = np.array([ord(c) for c in ")]}"], dtype=np.uint32)


# ---- the command line ---------------------------------------------------------------

def add_options(parser) -> None:
    group = parser.add_argument_group("limits (what an input may ask; see docs/errors.md)")
    for name, (option, what) in OPTIONS.items():
        group.add_argument(option, dest=name, type=positive_int, default=None, metavar="N",
                           help=f"{what} (default {getattr(DEFAULT, name):,})")


def from_args(args) -> Limits:
    given = {name: getattr(args, name) for name in OPTIONS if getattr(args, name, None) is not None}
    return replace(DEFAULT, **given)


def positive_int(text: str) -> int:
    """argparse's type for a count option: a positive integer (underscores allowed, 10_000)."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value
