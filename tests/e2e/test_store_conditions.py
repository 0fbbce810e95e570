"""Every command against a damaged, a read-only and a full store: one clear line and a
non-zero exit where it can't do its work, never a traceback, and the reads still work where
the store can be read. The command table is the CLI's own, so a new command is covered."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.cli.table import COMMANDS, GROUPS
from tests.fixtures.images import Catalogue
from tests.fixtures.netns import HostNamespace
from tests.fixtures.store import Berth, Store, mount_store, unmount_store

# An image archive `_prepare` saves, for `load` and `import` (outside the store: a read-only or
# full store must still be able to read it).
ARCHIVE = f"/tmp/berth-store-conditions-{os.getpid()}.tar"

# Each command word with arguments that make it do its work on the prepared store.
READS: dict[str, list[str]] = {
    "ps": ["ps", "-a"],
    "images": ["images"],
    "inspect": ["inspect", "c1"],
    "logs": ["logs", "c1"],
    "history": ["history", "img"],
    "port": ["port", "c1"],
    "diff": ["diff", "c1"],
    "export": ["export", "-o", "/dev/null", "c1"],
    "save": ["save", "-o", "/dev/null", "img"],
    "wait": ["wait", "c1"],
    "image inspect": ["image", "inspect", "img"],
    "container inspect": ["container", "inspect", "c1"],
    "volume ls": ["volume", "ls"],
    "volume inspect": ["volume", "inspect", "v1"],
    "network ls": ["network", "ls"],
    "network inspect": ["network", "inspect", "n1"],
    "system df": ["system", "df"],
    "info": ["info"],
    "events": ["events", "--since", "0", "--until", "1"],
}
WRITES: dict[str, list[str]] = {
    "create": ["create", "img", "true"],
    "run": ["run", "--rm", "img", "true"],
    "start": ["start", "c1"],
    "restart": ["restart", "c1"],
    "tag": ["tag", "img", "other"],
    "rename": ["rename", "c1", "c2"],
    "update": ["update", "--cpu-shares", "512", "c1"],
    "volume create": ["volume", "create", "v2"],
    "network create": ["network", "create", "n2"],
    "network connect": ["network", "connect", "n3", "c1"],
    "network disconnect": ["network", "disconnect", "n1", "c1"],
    "commit": ["commit", "c1", "committed:1"],
    "load": ["load", "-i", ARCHIVE],
    "import": ["import", ARCHIVE, "imported:1"],
}
FREES: dict[str, list[str]] = {
    "rm": ["rm", "-f", "c1"],
    "rmi": ["rmi", "-f", "img"],
    "volume rm": ["volume", "rm", "v3"],
    "network rm": ["network", "rm", "n1"],
    "container prune": ["container", "prune", "-f"],
    "image prune": ["image", "prune", "-f"],
    "volume prune": ["volume", "prune", "-a", "-f"],
    "network prune": ["network", "prune", "-f"],
    "builder prune": ["builder", "prune", "-f"],
    "system prune": ["system", "prune", "-a", "-f"],  # last: it takes what the others would
}


def _clean(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if result.returncode != 0:
        assert result.stderr.startswith("Error: "), result.stderr


@pytest.fixture(autouse=True)
def _archive_removed() -> Iterator[None]:
    yield
    Path(ARCHIVE).unlink(missing_ok=True)


def _prepare(berth: Berth, image: str) -> None:
    for argv in (
        ["tag", image, "img"],
        ["network", "create", "n1"],
        ["network", "create", "n3"],
        ["volume", "create", "v1"],
        ["volume", "create", "v3"],
        ["create", "--name", "c1", "-v", "v1:/data", "--network", "n1", "img", "true"],
        ["save", "-o", ARCHIVE, "img"],
    ):
        result = berth(*argv)
        assert result.returncode == 0, (argv, result.stderr)


def _module(words: str) -> str:
    first, _, second = words.partition(" ")
    return (GROUPS[first][second] if second else COMMANDS[first]).module


# Commands whose work needs a registry, a running container or a terminal, tested elsewhere
# (and `version`, which never opens the store).
EXEMPT = ("pull", "push", "login", "logout", "exec", "attach", "cp", "top", "stats", "stop", "kill")
EXEMPT_MORE = ("pause", "unpause", "system check", "container cleanup", "serve", "version", "build")


def test_the_tables_cover_every_command() -> None:
    """A command added to the CLI must be added to a table here (or exempted) to be tested."""
    every = {c.module for c in COMMANDS.values()}
    every |= {c.module for table in GROUPS.values() for c in table.values()}
    covered = {_module(w) for w in [*READS, *WRITES, *FREES, *EXEMPT, *EXEMPT_MORE]}
    assert every - covered == set()


def test_every_command_on_a_damaged_store(berth: Berth, busybox: str, store: Store) -> None:
    _prepare(berth, busybox)
    database = store.root / "berth.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.write_bytes(b"")
    for argv in [*READS.values(), *WRITES.values(), *FREES.values()]:
        result = berth(*argv)
        _clean(result)
        assert result.returncode != 0, argv
        assert str(database) in result.stderr, (argv, result.stderr)
    assert berth("system", "check", "--repair").returncode in (0, 1)


def test_every_command_on_a_read_only_store(berth: Berth, busybox: str, store: Store) -> None:
    _prepare(berth, busybox)
    subprocess.run(["mount", "-o", "remount,ro", str(store.mountpoint)], check=True)
    try:
        for argv in READS.values():
            result = berth(*argv)
            _clean(result)
            assert result.returncode == 0, (argv, result.stderr)
        for argv in [*WRITES.values(), *FREES.values()]:
            result = berth(*argv)
            _clean(result)
            assert result.returncode != 0, argv
            assert "read-only" in result.stderr, (argv, result.stderr)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(store.mountpoint)], check=True)


@pytest.fixture
def small(store: Store, host_ns: HostNamespace, tmp_path: Path) -> Iterator[Berth]:
    mounted = mount_store(tmp_path / "small", size="64m")
    runner = Berth(Store(mounted.mountpoint, mounted.root, store.runroot), prefix=host_ns.prefix)
    try:
        yield runner
    finally:
        for container_id in runner("ps", "-aq", "--no-trunc").stdout.split():
            runner("rm", "-f", container_id)
        for network in runner("network", "ls", "-q", "--filter", "type=custom").stdout.split():
            runner("network", "rm", network)
        runner("network", "prune", "-f")  # the default bridge, kept between containers
        leftovers = unmount_store(mounted)
    assert leftovers == [], leftovers


def test_every_command_on_a_full_store(small: Berth, registry: Catalogue) -> None:
    reference = registry["base"].reference
    assert small("pull", "-q", reference).returncode == 0
    _prepare(small, reference)
    filler = small("run", "-d", "--name", "filler", "img", "dd", "if=/dev/zero", "of=/fill")
    assert filler.returncode == 0, filler.stderr
    deadline = time.monotonic() + 60
    while os.statvfs(small.store.root).f_bavail:
        assert time.monotonic() < deadline, "the container never filled the disk"
        time.sleep(0.1)
    for argv in READS.values():
        result = small(*argv)
        _clean(result)
        assert result.returncode == 0, (argv, result.stderr)
    for argv in WRITES.values():
        result = small(*argv)
        _clean(result)
        assert result.returncode != 0, argv
        assert "no space left on device" in result.stderr, (argv, result.stderr)
    assert json.loads(small("inspect", "c1").stdout)[0]["Name"] == "/c1"  # nothing changed
    for argv in FREES.values():  # they free space: they work
        result = small(*argv)
        _clean(result)
        assert result.returncode == 0, (argv, result.stderr)
