"""`ps` as it is usually typed (the default table, `-q`, `-a`, `--no-trunc`) is answered from
the rows and the monitors' reports without the engine (berth.cli.commands.ps `quick`). It must
print what the engine's way prints, and still never list a container as running once its
monitor reported the exit or died: that case, and any other it can't judge, goes the engine's
way, which records the exit (DESIGN §3)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.fixtures.store import Berth, Store, kill_monitor

FORMS = (["ps"], ["ps", "-a"], ["ps", "--no-trunc"], ["ps", "-a", "--no-trunc"], ["ps", "-q"])
FORMS_QUIET = (["ps", "-aq"], ["ps", "-qa", "--no-trunc"], ["container", "ls", "--all"])


def _ps_alone(
    store: Store, args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[str, bool]:
    """`berth ARGS` in a fresh interpreter, against `store` unless `env` or `cwd` choose it:
    its output, and whether the engine was imported."""
    flags = [] if env or cwd else store.flags
    script = (
        "import sys\n"
        "from berth.cli.main import main\n"
        f"code = main({[*flags, *args]!r})\n"
        "sys.stdout.flush()\n"
        "print('ENGINE', 'berth.engine' in sys.modules, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr.rsplit("ENGINE", 1)[1].split() == ["True"]


# The ages `ps` prints, which tick with the clock between the two ways of asking.
_AGES = re.compile(r"Less than a second|About a minute|\d+ (?:seconds?|minutes)")


def _both_ways(berth: Berth, store: Store, args: list[str]) -> tuple[str, str]:
    """The quick answer and the engine's (`--log-level` keeps `ps` on the engine's way); the
    pair taken again if a second ticked between them ("Up 4 seconds", "Up 5 seconds"). Five
    containers tick each at its own phase, so a pair (~0.1 s) can straddle a tick try after
    try: after five, the two are compared with their ages masked and the padding collapsed
    (the only thing the clock may change; everything else must still be equal)."""
    for _ in range(5):
        quick, engine_used = _ps_alone(store, args)
        assert not engine_used, f"{args} was not answered quickly"
        engine = berth("--log-level", "error", *args).stdout
        if quick == engine:
            return quick, engine
    return _ageless(quick), _ageless(engine)


def _ageless(table: str) -> str:
    return re.sub(r" {2,}", "   ", _AGES.sub("AGE", table))


def _wait_for(check: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_quick_ps_prints_what_the_engine_prints(berth: Berth, busybox: str, store: Store) -> None:
    long = "sleep 60 # a command longer than its column"
    started = [
        ["--name", "spaced", "--expose", "80", "--expose", "53/udp", busybox, "sh", "-c", long],
        ["--name", "quoted", busybox, "sh", "-c", 'sleep 60; echo "a\\b"'],
        ["--name", "frozen", busybox, "sleep", "60"],
        ["--name", "probed", "--health-cmd", "true", "--health-interval", "200ms", busybox],
    ]
    for args in started:
        assert (
            berth("run", "-d", *args, *(["sleep", "60"] if args[-1] == busybox else [])).returncode
            == 0
        )
    assert berth("run", "--name", "finished", busybox, "sh", "-c", "exit 3").returncode == 3
    assert berth("create", "--name", "fresh", busybox, "true").returncode == 0
    assert berth("pause", "frozen").returncode == 0

    def healthy() -> bool:
        found = berth("inspect", "-f", "{{.State.Health.Status}}", "probed").stdout
        return found.strip() == "healthy"

    _wait_for(healthy)
    for args in (*FORMS, *FORMS_QUIET):
        quick, engine = _both_ways(berth, store, args)
        assert quick == engine, args
    table = _both_ways(berth, store, ["ps", "-a"])[0].splitlines()
    names = ["NAMES", "fresh", "finished", "probed", "frozen", "quoted", "spaced"]
    assert [line.split()[-1] for line in table] == names
    assert "80/tcp" in table[6] and "53/udp" in table[6]
    assert "(Paused)" in table[4] and "(healthy)" in table[3]
    assert "Exited (3)" in table[2] and "Created" in table[1]


def test_quick_ps_leaves_an_exit_to_the_engine(berth: Berth, busybox: str, store: Store) -> None:
    """The monitor reported the exit, and nothing recorded it yet: `ps` lists it no more,
    and the engine's way records it (`inspect` then reads it from the row)."""
    script = ["sh", "-c", "sleep 1; exit 3"]
    # --network none: nothing frees a network at the exit, so nothing records it meanwhile.
    started = berth("run", "-d", "--name", "brief", "--network", "none", busybox, *script)
    assert started.returncode == 0, started.stderr
    status = store.runroot / "containers" / started.stdout.strip() / "status.json"
    _wait_for(lambda: not status.exists() or json.loads(status.read_text())["Status"] == "exited")
    listed, engine_used = _ps_alone(store, ["ps"])
    assert listed.splitlines()[1:] == [] and engine_used
    listed, engine_used = _ps_alone(store, ["ps", "-a"])
    assert "Exited (3)" in listed and not engine_used  # recorded: the quick way answers again


def test_quick_ps_never_lists_a_container_whose_monitor_died(
    berth: Berth, busybox: str, store: Store
) -> None:
    assert berth("run", "-d", "--name", "orphan", busybox, "sleep", "60").returncode == 0
    kill_monitor(berth, "orphan")
    listed, engine_used = _ps_alone(store, ["ps", "-q"])
    assert listed == "" and engine_used
    assert "Exited (255)" in _ps_alone(store, ["ps", "-a"])[0]


def test_quick_ps_reads_the_store_the_engine_reads(
    berth: Berth, busybox: str, store: Store
) -> None:
    """The store the environment chooses, and a relative --root/--runroot, as Layout does."""
    started = berth("run", "-d", "--network", "none", busybox, "sleep", "60")
    assert started.returncode == 0, started.stderr
    env = {**os.environ, "BERTH_ROOT": str(store.root), "BERTH_RUNROOT": str(store.runroot)}
    relative = ["--root", store.root.name, "--runroot", store.runroot.name]
    for args, chosen_env, cwd in (
        (["ps", "-q"], env, None),
        ([*relative, "ps", "-q"], None, store.mountpoint),
    ):
        listed, engine_used = _ps_alone(store, args, chosen_env, cwd)
        assert listed == started.stdout.strip()[:12] + "\n" and not engine_used


def test_quick_ps_leaves_the_stores_upkeep_to_the_engine(
    berth: Berth, busybox: str, store: Store
) -> None:
    """What opening the engine puts right (the reserve given back on a full disk, an unpack
    a killed pull left) `ps` puts right too: the quick way steps aside for it."""
    assert berth("run", "-d", "--network", "none", busybox, "sleep", "60").returncode == 0
    (store.root / "reserve").unlink()
    (store.root / "tmp" / "unpack-left").mkdir()
    listed, engine_used = _ps_alone(store, ["ps", "-q"])
    assert len(listed.split()) == 1 and engine_used
    assert (store.root / "reserve").is_file()
    assert not (store.root / "tmp" / "unpack-left").exists()
    assert not _ps_alone(store, ["ps", "-q"])[1]
