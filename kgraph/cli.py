"""The `kgraph` command: subcommands, shared options and error reporting.

A user mistake prints `file:line:col: error: ...`, the line and a caret, and
exits 1; a bad command line exits 2 (argparse); `--debug` shows tracebacks.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from . import bugs, limits, warm
from .cache import enable_compilation_cache
from .version import __version__
from .diagnostics import report
from .errors import KGraphError, KGraphWarning, UsageError
from .commands import cache_cmd, check, graph, lower_cmd, ops_cmd, plot, repl
from .commands import export as export_command
from .commands import import_cmd
from .commands import ir as ir_command
from .commands import run as run_command

# Each subcommand module has NAME, HELP, DESCRIPTION, add_arguments(parser) and main(args).
COMMANDS = [run_command, export_command, import_cmd, check, graph, lower_cmd, ops_cmd, repl, ir_command, plot, cache_cmd]

EPILOG = """\
examples:
  kgraph run examples/quickstart.kg
  kgraph check examples/logreg.kg   signature and warnings, without running
  kgraph ops tile                   what an op does, with an example run live
  kgraph repl                       try ops one line at a time
  kgraph run examples/logreg.kg --feed x='[[1, 2, 3, 4]]' --feed y='[[0, 0, 1]]' --format json
  kgraph run FILE --help            options of one subcommand
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kgraph",
        description="kgraph compiles .kg expression-graph programs (Keras-backend ops) to JAX/XLA.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"kgraph {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", help="show Python tracebacks (for bug reports)")
        p.add_argument("--no-cache", action="store_true",
                       help="do not use the persistent compilation cache ($KGRAPH_CACHE_DIR or the "
                            "user cache directory)")
        module.add_arguments(p)
        limits.add_options(p)
        p.set_defaults(handler=module.main)
    return parser


def _version() -> str:
    return __version__


def main(argv: list[str] | None = None, persistent_cache: bool = False) -> int:
    """The command. `persistent_cache` (the `kgraph` executable's choice) turns on the
    on-disk compilation cache unless --no-cache: it changes this process's JAX config,
    which main() called from Python (tests, notebooks) leaves alone by default."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    if persistent_cache and not getattr(args, "no_cache", True):
        enable_compilation_cache()
        warm.enable()  # and kgraph's program cache (docs/cache.md)
    bugs.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KGraphWarning)
        try:
            with limits.using(limits.from_args(args)):
                code = args.handler(args)
        except UsageError as e:
            print(f"kgraph {args.command}: error: {e.message}", file=sys.stderr)
            return 2
        except KGraphError as e:
            _flush_warnings(caught)
            if debug:
                raise
            text = e.render()
            if e.span is None and getattr(args, "file", None):
                text = f"{args.file}: {text}"
            report(text)
            return 1
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            return 0
        except Exception as e:  # an internal error is a bug: say so briefly, unless --debug
            if debug:
                raise
            if _out_of_memory(e):
                report(f"error: out of memory: {str(e).splitlines()[0]} (use smaller shapes, or a "
                       f"smaller --max-elements to be told before XLA is asked)")
                return 1
            report(bugs.report(e))
            return 70
        _flush_warnings(caught)
    return code or 0


def _out_of_memory(e: Exception) -> bool:
    """The machine, not kgraph, ran out: XLA's RESOURCE_EXHAUSTED or Python's MemoryError."""
    return isinstance(e, MemoryError) or "RESOURCE_EXHAUSTED" in str(e).split("\n")[0]


def _flush_warnings(caught) -> None:
    for w in caught:
        if isinstance(w.message, KGraphWarning):
            report(w.message.render())
    caught.clear()


def entry() -> None:
    sys.exit(main(persistent_cache=True))


if __name__ == "__main__":
    entry()
