"""The shape DESIGN.md §2 asks of the package, where import-linter can't see it: small
modules, SQL only in records modules, and no fork outside the single-threaded processes
that are made for it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "berth"
MAX_LINES = 400
# The modules that hold a package's SQL (the snapshot package has two tables' worth; the
# container package's quick listing reads the rows without the records' imports, for `ps`).
RECORDS = {"records.py", "database.py", "direct.py", "schema.py", "layers.py", "listing.py"}
SQL_CALLS = {"execute", "executemany", "executescript", "query"}
# Forking is for processes that are single-threaded by construction: the monitor (which
# forks the init), the runtime's own helpers, and the copy helper and its server for builds
# (fresh execs: one forks to pack a COPY --from's sources in one root while it unpacks them in
# another, the other forks a helper per request). An engine
# that may have threads never forks.
MAY_FORK = ("runtime", "monitor")
# The preloaded CLI (single-threaded: it retires once it has a thread), and the copy server's
# client, which forks only from a process of one thread (else it spawns).
MAY_FORK_MODULES = (
    "cli/zygote.py",
    "container/copier.py",
    "container/copy_client.py",
    "container/copy_server.py",
)


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _calls(path: Path) -> list[tuple[str, str]]:
    """(object, attribute) of every `x.attribute(...)` call in the module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else ast.unparse(owner)
            found.append((name, node.func.attr))
    return found


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): count
        for path in _modules()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_sql_lives_only_in_records_modules() -> None:
    outside = [
        f"{path.relative_to(PACKAGE)}: {owner}.{attribute}"
        for path in _modules()
        if path.name not in RECORDS and not path.name.endswith("_records.py")
        for owner, attribute in _calls(path)
        if attribute in SQL_CALLS
    ]
    assert outside == []


def test_only_single_threaded_helpers_fork() -> None:
    forks = [
        str(path.relative_to(PACKAGE))
        for path in _modules()
        if ("os", "fork") in _calls(path)
        and path.relative_to(PACKAGE).parts[0] not in MAY_FORK
        and str(path.relative_to(PACKAGE)) not in MAY_FORK_MODULES
    ]
    assert forks == []
