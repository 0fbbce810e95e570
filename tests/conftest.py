"""Fixtures every berth test can use, and the session-wide leak guard.

- `registry` (session): one real registry with the image catalogue pushed (`Catalogue`).
- `proxy`: a counting, fault-injecting proxy in front of that registry (`CountingProxy`).
- `empty_registry`: a fresh registry of the test's own (for push tests).
- `store`: a tmpfs-backed `--root`/`--runroot` pair; `berth`: the CLI run against it.

The leak guard snapshots mounts, links, netns, nft tables, cgroups and berth processes at the
start of the run and fails the run if new ones remain at its end. BERTH_LEAK_GUARD=strict
also blames mounts and processes outside this session's temp dirs; =0 turns it off. Every
subprocess inherits BERTH_TEST_SESSION, which attributes leftover processes to this session
even when their cmdline does not say berth.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import leaks, netns
from tests.fixtures.api import ApiServer
from tests.fixtures.forward import LoopbackForward
from tests.fixtures.images import Catalogue, build_catalogue, push_catalogue, verify_catalogue
from tests.fixtures.proxy import CountingProxy, start_proxy
from tests.fixtures.registry import RunningRegistry, start_registry
from tests.fixtures.store import Berth, Store, mount_store, unmount_store

SESSION_ID = os.environ.setdefault(leaks.SESSION_MARKER, uuid.uuid4().hex)
# Containers' cgroups go under a parent of this session's own, removed at the end.
CGROUP_PARENT = os.environ.setdefault("BERTH_CGROUP_PARENT", f"berth-test-{SESSION_ID[:12]}")
# A test's store is gone when the test ends: its idle monitor zygote need not stay the 30 s
# a working session's does (a test of the default sets its own).
os.environ.setdefault("BERTH_ZYGOTE_LINGER", "2")
_BEFORE = pytest.StashKey[leaks.Snapshot]()
_SCOPE = pytest.StashKey[list[Path]]()


def _guard_mode() -> str:
    """BERTH_LEAK_GUARD: "session" (default), "strict" (anything berth-like, anyone's) or "0"."""
    mode = os.environ.get("BERTH_LEAK_GUARD", "session").lower()
    return "off" if mode in ("0", "off", "false", "no") else mode


def _take_snapshot(config: pytest.Config) -> leaks.Snapshot:
    scope = None if _guard_mode() == "strict" else config.stash[_SCOPE]
    return leaks.snapshot(SESSION_ID, scope)


@pytest.fixture(scope="session", autouse=True)
def leak_guard(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Take the 'before' snapshot; `pytest_sessionfinish` compares after all teardown."""
    if _guard_mode() == "off":
        return
    request.config.stash[_SCOPE] = [tmp_path_factory.getbasetemp()]
    request.config.stash[_BEFORE] = _take_snapshot(request.config)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if anything the guard watches was left behind.

    This runs after every fixture (the registry included) has been torn down.
    """
    before = session.config.stash.get(_BEFORE, None)
    if before is None:
        return
    found = leaks.settled_leaks(before, lambda: _take_snapshot(session.config))
    if not found:
        return
    report = leaks.format_leaks(found)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "LEAKS", red=True, bold=True)
        reporter.write_line(report)
    else:
        print(report)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def cgroup_parent() -> Iterator[str]:
    """The session's cgroup parent; its (by then empty) directories are removed at the end."""
    yield CGROUP_PARENT
    for hierarchy in leaks.CGROUP_ROOT.iterdir():
        parent = hierarchy / CGROUP_PARENT
        if parent.is_dir():
            for child in sorted(parent.glob("*/"), reverse=True):
                child.rmdir()
            parent.rmdir()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogue]:
    """One registry for the session, serving the whole image catalogue.

    `registry["app-a"]` is app-a's `latest` tag (Docker schema2, gzip); `registry["app-a:oci-zstd"]`
    another variant. Each is an `ImageInfo` with `.reference`, `.manifest_digest`, `.layers`...
    """
    started = time.monotonic()
    built = build_catalogue()
    server = start_registry(tmp_path_factory.mktemp("registry"))
    try:
        catalogue = push_catalogue(server.host, server.url, built, server=server)
        verify_catalogue(catalogue)
        elapsed = time.monotonic() - started
        print(
            f"\nregistry fixture: {len(catalogue.images)} tags on {server.host} in {elapsed:.1f}s"
        )
        yield catalogue
    finally:
        server.stop()


@pytest.fixture
def proxy(registry: Catalogue) -> Iterator[CountingProxy]:
    """A fresh proxy in front of the session registry: pull through `proxy.host` instead."""
    running = start_proxy(registry.url)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def empty_registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    running = start_registry(tmp_path / "empty-registry")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh tmpfs store; mounts the test left inside it fail the test (and are removed)."""
    mounted = mount_store(tmp_path / "store")
    try:
        yield mounted
    finally:
        leftovers = unmount_store(mounted)
    if leftovers:
        pytest.fail(f"test left mounts inside its store: {leftovers}", pytrace=False)


@pytest.fixture
def host_ns() -> Iterator[netns.HostNamespace]:
    """A network namespace playing the host (see tests/fixtures/netns.py)."""
    namespace = netns.create()
    try:
        yield namespace
        left = netns.leftovers(namespace)
    finally:
        netns.delete(namespace)
    if left:
        pytest.fail(f"test left network state in its namespace: {left}", pytrace=False)


@pytest.fixture
def berth(store: Store, host_ns: netns.HostNamespace) -> Iterator[Berth]:
    """`berth("pull", ref)` runs the CLI against `store` and returns the CompletedProcess.

    Containers run inside `host_ns`, a network namespace that plays the host, so their
    bridges and nft rules never touch the machine's own network; networks a test leaves, and
    the default bridge berth keeps, are removed before the namespace is checked for
    leftovers."""
    runner = Berth(store, prefix=host_ns.prefix)
    yield runner
    for network in runner("network", "ls", "-q", "--filter", "type=custom").stdout.split():
        runner("network", "rm", network)
    runner("network", "prune", "-f")  # the default bridge, kept between containers


@pytest.fixture
def busybox(registry: Catalogue, berth: Berth) -> Iterator[str]:
    """The catalogue's busybox base image, pulled and tagged `busybox`; every container left
    at the end is removed before the store unmounts."""
    reference = registry["base"].reference
    assert berth("pull", "-q", reference).returncode == 0
    assert berth("tag", reference, "busybox").returncode == 0
    yield "busybox"
    for container_id in berth("ps", "-aq", "--no-trunc").stdout.split():
        berth("rm", "-f", container_id)


@pytest.fixture
def api(
    store: Store, host_ns: netns.HostNamespace, registry: Catalogue, berth: Berth, tmp_path: Path
) -> Iterator[ApiServer]:
    """`berth serve` on the test's store, inside `host_ns` with the registry forwarded in;
    the docker CLI reaches it with `api.docker(...)`. At the end every container is removed,
    the server must stop on SIGTERM with status 0, and its log must hold no traceback."""
    forward = LoopbackForward(host_ns.path, int(registry.host.rpartition(":")[2]))
    server = ApiServer(store, host_ns.prefix, tmp_path / "api")
    try:
        server.start()
        yield server
    finally:
        for container_id in berth("ps", "-aq", "--no-trunc").stdout.split():
            berth("rm", "-f", container_id)
        status = server.stop()
        forward.close()
    log = server.log()
    if status != 0 or "Traceback" in log:
        pytest.fail(f"berth serve ended with {status}; its log:\n{log[-3000:]}", pytrace=False)
