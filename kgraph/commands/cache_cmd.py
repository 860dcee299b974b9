"""`kgraph cache`: what the on-disk caches hold, and emptying them."""
from __future__ import annotations

import argparse

from .. import progcache

NAME = "cache"
HELP = "show or clear the compilation caches (kgraph's programs and XLA's executables)"
DESCRIPTION = """\
kgraph keeps two caches under $KGRAPH_CACHE_DIR (default: the user cache directory
+ /kgraph), private to you (mode 0700):
  programs/   per program (source, options, limits, versions): what a run needs, and the
              compiled XLA executable per feed signature, signed with a per-user key: a
              second `kgraph run` of the same program skips parse, build, passes, tracing
              and XLA's compile
  xla/        JAX's persistent cache of XLA executables (other compilations)
The programs directory is bounded (least recently used entries go first) by
$KGRAPH_CACHE_MAX_BYTES, 1 GiB unless set. `--no-cache` on any command uses neither.

examples:
  kgraph cache info      the directories, the number of entries, their size and the bound
  kgraph cache clear     remove every entry of both caches
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("info", "clear"), help="info: what is cached; clear: remove it all")


def main(args) -> int:
    if args.action == "clear":
        print(f"removed {progcache.clear()} files from {progcache.programs_dir().parent}")
        return 0
    facts = progcache.info()
    print(f"program cache: {facts['directory']}")
    print(f"  entries:     {facts['entries']}")
    print(f"  size:        {facts['bytes']:,} bytes (bound {facts['max_bytes']:,}, ${progcache.ENV_MAX})")
    print(f"XLA cache:     {facts['xla_directory']}")
    return 0
