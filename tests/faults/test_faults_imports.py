"""House rule: the faults package imports no underscore-prefixed name from another module.

A name shared across modules is public (no underscore) with a docstring saying why it is
shared, so a refactor of one module cannot silently break another that reached into it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import assay.faults

FAULTS = Path(assay.faults.__file__).resolve().parent


def private_imports(path: Path) -> list[str]:
    """`file:line: module.name` for each `from module import _name` in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            found += [f"{path.name}:{node.lineno}: {node.module}.{a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
    return found


def test_no_module_of_faults_imports_another_s_private_names() -> None:
    files = sorted(FAULTS.rglob("*.py"))
    assert len(files) > 20  # the package itself, not an empty folder
    assert [hit for f in files for hit in private_imports(f)] == []
