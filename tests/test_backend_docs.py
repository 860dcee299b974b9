"""docs/python.md: every ```python block runs, in order, in one namespace.

The blocks are our own documentation (not user input). Each is compiled with the
page's path and padded to its line in the page, so errors and the backend's spans
point at docs/python.md itself.
"""
import re
from pathlib import Path

from kgraph import backend as K

DOC = Path(__file__).resolve().parent.parent / "docs" / "python.md"


def blocks():
    text = DOC.read_text()
    for match in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
        line = text.count("\n", 0, match.start(1))
        yield line, match.group(1)


def test_python_md_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the export example writes logreg.kgx
    K.clear_session()
    namespace = {"__name__": "python_md"}
    found = list(blocks())
    assert len(found) >= 6
    try:
        for line, code in found:
            exec(compile("\n" * line + code, str(DOC), "exec"), namespace)
    finally:
        K.clear_session()
    assert (tmp_path / "logreg.kgx").exists()
