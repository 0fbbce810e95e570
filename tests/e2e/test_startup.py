"""Start-up stays cheap: commands that don't talk to a registry or draw bars must not import
httpx, rich or the archive/registry machinery (DESIGN §7: timings live in bench/)."""

import subprocess
import sys

import pytest

from tests.fixtures.store import Store

HEAVY = ("httpx", "rich", "h11", "zstandard", "isal", "berth.registry.client", "berth.image.pull")


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["images"],
        ["images", "-q"],
        ["system", "df"],
        ["image", "prune", "-f"],
        ["images", "--format", "json"],
    ],
)
def test_light_commands_import_nothing_heavy(store: Store, args: list[str]) -> None:
    script = (
        "import sys\n"
        "from berth.cli.main import main\n"
        f"code = main({[*store.flags, *args]!r})\n"
        f"heavy = {HEAVY!r}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy)\n"
        "print('LOADED', ','.join(loaded))\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.rsplit("LOADED", 1)[1].strip()
    assert loaded == "", f"{args} imported {loaded}"


@pytest.mark.parametrize("args", [["--version"], ["images"], ["images", "-q"]])
def test_the_commonest_commands_skip_dataclasses(store: Store, args: list[str]) -> None:
    """dataclasses imports inspect: ~10 ms of every start, kept off the hottest paths."""
    script = (
        "import sys\n"
        "from berth.cli.main import main\n"
        f"code = main({[*store.flags, *args]!r})\n"
        "print('LOADED', 'dataclasses' in sys.modules, 'inspect' in sys.modules)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rsplit("LOADED", 1)[1].split() == ["False", "False"]
