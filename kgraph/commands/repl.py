"""`kgraph repl`: a program that grows one statement at a time.

Each statement goes through the front end's incremental door (`IncrementalFrontend`:
the parser and builder a file goes through), so names, shape checks and errors are the
language's own; what the session shows is read from the `Module` so far. An expression
typed alone is compiled and run at once (the same `trace.evaluate` that `run --trace`
uses) and its type and value are printed. A mistake is reported in place and the
session goes on. Reading the input (prompts, continuation lines, history) is
repl_input.py's.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

import jax

from .. import ast
from .. import mesh as meshes
from .. import sharding
from ..diagnostics import print_code, report
from ..docgen import describe, is_internal, listing
from ..errors import FeedError, KGraphError
from ..feeds import check_feed, read_feed_value
from ..frontend import IncrementalFrontend, Module
from ..ir import Node, format_ir, toposort
from ..ops import REGISTRY
from ..trace import evaluate, format_type, format_value
from ..values import Function
from .repl_input import Reader, enable_history
from .options import seed_value

NAME = "repl"
HELP = "an interactive session: type statements, see each expression's value"
DESCRIPTION = """\
An interactive kgraph session. Each statement is added to a growing program; an
expression typed alone prints its type and value at once. With FILE, the file's
statements come first (feed its placeholders with --feed or :feed).

commands:
  :help              this list
  :ops [NAME]        the ops, or one op with its example
  :ir                the program so far, as IR
  :names             the names defined so far, with their types
  :feed NAME=VALUE   a value for a placeholder (as in `kgraph run --feed`)
  :reset             forget everything and start again
  :quit              leave (or end of input, Ctrl-D)

When standard input is not a terminal, lines are read from it without prompts and
the exit status is 1 if any statement failed.

examples:
  kgraph repl
  kgraph repl examples/logreg.kg --feed x='[[1, 2, 3, 4]]'
  echo 'tile(eye(2), (2, 2))' | kgraph repl
"""

HELP_TEXT = """\
Type a statement (`x = ones((2, 3))`, `placeholder p: float32[None, 3]`, `def f(a): ...`)
or an expression (`sum(x, axis=1)`), whose type and value are printed.
  :ops [NAME]        the ops, or one op with its example
  :ir                the program so far, as IR
  :names             the names defined so far, with their types
  :feed NAME=VALUE   a value for a placeholder (a JSON literal or a .npy/.npz/.csv file)
  :reset             forget everything and start again
  :quit              leave (or Ctrl-D)"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", metavar="FILE.kg", help="a program to start from")
    p.add_argument("--feed", action="append", default=[], metavar="NAME=VALUE",
                   help="a value for one of FILE's placeholders (repeat for each)")
    p.add_argument("--floatx", default="float32", choices=("float16", "bfloat16", "float32", "float64"),
                   help="the default float dtype (floatx()), float32 unless set")
    p.add_argument("--image-data-format", default="channels_last",
                   choices=("channels_last", "channels_first"),
                   help="the image ops' data_format when none is given, channels_last unless set")
    p.add_argument("--seed", type=seed_value, default=0, help="seed for random ops without one (default 0)")
    meshes.add_arguments(p, distributed=False)  # `shard` statements and :ir show the layouts


class Session:
    def __init__(self, floatx: str = "float32", seed: int = 0, out=None, filename: str = "<repl>",
                 mesh=None, image_data_format: str = "channels_last"):
        self.floatx, self.mesh = floatx, mesh
        self.image_data_format = image_data_format
        self.seed = seed
        self.out = out or sys.stdout
        self.filename = filename
        self.failures = 0
        self.echo = True
        self.reset()

    def reset(self) -> None:
        self.program = IncrementalFrontend(self.filename, self.floatx, self.image_data_format)
        self.feeds: dict[str, Any] = {}

    @property
    def module(self) -> Module:
        """The program so far."""
        return self.program.module()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # ---- statements ---------------------------------------------------------------
    def execute(self, text: str, first_line: int = 1, filename: str | None = None) -> bool:
        """Run the statements in `text` (which starts at line `first_line`); False on an error."""
        try:
            for stmt in self.program.statements(text, first_line, filename):
                self.statement(stmt)
        except KGraphError as e:
            report(e.render())
            self.failures += 1
            return False
        return True

    def statement(self, stmt: ast.Node) -> None:
        seen = len(self.program.warnings)
        try:
            step = self.program.add(stmt)
            if not self.echo:
                return
            if step.shows_a_value:
                self.show(step.value)
            elif isinstance(stmt, ast.Shard):
                self.say(sharding.shard_line(self.mesh, self.module.graph, stmt.name))
            for name, node in step.outputs:
                self.show(node, f"{name}: ")
        finally:
            for w in self.program.warnings[seen:]:
                report(w.render())

    def show(self, value: Any, prefix: str = "") -> None:
        if isinstance(value, Node):
            array, missing = self.value_of(value)
            if array is None:
                self.say(f"{prefix}{value.type}  ({missing})")
                return
            body = format_value(array, indent="  ")
            self.say(f"{prefix}{format_type(array)}{body[0]}")
            if body[1:]:
                self.say("\n".join(body[1:]))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Node) for v in value):
            for i, v in enumerate(value):
                self.show(v, f"{prefix}[{i}] ")
        elif isinstance(value, Function):
            d = value.definition
            self.say(f"{prefix}function {d.name}({', '.join(d.params)})")
        else:
            self.say(f"{prefix}{value!r}")

    def value_of(self, node: Node) -> tuple[Any, str]:
        unfed = [n.attr("name") for n in toposort([node])
                 if n.op == "placeholder" and n.attr("name") not in self.feeds]
        if unfed:
            return None, f"no value until it is fed: :feed {unfed[0]}=..."
        rng = jax.random.PRNGKey(self.seed)
        return evaluate([node], self.feeds, self.module.variables, rng)[0], ""

    # ---- commands -------------------------------------------------------------------
    def command(self, line: str) -> bool:
        """A `:command`; False when the session should end."""
        word, _, rest = line[1:].strip().partition(" ")
        rest = rest.strip()
        handler = {"help": self.cmd_help, "h": self.cmd_help, "?": self.cmd_help, "ops": self.cmd_ops,
                   "ir": self.cmd_ir, "names": self.cmd_names, "feed": self.cmd_feed,
                   "reset": self.cmd_reset}.get(word)
        if word in ("quit", "q", "exit"):
            return False
        if handler is None:
            report(f"error: unknown command ':{word}'; :help lists them")
            self.failures += 1
            return True
        try:
            handler(rest)
        except KGraphError as e:
            report(e.render())
            self.failures += 1
        return True

    def cmd_help(self, rest: str) -> None:
        self.say(HELP_TEXT)

    def cmd_ops(self, rest: str) -> None:
        if not rest:
            self.say(listing())
        elif rest in REGISTRY and not is_internal(REGISTRY[rest]):
            self.say(describe(rest)[0])
        else:
            raise KGraphError(f"there is no op '{rest}'")

    def cmd_ir(self, rest: str) -> None:
        module = self.module
        latest: dict[str, Node] = {}
        for binding in module.bindings:
            if isinstance(binding.value, Node) and not binding.value.is_leaf:
                latest.pop(binding.name, None)
                latest[binding.name] = binding.value
        roots = list(latest.items()) + list(module.graph.outputs)
        if not roots:
            self.say("(nothing computed yet)")
            return
        print_code(format_ir(module.graph, roots=roots, updates=[],
                             layouts=sharding.leaf_layouts(self.mesh, module.graph)), self.out, ir=True)

    def cmd_names(self, rest: str) -> None:
        module = self.module
        names = module.names
        layouts = sharding.leaf_layouts(self.mesh, module.graph)
        if not names:
            self.say("(no names yet)")
        for name, value in names.items():
            if isinstance(value, Node):
                kind = value.op if value.is_leaf else "tensor"
                fed = "  (fed)" if name in self.feeds else ""
                self.say(f"{name}: {value.type}  {kind}{'  ' * (name in layouts)}{layouts.get(name, '')}{fed}")
            elif isinstance(value, Function):
                self.say(f"{name}: function({', '.join(value.definition.params)})")
            else:
                self.say(f"{name} = {value!r}")

    def cmd_feed(self, rest: str) -> None:
        name, sep, text = rest.partition("=")
        name = name.strip()
        if not sep or not name:
            raise FeedError(":feed needs NAME=VALUE, e.g. :feed x=[[1, 2, 3, 4]]")
        module = self.module
        placeholders = module.graph.placeholders
        node = placeholders.get(name)
        if node is None:
            known = ", ".join(placeholders) or "none"
            raise FeedError(f":feed {name}: there is no placeholder '{name}' (placeholders: {known})")
        try:
            value = read_feed_value(text.strip())
        except ValueError as e:
            cls, reason = (type(e), e.message) if isinstance(e, KGraphError) else (FeedError, e)
            raise cls(f"feed '{name}' ({node.type}): {reason}") from None
        named = {}
        for other, array in self.feeds.items():  # named dims must agree with the other feeds
            for want, got in zip(placeholders[other].shape, array.shape):
                if isinstance(want, str) and other != name:
                    named.setdefault(want, (got, other))
        self.feeds[name] = check_feed(name, node, value, module.leaf_spans.get(name), named)

    def cmd_reset(self, rest: str) -> None:
        self.reset()
        self.say("(everything forgotten)")


def main(args) -> int:
    interactive = sys.stdin.isatty()
    session = Session(args.floatx, args.seed, filename="<repl>" if interactive else "<stdin>",
                      mesh=meshes.mesh_from_args(args), image_data_format=args.image_data_format)
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as f:
                source = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise KGraphError(f"cannot read {args.file}: {getattr(e, 'strerror', None) or e}") from None
        session.echo = False  # the file's outputs and expressions are not printed on load
        loaded = session.execute(source, filename=args.file)
        session.echo = True
        if not loaded:
            return 1
        for spec in args.feed:
            session.cmd_feed(spec)
        session.say(f"loaded {args.file}: {', '.join(session.module.names) or 'no names'}")
    elif args.feed:
        raise KGraphError("--feed needs a FILE whose placeholders it feeds")
    if interactive:
        enable_history()
        session.say("kgraph repl: :help for help, Ctrl-D to leave")
    reader = Reader(sys.stdin, interactive)
    while True:
        try:
            for first, text in reader.chunks():
                if text.lstrip().startswith(":"):
                    if not session.command(text.strip()):
                        return _status(session, interactive)
                    continue
                try:
                    session.execute(text, first)
                except Exception as e:  # a compiler bug: say so, keep the session
                    if args.debug:
                        raise
                    report(f"internal error: {type(e).__name__}: {e} (a bug in kgraph; "
                           f"--debug shows the traceback)")
                    session.failures += 1
            return _status(session, interactive)
        except KeyboardInterrupt:
            if not interactive:
                return 130
            print("\nKeyboardInterrupt", file=sys.stderr)


def _status(session: Session, interactive: bool) -> int:
    if interactive:
        print(file=session.out)
        return 0
    return 1 if session.failures else 0
