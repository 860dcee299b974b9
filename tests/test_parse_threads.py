"""Two threads compiling at once: the parser keeps no shared mutable state (each parse's
file name, text and bracket places are its own thread's), so neither sees the other's."""
from __future__ import annotations

import threading

import kgraph
from kgraph.parse import parse


def _program(tag: str, lines: int) -> tuple[str, str]:
    """A program whose bracketed expressions and syntax error are placed by `lines`."""
    # Brackets (the transformer's places) and indented blocks (Lark's indenter's state).
    body = "".join(f"def f{i}(a):\n    return (a + {i}.0) * (a - 1.0)\nv{i} = f{i}(x)\n"
                   for i in range(lines))
    good = f"placeholder x: float32[2]\n{body}output v{lines - 1}"
    bad = f"placeholder x: float32[2]\n{body}y = (x +\n"
    return good, bad


def test_two_threads_compile_at_once_and_keep_their_own_places():
    failures: list[str] = []
    start = threading.Barrier(2)

    def work(tag: str, lines: int):
        good, bad = _program(tag, lines)
        filename = f"{tag}.kg"
        start.wait()
        for _ in range(100):  # the parser alone, where the two threads overlap most
            tree = parse(good, filename)
            if len(tree.statements) != 2 * lines + 2 or tree.statements[-1].span.filename != filename:
                failures.append(f"{tag}: the parse came back wrong")
        for _ in range(4):
            program = kgraph.compile(good, filename=filename, opt_level=0)
            spans = [b.span for b in program.module.bindings]
            if any(s.filename != filename or s.source != good for s in spans):
                failures.append(f"{tag}: a binding has another parse's place")
            last = program.module.bindings[-1].span
            if (last.line, last.column) != (3 * lines + 1, 1):
                failures.append(f"{tag}: the last binding is at {last.line}:{last.column}")
            try:
                kgraph.compile(bad, filename=filename)
                failures.append(f"{tag}: the syntax error was not reported")
            except kgraph.KGraphError as e:
                where = e.render().splitlines()[0]
                if not where.startswith(f"{filename}:{3 * lines + 2}:"):
                    failures.append(f"{tag}: the error is placed at {where}")

    threads = [threading.Thread(target=work, args=("a", 3)), threading.Thread(target=work, args=("b", 40))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:5]
