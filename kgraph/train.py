"""The training loop behind `kgraph run --steps/--epochs/--batch-size/--state`.

A program with `update` statements is one training step. The loop feeds it batches
(slices along the first dimension of the placeholders whose first dimension is
`None` or named), keeps the variables on the device between steps (the program's
jitted step donates their buffers) and copies values to the host only to report
them or to save the state. Ctrl-C finishes the step in flight, saves and exits 130.
"""
from __future__ import annotations

import itertools
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import FeedError, KGraphError, StateError
from .limits import positive_int
from .metrics import MetricsLog, default_every, log_format
from .progress import Tee, make_reporter
from .mesh import describe_mesh
from .sharding import check_batches, steps_in_flight

INTERRUPTED = 130
SAVE_INTERVAL_S = 60.0  # without --save-every, a crash loses at most this much training


@dataclass
class Plan:
    """How many steps to run, where and how often to save, how to report (the batches are apart)."""

    steps: int = 1
    state: Path | None = None
    save_every: int | None = None  # steps; None: every SAVE_INTERVAL_S seconds
    log_every: int | None = None  # None: a progress bar; 0: print nothing
    metrics: Path | None = None  # --log: a CSV or JSON-lines file of the scalar outputs
    metrics_every: int | None = None  # steps between rows; None: about ROWS_PER_RUN rows
    per_epoch: int = 1  # steps in an epoch, for the rows' epoch column
    training: bool = True  # the learning phase of the steps (LANGUAGE.md §9; --learning-phase)


@dataclass
class Result:
    steps: int  # steps completed
    seconds: float  # wall time of the steps after the first (which includes compiling)
    outputs: dict[str, Any] = field(default_factory=dict)  # the last step's outputs
    interrupted: bool = False

    @property
    def steps_per_second(self) -> float:
        return (self.steps - 1) / self.seconds if self.steps > 1 and self.seconds > 0 else math.nan


# ---- batches ----------------------------------------------------------------------

class Batches:
    """Feeds cut into batches along the first dimension, epoch after epoch."""

    def __init__(self, program, arrays: dict[str, np.ndarray], batch_size: int | None,
                 shuffle: bool = False, seed: int = 0, drop_remainder: bool = False):
        self.arrays = arrays
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.batched = batched_feeds(program, arrays) if batch_size else []
        lengths = {name: arrays[name].shape[0] for name in self.batched}
        if len(set(lengths.values())) > 1:
            sizes = ", ".join(f"{name} has {n}" for name, n in lengths.items())
            raise FeedError(f"--batch-size: the batched feeds must have the same number of rows ({sizes})")
        self.rows = next(iter(lengths.values()), 0)
        if batch_size and self.rows == 0:
            raise FeedError(f"--batch-size: the batched feeds ({', '.join(self.batched)}) have no rows")
        if drop_remainder and batch_size and self.rows < batch_size:
            raise FeedError(f"--drop-remainder: the batched feeds have {self.rows} rows, fewer than "
                            f"one batch of {batch_size}")
        self.drop_remainder = drop_remainder
        self.per_epoch = ((self.rows // batch_size if drop_remainder else math.ceil(self.rows / batch_size))
                          if batch_size else 1)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        if not self.batch_size:
            return itertools.repeat(self.arrays)
        if not self.shuffle:
            return itertools.cycle(self._epoch(self.arrays))  # the same batches every epoch
        return itertools.chain.from_iterable(self._shuffled_epochs())

    def _shuffled_epochs(self) -> Iterator[list[dict[str, np.ndarray]]]:
        while True:
            order = self.rng.permutation(self.rows)
            yield self._epoch({k: v[order] if k in self.batched else v for k, v in self.arrays.items()})

    def _epoch(self, arrays: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
        """One epoch's batches (views of `arrays`), made at once so that a step only picks one."""
        b = self.batch_size
        return [{k: v[start:start + b] if k in self.batched else v for k, v in arrays.items()}
                for start in range(0, self.rows, b)][:self.per_epoch]

    def sizes(self, steps: int) -> set[int]:
        """The numbers of rows the batches of `steps` steps have (a full batch, the last one's)."""
        if not self.batch_size:
            return set()
        last = self.rows % self.batch_size
        reached = steps >= self.per_epoch and not self.drop_remainder
        return {min(self.batch_size, self.rows)} | ({last} if last and reached else set())


def batched_feeds(program, arrays: dict[str, np.ndarray]) -> list[str]:
    """The fed placeholders whose first dimension is None or named: the ones batches slice."""
    declared = program.placeholders
    batched = [name for name in arrays if declared[name][1] and not isinstance(declared[name][1][0], int)]
    if not batched:
        raise FeedError("--batch-size: no fed placeholder has a batch dimension (a first dimension "
                        "that is None or named, e.g. `placeholder x: float32[None, 64]`)")
    first = {declared[name][1][0] for name in batched} - {None}
    for name, (_, shape) in declared.items():
        for axis, dim in enumerate(shape):
            if dim in first and (axis > 0 or name not in batched):
                raise FeedError(f"--batch-size: the named dimension '{dim}' is the batch dimension, "
                                f"but placeholder '{name}' also uses it at axis {axis}, which "
                                f"batches do not slice")
    return batched


# ---- the loop -----------------------------------------------------------------------

def train(program, batches: "Batches", plan: Plan, out=None) -> Result:
    """Run `plan.steps` steps of `program` on `batches`, saving to `plan.state`; see the module doc."""
    mesh = getattr(program, "mesh", None)
    where = "" if mesh is None else f"on mesh {describe_mesh(mesh, processes=True)}"
    in_flight = steps_in_flight(mesh)
    reporter = make_reporter(plan.log_every, plan.steps, out or sys.stderr, plan.per_epoch, where)
    if plan.metrics is not None:
        every = plan.metrics_every or default_every(plan.steps)
        reporter = Tee(reporter, MetricsLog(plan.metrics, plan.steps, every, plan.per_epoch))
    saves = bool(program.updates) and plan.state is not None
    names, execute, report, training = program.outputs, program.execute, reporter.step, plan.training
    result = Result(0, 0.0)
    with program.running(), _CtrlC() as ctrl_c, reporter:
        batch_iter, step = iter(batches), 0
        while step < plan.steps:
            outs = execute(next(batch_iter), training)
            step += 1
            if step == 1:
                program.wait()  # compiled and run once: time the steps from here
                started = last_save = time.perf_counter()
            elif in_flight and step % in_flight == 0:
                program.wait()
            report(step, started, names, outs)
            if saves and step < plan.steps and _save_due(plan, step, last_save):
                program.save_state(plan.state)
                last_save = time.perf_counter()
            if ctrl_c.hit:
                break
        program.wait()
        result.seconds = time.perf_counter() - started
        result.steps, result.interrupted = step, ctrl_c.hit
        result.outputs = dict(zip(names, outs))
        reporter.done(step, started, names, outs)
    if saves:
        program.save_state(plan.state)
    return result


def _save_due(plan: Plan, step: int, last_save: float) -> bool:
    if plan.save_every is not None:
        return step % plan.save_every == 0
    return time.perf_counter() - last_save >= SAVE_INTERVAL_S


class _CtrlC:
    """The first Ctrl-C asks the loop to stop after the current step; a second one stops now."""

    def __init__(self):
        self.hit = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.hit:
            signal.signal(signal.SIGINT, self._previous)
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


# ---- the command line ----------------------------------------------------------------

def add_arguments(p) -> None:
    """`kgraph run`'s training options."""
    g = p.add_argument_group("training (LANGUAGE.md §8; see docs/training.md)")
    g.add_argument("--state", metavar="FILE.npz",
                   help="load the variables from FILE.npz if it exists; save them there after the run")
    n = g.add_mutually_exclusive_group()
    n.add_argument("--steps", type=positive_int, metavar="N", help="run the program N times")
    n.add_argument("--epochs", type=positive_int, metavar="E",
                   help="run E passes over the feeds (with --batch-size; else E steps)")
    g.add_argument("--batch-size", type=positive_int, metavar="B",
                   help="feed B rows per step, sliced from the placeholders whose first dimension "
                        "is None or named")
    g.add_argument("--drop-remainder", action="store_true",
                   help="skip the last batch of each epoch when it is short (on a mesh, a batch "
                        "must divide by the data axis; see docs/distributed.md)")
    g.add_argument("--shuffle", action="store_true",
                   help="shuffle the rows at each epoch (the order follows --seed)")
    g.add_argument("--save-every", type=positive_int, metavar="K",
                   help=f"also save the state every K steps (default: every {SAVE_INTERVAL_S:.0f} s)")
    g.add_argument("--log-every", type=positive_int, metavar="K",
                   help="print a plain line every K steps instead of a progress bar (the default "
                        "when the output is not a terminal: about 10 lines in all)")
    g.add_argument("--quiet", action="store_true", help="print nothing but errors")
    g.add_argument("--log", metavar="FILE", help="write the step, epoch, scalar outputs, steps/s "
                   "and time to FILE as training goes: .csv, or .jsonl for JSON lines "
                   "(draw it with `kgraph plot FILE`)")
    g.add_argument("--log-interval", type=positive_int, metavar="K",
                   help="steps between --log rows (default: about 200 rows in all)")


def is_training(args) -> bool:
    return bool(args.steps or args.epochs or args.batch_size)


def prepare(program, args) -> int | None:
    """Check the training flags and read --state (before --trace looks at the variables).

    Returns an exit status when the command line is wrong, else None.
    """
    training = is_training(args) or args.save_every
    for wrong, why in ((args.shuffle and not args.batch_size, "--shuffle needs --batch-size"),
                       (args.drop_remainder and not args.batch_size, "--drop-remainder needs --batch-size"),
                       (getattr(args, "time", False) and training,
                        "--time times a single run; it does not combine with --steps, --epochs, "
                        "--batch-size or --save-every"),
                       (args.log and not (args.steps or args.epochs),
                        "--log records the training loop: add --steps N or --epochs E"),
                       (args.log_interval and not args.log, "--log-interval needs --log FILE")):
        if wrong:
            print(f"kgraph run: error: {why}", file=sys.stderr)
            return 2
    if args.log:
        try:
            log_format(args.log)
        except KGraphError as e:
            print(f"kgraph run: error: {e.message}", file=sys.stderr)
            return 2
    if not hasattr(program, "execute") and (args.state or training):
        raise KGraphError("--state, --steps, --epochs, --batch-size and --save-every need a .kg "
                          "program; an exported .kgx runs once")
    if not args.state:
        return None
    state = Path(args.state)
    if state.exists():
        program.load_state(state)
    elif program.updates:
        if not state.parent.is_dir():  # found now, not after the training it would lose
            raise StateError(f"cannot write state file {state}: there is no directory {state.parent}")
        _note(args, f"{state} does not exist yet: starting from the variables' initial values")
    else:
        _note(args, f"{state} does not exist: using the variables' initial values")
    return None


def run_from_args(program, feeds: dict[str, Any], args, run_once=None) -> tuple[int, dict | None]:
    """After `prepare`: run as the flags say, one run (`run_once()`, default `program.run`) or
    the training loop, and save the state. Returns (exit status, the outputs to print or None)."""
    state = Path(args.state) if args.state and program.updates else None
    if not is_training(args) and not args.save_every:
        outputs = run_once() if run_once else program.run(**feeds)
        if state is not None:
            program.save_state(state)
        return 0, outputs
    batches = Batches(program, program.check_feeds(feeds), args.batch_size, args.shuffle, args.seed,
                      args.drop_remainder)
    plan = _plan(batches, args, state)
    if getattr(program, "mesh", None) is not None:
        check_batches(program, batches, plan.steps)  # before the first step, not after an epoch
    result = train(program, batches, plan)
    if result.interrupted:
        _note(args, f"interrupted after step {result.steps}" + (f"; state saved to {state}" if state else ""))
        return INTERRUPTED, None
    return 0, {name: np.asarray(v) for name, v in result.outputs.items()}


def _note(args, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr)


def _plan(batches: Batches, args, state: Path | None) -> Plan:
    steps = args.steps or (args.epochs or 1) * batches.per_epoch
    if args.quiet:
        log_every = 0
    elif args.log_every:
        log_every = args.log_every
    elif sys.stdout.isatty() and sys.stderr.isatty():
        log_every = None
    else:
        log_every = max(1, steps // 10)
    training = True if getattr(args, "learning_phase", None) is None else bool(args.learning_phase)
    return Plan(steps=steps, state=state, save_every=args.save_every, log_every=log_every,
                metrics=Path(args.log) if args.log else None, metrics_every=args.log_interval,
                per_epoch=batches.per_epoch, training=training)
