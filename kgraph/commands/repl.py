"""`kgraph repl`: a program that grows one statement at a time.

Each statement goes through the same builder as a file, so names, shape checks and
errors are the language's own. An expression typed alone is compiled and run at
once (the same `trace.evaluate` that `run --trace` uses) and its type and value are
printed. A mistake is reported in place and the session goes on.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Iterator

from .. import mesh as meshes
from .. import sharding
from ..diagnostics import print_code

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
    from .run import seed_value

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
        from ..build import Builder

        self.builder = Builder(self.filename, "", self.floatx, self.image_data_format)
        self.feeds: dict[str, Any] = {}

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # ---- statements ---------------------------------------------------------------
    def execute(self, text: str, first_line: int = 1, filename: str | None = None) -> bool:
        """Run the statements in `text` (which starts at line `first_line`); False on an error."""
        from ..diagnostics import report
        from ..errors import KGraphError
        try:
            for stmt in _parse_at(text, first_line, filename or self.filename).statements:
                self.statement(stmt)
        except KGraphError as e:
            report(e.render())
            self.failures += 1
            return False
        return True

    def statement(self, stmt) -> None:
        from .. import ast
        from ..diagnostics import report

        b = self.builder
        seen = len(b.warnings)
        outputs = len(b.graph.outputs)
        try:
            if isinstance(stmt, ast.ExprStmt):
                value = b.expr(stmt.value, b.globals)
                if self.echo:
                    self.show(value)
            else:
                b.statement(stmt, b.globals)
                if isinstance(stmt, ast.Shard):
                    line = sharding.shard_line(self.mesh, b.graph, stmt.name)
                    self.say(line) if self.echo else None
                for name, node in b.graph.outputs[outputs:] if self.echo else ():
                    self.show(node, f"{name}: ")
        finally:
            for w in b.warnings[seen:]:
                report(w.render())

    def show(self, value: Any, prefix: str = "") -> None:
        from ..values import Function
        from ..ir import Node
        from ..trace import format_type, format_value

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

    def value_of(self, node) -> tuple[Any, str]:
        import jax

        from ..ir import toposort
        from ..trace import evaluate

        unfed = [n.attr("name") for n in toposort([node])
                 if n.op == "placeholder" and n.attr("name") not in self.feeds]
        if unfed:
            return None, f"no value until it is fed: :feed {unfed[0]}=..."
        rng = jax.random.PRNGKey(self.seed)
        return evaluate([node], self.feeds, self.builder.var_init, rng)[0], ""

    # ---- commands -------------------------------------------------------------------
    def command(self, line: str) -> bool:
        """A `:command`; False when the session should end."""
        from ..diagnostics import report
        from ..errors import KGraphError

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
        from ..docgen import is_internal
        from ..errors import KGraphError
        from ..ops import REGISTRY
        from .ops_cmd import describe, listing

        if not rest:
            self.say(listing())
        elif rest in REGISTRY and not is_internal(REGISTRY[rest]):
            self.say(describe(rest)[0])
        else:
            raise KGraphError(f"there is no op '{rest}'")

    def cmd_ir(self, rest: str) -> None:
        from ..ir import Node, format_ir

        latest: dict[str, Node] = {}
        for binding in self.builder.bindings:
            if isinstance(binding.value, Node) and not binding.value.is_leaf:
                latest.pop(binding.name, None)
                latest[binding.name] = binding.value
        roots = list(latest.items()) + list(self.builder.graph.outputs)
        if not roots:
            self.say("(nothing computed yet)")
            return
        print_code(format_ir(self.builder.graph, roots=roots, updates=[],
                             layouts=sharding.leaf_layouts(self.mesh, self.builder.graph)), self.out, ir=True)

    def cmd_names(self, rest: str) -> None:
        from ..values import Function
        from ..ir import Node

        names = self.builder.globals.names
        layouts = sharding.leaf_layouts(self.mesh, self.builder.graph)
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
        from ..errors import FeedError, KGraphError
        from ..feeds import check_feed, read_feed_value

        name, sep, text = rest.partition("=")
        name = name.strip()
        if not sep or not name:
            raise FeedError(":feed needs NAME=VALUE, e.g. :feed x=[[1, 2, 3, 4]]")
        node = self.builder.graph.placeholders.get(name)
        if node is None:
            known = ", ".join(self.builder.graph.placeholders) or "none"
            raise FeedError(f":feed {name}: there is no placeholder '{name}' (placeholders: {known})")
        try:
            value = read_feed_value(text.strip())
        except ValueError as e:
            cls, reason = (type(e), e.message) if isinstance(e, KGraphError) else (FeedError, e)
            raise cls(f"feed '{name}' ({node.type}): {reason}") from None
        named = {}
        for other, array in self.feeds.items():  # named dims must agree with the other feeds
            for want, got in zip(self.builder.graph.placeholders[other].shape, array.shape):
                if isinstance(want, str) and other != name:
                    named.setdefault(want, (got, other))
        self.feeds[name] = check_feed(name, node, value, self.builder.leaf_spans.get(name), named)

    def cmd_reset(self, rest: str) -> None:
        self.reset()
        self.say("(everything forgotten)")


def _parse_at(text: str, first_line: int, filename: str):
    """Parse `text` as lines `first_line`... of the session, so spans count lines as it does."""
    from dataclasses import replace

    from ..errors import ParseError
    from ..parse import parse

    try:
        return parse("\n" * (first_line - 1) + text, filename)
    except ParseError as padded:
        # The syntax-error classifier reads the text alone best; move its place down.
        try:
            parse(text, filename)
        except ParseError as e:
            s = e.span
            if s is None:
                raise
            shift = first_line - 1
            e.span = replace(s, line=s.line + shift, end_line=s.end_line + shift,
                             source="\n" * shift + s.source)
            raise e from None
        raise padded


# ---- reading input -------------------------------------------------------------------

def _open_brackets(text: str) -> int:
    """How many ( and [ are still open, ignoring strings and comments."""
    depth = 0
    for line in text.split("\n"):
        quote = ""
        for ch in line:
            if quote:
                quote = "" if ch == quote else quote
            elif ch == "#":
                break
            elif ch in "'\"":
                quote = ch
            elif ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
    return depth


class Reader:
    """Lines from a terminal (with prompts and history) or a stream; complete statements out."""

    def __init__(self, stream, interactive: bool):
        self.stream = stream
        self.interactive = interactive
        self.line_no = 0
        self._pending: list[str] = []

    def _line(self, prompt: str) -> str | None:
        if self._pending:
            self.line_no += 1
            return self._pending.pop()
        if self.interactive:
            try:
                line = input(prompt)
            except EOFError:
                return None
        else:
            line = self.stream.readline()
            if not line:
                return None
            line = line.rstrip("\n")
        self.line_no += 1
        return line

    def chunks(self) -> Iterator[tuple[int, str]]:
        """(first line number, text) of each complete input: a command, a statement or a block."""
        while True:
            line = self._line("kg> ")
            if line is None:
                return
            if not line.strip():
                continue
            first, lines = self.line_no, [line]
            block = line.rstrip().endswith(":") and not line.lstrip().startswith(":")
            while block or _open_brackets("\n".join(lines)) > 0:
                more = self._line("... ")
                if more is None:
                    break
                if block and not more.strip():
                    break
                if block and not more[:1].isspace() and _open_brackets("\n".join(lines)) <= 0:
                    self._pending.append(more)  # the block ended: this line is the next input
                    self.line_no -= 1
                    break
                lines.append(more)
            yield first, "\n".join(lines)


def _enable_history() -> None:
    try:
        import atexit
        import readline
    except ImportError:  # no readline (Windows): plain input, no history
        return
    from ..cache import cache_dir

    path = cache_dir() / "repl_history"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.read_history_file(path)
    except OSError:
        pass
    readline.set_history_length(1000)
    atexit.register(lambda: _save_history(readline, path))


def _save_history(readline, path) -> None:
    try:
        readline.write_history_file(path)
    except OSError:
        pass


def main(args) -> int:
    from ..diagnostics import report
    from ..errors import KGraphError

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
        session.say(f"loaded {args.file}: {', '.join(session.builder.globals.names) or 'no names'}")
    elif args.feed:
        raise KGraphError("--feed needs a FILE whose placeholders it feeds")
    if interactive:
        _enable_history()
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
