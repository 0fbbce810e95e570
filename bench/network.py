"""Networking: what the bridge network costs per container, and throughput through a port.

Why: issue 4 asks for "network set-up time per container, as part of `run` latency;
throughput through a published port against Docker's on the same machine". One run measures
berth, docker (a private dockerd with a bridge and iptables) and podman (a CNI network of its
own) on the same busybox image, stores on one private tmpfs (`bench_root`), like bench/run.py.

1. Latency: `run --rm IMAGE true` with `--network none`, with the default bridge network, and
   with the bridge plus one published port (`-p HOST:5000`), interleaved run by run (none,
   bridge, publish, none, ...) so drift on this shared machine bills every mode alike. bridge
   minus none is the network set-up and teardown per container. Twice: with no other
   container, and while a `sleep` container keeps the default bridge up (berth creates its
   bridge with the first container on it and deletes it with the last; docker0 and podman's
   CNI bridge stay). For berth, the helper
   processes behind that cost (`ip -batch`, `nft -f`, ...) are timed under `strace -f
   --seccomp-bpf -e trace=process`, which stops only at process events, so programs that
   fork little run at nearly full speed.
2. Throughput: a busybox container runs `nc -ll -p 5000 -e sh -c 'exec dd of=/dev/null
   bs=1M'` (a persistent listener; one dd per connection, reading 1 MiB at a time: plain
   `nc -l > /dev/null` reads 8 KiB per select() and tops out at ~0.5 GB/s here, which would
   hide the paths' differences) with `-p PORT:5000`. A client (a Python subprocess:
   connect, sendall of `--bytes` zeros in 4 MiB writes, shutdown, wait for the peer's close,
   which comes once dd has read everything) sends to:
   - 127.0.0.1:PORT (docker: its userland docker-proxy; berth and podman: kernel DNAT),
   - the host's own address (eth0's, 192.0.2.2 here):PORT (kernel DNAT for everyone),
   - the same address from a network namespace this benchmark creates, joined to the host by
     a veth pair: forwarded traffic (prerouting DNAT, then the FORWARD hook), as from a LAN,
   - the container's own address on the bridge, port 5000: no NAT, the reference path.
   In phases: berth alone beside the same receiver as a host process (busybox over
   127.0.0.1, no container: the ceiling); then docker as installed (userland proxy on), docker
   with `--userland-proxy=false` (127.0.0.1 by kernel DNAT too) and podman, each beside a
   berth receiver, all of a phase's paths interleaved round by round, so berth's ratio to each
   peer comes from the same minutes. berth beside a running dockerd also shows whether
   docker's iptables rules and FORWARD policy change berth's traffic (they must not).

Traffic only goes to loopback, this machine's own addresses, the tools' containers and the
namespace created here. dockerd gets a bridge created here (not docker0) on a subnet no route
of the host uses; podman a CNI network (its own bridge, subnet and IPAM directory). Both
change the host's iptables (nftables backend) tables: their rules and chains are removed
after each (only rules naming DOCKER, CNI-, their bridge or subnet; chain policies restored),
and whatever still differs from the state before is reported. berth's own nft table and
bridge must be gone once its containers are.

Everything is cleaned up in `finally` blocks. Must not import `berth`.
Usage: `.venv/bin/python -m bench.network [--runs 20] [--rounds 5] [--bytes 1073741824]`.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import logging
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.peers import (
    DOCKER,
    Berth,
    Docker,
    Podman,
    bench_root,
    filesystem_of,
    start_logging_and_choose,
    versions,
)
from bench.proc import free_port, remove_tree, run, stop_process, timed
from bench.run import (
    REPOSITORY,
    WARMUP,
    build_busybox,
    cleanup_cgroups,
    container_env,
    remove_all,
    wait_for_store_processes,
)
from bench.samples import Samples
from tests.fixtures import oci_layout as oci
from tests.fixtures.registry import start_registry

log = logging.getLogger("bench.network")

RESULTS = Path(__file__).resolve().parent / "results"
IP = "/usr/sbin/ip" if Path("/usr/sbin/ip").exists() else "/sbin/ip"
NFT = "/usr/sbin/nft"
BUSYBOX = "/bin/busybox"
CONTAINER_PORT = 5000
RECEIVER = ["nc", "-ll", "-p", str(CONTAINER_PORT), "-e", "sh", "-c"]
RECEIVER_SCRIPT = "exec dd of=/dev/null bs=1M 2>/dev/null"
CHUNK = 4 << 20
MODES = ("none", "bridge", "publish")
HOST = "host (no container)"
ALONE = "berth alone"
# Interface names of our own (<= 15 characters), unique per benchmark process.
TAG = f"bb{os.getpid() % 100000}"
DOCKER_BRIDGE = f"{TAG}-dk"
PODMAN_BRIDGE = f"{TAG}-pm"
PEER_NETNS = f"berth-bench-{TAG}"
PEER_HOST_END = f"{TAG}-fh"
PEER_INNER_END = f"{TAG}-fc"

# The client, run as its own process (also inside the peer namespace): connect, send `total`
# bytes, half-close, wait for the receiver's close. Prints the seconds from connect to close.
CLIENT = r"""
import socket, sys, time
host, port, total, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = memoryview(bytes(chunk))
start = time.perf_counter()
s = socket.create_connection((host, port), timeout=10)
s.settimeout(120)
sent = 0
while sent < total:
    n = min(chunk, total - sent)
    s.sendall(data[:n])
    sent += n
s.shutdown(socket.SHUT_WR)
extra = s.recv(1)
seconds = time.perf_counter() - start
if extra:
    sys.exit("the receiver sent data")
print(seconds)
"""


@dataclass(slots=True)
class Latency(Samples):
    tool: str
    mode: str
    context: str = "alone"  # or "held": another container keeps the bridge up


@dataclass(slots=True)
class Throughput:
    """Transfers of `size` bytes to one target: seconds each."""

    phase: str  # what else ran meanwhile: ALONE, a dockerd, podman's network
    tool: str
    target: str
    address: str
    size: int
    seconds: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def rates(self) -> list[float]:
        return [self.size / s / 1e6 for s in self.seconds]

    @property
    def median(self) -> float | None:
        return statistics.median(self.rates) if self.seconds else None


@dataclass(slots=True)
class Helper:
    """A program berth ran during one traced `run --rm true`: pid, label, start and length."""

    label: str
    start_ms: float
    ms: float


# -- the host's state: subnets, iptables, nft tables -------------------------------------------


def _used_networks() -> list[ipaddress.IPv4Network]:
    used: list[ipaddress.IPv4Network] = []
    routes = run([IP, "-json", "-4", "route", "show", "table", "all"], check=False).stdout
    for route in json.loads(routes or "[]"):
        dst = str(route.get("dst") or "")
        if dst and dst != "default":
            with contextlib.suppress(ValueError):
                used.append(ipaddress.IPv4Network(dst, strict=False))
    addresses = run([IP, "-json", "-4", "addr"], check=False).stdout
    for link in json.loads(addresses or "[]"):
        for info in link.get("addr_info", []):
            with contextlib.suppress(ValueError, KeyError):
                used.append(
                    ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False)
                )
    return used


def free_subnet(start: str, prefix: int) -> ipaddress.IPv4Network:
    """The first subnet of size `prefix` from `start` on that overlaps no route or address."""
    used = _used_networks()
    base = ipaddress.IPv4Network(start)
    for candidate in base.subnets(new_prefix=prefix):
        if not any(candidate.overlaps(other) for other in used):
            return candidate
    raise RuntimeError(f"no free /{prefix} in {start}")


def own_address() -> str:
    """The address of the interface the default route leaves by (eth0's: 192.0.2.2 here)."""
    routes = json.loads(run([IP, "-json", "-4", "route", "show", "default"]).stdout or "[]")
    if not routes:
        raise RuntimeError("no default route: no non-loopback address to measure")
    device = routes[0]["dev"]
    links = json.loads(run([IP, "-json", "-4", "addr", "show", "dev", device]).stdout)
    return str(links[0]["addr_info"][0]["local"])


@dataclass(slots=True)
class Tables:
    """One family's iptables state (the nftables backend, as dockerd and CNI use it)."""

    policies: dict[tuple[str, str], str] = field(default_factory=dict)
    chains: set[tuple[str, str]] = field(default_factory=set)
    rules: list[tuple[str, str]] = field(default_factory=list)


IPTABLES = {"iptables": "/usr/sbin/iptables", "ip6tables": "/usr/sbin/ip6tables"}


def iptables_state(family: str) -> Tables:
    state = Tables()
    text = run([f"{IPTABLES[family]}-save"], check=False).stdout
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            name, policy = line[1:].split()[:2]
            if policy == "-":
                state.chains.add((table, name))
            else:
                state.policies[(table, name)] = policy
        elif line.startswith("-A "):
            state.rules.append((table, line))
    return state


def nft_tables() -> set[str]:
    out = run([NFT, "list", "tables"], check=False).stdout
    return {line.removeprefix("table ").strip() for line in out.splitlines() if line.strip()}


@dataclass(slots=True)
class HostState:
    tables: dict[str, Tables]
    nft: set[str]

    @staticmethod
    def now() -> HostState:
        return HostState({family: iptables_state(family) for family in IPTABLES}, nft_tables())


def undo_peer_rules(before: HostState, marks: Sequence[str]) -> list[str]:
    """Remove the iptables rules and chains a peer added (those naming one of `marks`),
    restore the built-in chains' policies, drop the iptables-nft tables that did not exist
    before and are empty again; return what still differs from `before`."""

    def ours(text: str) -> bool:
        return any(mark in text for mark in marks)

    for family, binary in IPTABLES.items():
        old = before.tables[family]
        now = iptables_state(family)
        new_chains = {c for c in now.chains - old.chains if ours(c[1])}
        for table, rule in reversed(now.rules):
            chain = rule.split()[1]
            if (table, rule) in old.rules or (table, chain) in new_chains or not ours(rule):
                continue
            run([binary, "-t", table, "-D", *shlex.split(rule)[1:]], check=False)
        for table, chain in new_chains:
            run([binary, "-t", table, "-F", chain], check=False)
        for table, chain in new_chains:
            run([binary, "-t", table, "-X", chain], check=False)
        for (table, chain), policy in old.policies.items():
            if now.policies.get((table, chain), policy) != policy:
                log.warning("restoring %s -t %s -P %s %s", binary, table, chain, policy)
                run([binary, "-t", table, "-P", chain, policy], check=False)
    # Tables iptables-nft created for the peer: gone if nothing else uses them now.
    for name in sorted(nft_tables() - before.nft):
        family, _, table = name.partition(" ")
        tool = "iptables" if family == "ip" else "ip6tables" if family == "ip6" else None
        if tool is None:
            continue
        state = iptables_state(tool)
        if (
            not any(t == table for t, _ in state.rules)
            and not any(t == table for t, _ in state.chains)
            and all(p == "ACCEPT" for (t, _), p in state.policies.items() if t == table)
        ):
            run([NFT, "delete", "table", family, table], check=False)
    return host_differences(before)


def host_differences(before: HostState) -> list[str]:
    after = HostState.now()
    found: list[str] = []
    for family in IPTABLES:
        old, new = before.tables[family], after.tables[family]
        found += [f"{family} -t {t} {r}" for t, r in new.rules if (t, r) not in old.rules]
        found += [f"{family} -t {t} -N {c}" for t, c in new.chains - old.chains]
        found += [
            f"{family} -t {t} -P {c} {p} (was {old.policies[(t, c)]})"
            for (t, c), p in new.policies.items()
            if (t, c) in old.policies and old.policies[(t, c)] != p
        ]
    found += [f"nft table {name}" for name in sorted(after.nft - before.nft)]
    return found


def link_exists(device: str) -> bool:
    return run([IP, "link", "show", "dev", device], check=False).returncode == 0


def remove_link(device: str) -> None:
    if link_exists(device):
        run([IP, "link", "del", device], check=False)


@contextlib.contextmanager
def peer_namespace() -> Iterator[str]:
    """A namespace joined to the host by a veth pair on a free /30, default route via the
    host: a client there is "another machine" whose traffic the host forwards."""
    subnet = free_subnet("10.215.0.0/16", 30)
    host_ip, inner_ip = (str(a) for a in list(subnet.hosts())[:2])
    try:
        run([IP, "netns", "add", PEER_NETNS])
        veth = ["type", "veth", "peer", "name", PEER_INNER_END, "netns", PEER_NETNS]
        run([IP, "link", "add", PEER_HOST_END, *veth])
        run([IP, "addr", "add", f"{host_ip}/30", "dev", PEER_HOST_END])
        run([IP, "link", "set", PEER_HOST_END, "up"])
        inside = [IP, "netns", "exec", PEER_NETNS, IP]
        run([*inside, "link", "set", "lo", "up"])
        run([*inside, "addr", "add", f"{inner_ip}/30", "dev", PEER_INNER_END])
        run([*inside, "link", "set", PEER_INNER_END, "up"])
        run([*inside, "route", "add", "default", "via", host_ip])
        yield PEER_NETNS
    finally:
        remove_link(PEER_HOST_END)
        run([IP, "netns", "del", PEER_NETNS], check=False)


# -- latency -----------------------------------------------------------------------------------


def _podman_flags(tool: object) -> list[str]:
    """podman: runc and small explicit rlimits (see bench/run.py's `_runtime`)."""
    if not isinstance(tool, Podman):
        return []
    return ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]


def run_argv(tool: Berth | Docker | Podman, reference: str, mode: str, port: int) -> list[str]:
    network = {
        "none": ["--network", "none"],
        "bridge": [],
        "publish": ["-p", f"{port}:{CONTAINER_PORT}"],
    }[mode]
    return tool.argv("run", *_podman_flags(tool), "--rm", *network, reference, "true")


@contextlib.contextmanager
def bridge_held(tool: Berth | Docker | Podman, reference: str) -> Iterator[None]:
    """A `sleep` container on the default bridge meanwhile: berth creates its bridge with the
    first container on it and deletes it with the last (docker's docker0 and podman's CNI
    bridge stay), so `run --rm` alone pays for the bridge too."""
    env = container_env(tool)
    argv = tool.argv("run", *_podman_flags(tool), "-d", reference, "sleep", "3600")
    ident = run(argv, env=env, timeout=120).stdout.strip().splitlines()[-1]
    try:
        yield
    finally:
        extra = ["-t", "0"] if isinstance(tool, Podman) else []
        run(tool.argv("rm", "-f", *extra, ident), env=env, check=False)
        if isinstance(tool, Berth):  # its kept default bridge and nft table: not a peer's leftover
            run(tool.argv("network", "prune", "-f"), env=env, check=False)


def latencies(
    tool: Berth | Docker | Podman, name: str, reference: str, runs: int, context: str
) -> list[Latency]:
    """`run --rm true` per mode, interleaved; a mode that fails stops being run."""
    env = container_env(tool)
    port = free_port()
    results = {mode: Latency(name, mode, context) for mode in MODES}
    existing = set(run(tool.argv("ps", "-aq"), env=env, check=False).stdout.split())
    for i in range(WARMUP + runs):
        for mode in MODES:
            result = results[mode]
            if result.error:
                continue
            seconds, proc = timed(run_argv(tool, reference, mode, port), env=env, timeout=120)
            if proc.returncode != 0:
                result.error = f"exit {proc.returncode}: {(proc.stderr or '').strip()[-300:]}"
                log.warning("%s run --rm (%s) failed: %s", name, mode, result.error)
                continue
            if i >= WARMUP:
                result.samples.append(seconds)
    left = set(run(tool.argv("ps", "-aq"), env=env, check=False).stdout.split()) - existing
    if left:
        log.warning("%s run --rm left containers behind: %s", name, left)
    return list(results.values())


def both_contexts(
    tool: Berth | Docker | Podman, name: str, reference: str, runs: int
) -> list[Latency]:
    """Alone, then with a container holding the bridge (skipped if the bridge fails)."""
    found = latencies(tool, name, reference, runs, "alone")
    if any(lat.error for lat in found if lat.mode != "none"):
        return found
    with bridge_held(tool, reference):
        return found + latencies(tool, name, reference, runs, "held")


def helpers_of_run(tool: Berth, reference: str, mode: str, out: Path) -> list[Helper]:
    """The programs one traced `berth run --rm true` ran: each exec'd process's label (its
    program, and for Python the module or berth subcommand), when it started and how long it
    lived, in ms since the CLI's exec."""
    env = container_env(tool)
    argv = [
        "strace",
        "-f",
        "--seccomp-bpf",
        "-ttt",
        "-e",
        "trace=process",
        "-e",
        "signal=none",
        "-o",
        str(out),
        *run_argv(tool, reference, mode, 0),
    ]
    run(argv, env=env, timeout=120)
    starts: dict[str, float] = {}
    labels: dict[str, str] = {}
    ends: dict[str, float] = {}
    pending: dict[str, str] = {}  # an execve strace shows as <unfinished ...>, then resumed
    first: float | None = None
    line_re = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
    for line in out.read_text().splitlines():
        m = line_re.match(line)
        if not m:
            continue
        pid, stamp, rest = m.group(1), float(m.group(2)), m.group(3)
        first = stamp if first is None else first
        starts.setdefault(pid, stamp)
        if rest.startswith("execve("):
            pending[pid] = _label(rest)
        if (rest.startswith(("execve(", "<... execve resumed>"))) and rest.rstrip().endswith("= 0"):
            labels[pid] = pending.pop(pid, "?")
        elif rest.startswith("+++ exited") or rest.startswith("+++ killed"):
            ends[pid] = stamp
    assert first is not None
    return sorted(
        (
            Helper(labels[pid], (starts[pid] - first) * 1000, (ends[pid] - starts[pid]) * 1000)
            for pid in labels
            if pid in ends
        ),
        key=lambda h: h.start_ms,
    )


def _label(execve: str) -> str:
    """`ip -batch`, `nft -f`, `berth run`, `python -m berth.monitor`, ..."""
    m = re.match(r'execve\("([^"]+)", \[(.*?)\]', execve)
    if not m:
        return "?"
    program = os.path.basename(m.group(1))
    args = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))[1:]
    if program.startswith("python"):
        if "-m" in args:
            return f"python -m {args[args.index('-m') + 1]}"
        return "python"
    if program == "berth":
        words = [a for a in args if not a.startswith("-") and "/" not in a]
        return f"berth {' '.join(words[: 2 if words[:1] == ['container'] else 1])}".strip()
    if program in ("ip", "nft"):
        return f"{program} {' '.join(args[:1])}".strip()
    return program


TRACED = {"none": ("none", False), "bridge": ("bridge", False), "bridge, held": ("bridge", True)}


def breakdown(tool: Berth, reference: str, base: Path, runs: int) -> dict[str, object]:
    """Per traced case: the helpers of `runs` traced runs (each run's list), and per label
    the median over runs of (count, total ms)."""
    found: dict[str, object] = {}
    for key, (mode, held) in TRACED.items():
        with bridge_held(tool, reference) if held else contextlib.nullcontext():
            traces = [
                helpers_of_run(tool, reference, mode, base / f"strace-{i}.txt") for i in range(runs)
            ]
        totals: dict[str, list[tuple[int, float]]] = {}
        for helpers in traces:
            per: dict[str, tuple[int, float]] = {}
            for h in helpers:
                count, ms = per.get(h.label, (0, 0.0))
                per[h.label] = (count + 1, ms + h.ms)
            for label, value in per.items():
                totals.setdefault(label, []).append(value)
        found[key] = {
            "runs": [[asdict(h) for h in helpers] for helpers in traces],
            "median": {
                label: (
                    statistics.median(c for c, _ in values),
                    statistics.median(ms for _, ms in values),
                    len(values),
                )
                for label, values in totals.items()
            },
        }
    return found


# -- throughput --------------------------------------------------------------------------------


def transfer(
    host: str, port: int, size: int, netns: str | None = None
) -> tuple[float | None, str | None]:
    """One transfer by a client process: (seconds, None) or (None, why it failed)."""
    argv = [sys.executable, "-c", CLIENT, host, str(port), str(size), str(CHUNK)]
    if netns:
        argv = [IP, "netns", "exec", netns, *argv]
    _wall, proc = timed(argv, timeout=300)
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {(proc.stderr or '').strip()[-300:]}"
    return float(proc.stdout.strip()), None


def wait_listening(host: str, port: int, netns: str | None = None, timeout: float = 20) -> None:
    """A connection through this path gets accepted (and closed: dd reads nothing)."""
    deadline = time.monotonic() + timeout
    error = ""
    while time.monotonic() < deadline:
        seconds, error_or_none = transfer(host, port, 1, netns)
        if seconds is not None:
            return
        error = error_or_none or ""
        time.sleep(0.2)
    raise RuntimeError(f"{host}:{port} never answered: {error}")


@dataclass(slots=True)
class Target:
    tool: str
    name: str
    host: str
    port: int
    netns: str | None = None


def measure_targets(
    phase: str, targets: Sequence[Target], rounds: int, size: int
) -> list[Throughput]:
    """One untimed transfer per target, then `rounds` rounds, each over every target of every
    tool in turn: drift on this shared machine bills the tools of one phase alike."""
    results = [Throughput(phase, t.tool, t.name, f"{t.host}:{t.port}", size) for t in targets]
    pairs = list(zip(targets, results, strict=True))
    for target, result in pairs:
        try:
            wait_listening(target.host, target.port, target.netns)
        except RuntimeError as error:
            result.error = str(error)
            log.warning("%s %s: %s", target.tool, target.name, error)
    for i in range(1 + rounds):
        for target, result in pairs:
            if result.error:
                continue
            seconds, error = transfer(target.host, target.port, size, target.netns)
            if error is not None:
                result.error = error
                log.warning("%s %s: %s", target.tool, target.name, error)
            elif i > 0:
                result.seconds.append(seconds or 0.0)
    for result in results:
        if result.median is not None:
            log.info("[%s] %s %s: %.0f MB/s", phase, result.tool, result.target, result.median)
    return results


def container_address(tool: Berth | Docker | Podman, env: Mapping[str, str], ident: str) -> str:
    document = json.loads(run(tool.argv("inspect", ident), env=env).stdout)[0]
    settings = document.get("NetworkSettings") or {}
    if settings.get("IPAddress"):
        return str(settings["IPAddress"])
    for network in (settings.get("Networks") or {}).values():
        if network.get("IPAddress"):
            return str(network["IPAddress"])
    raise RuntimeError(f"no address for container {ident}")


@contextlib.contextmanager
def receiver(
    tool: Berth | Docker | Podman, name: str, reference: str, address: str, netns: str | None
) -> Iterator[list[Target]]:
    """The receiver container with a published port, and the paths to it; removed after."""
    env = container_env(tool)
    port = free_port()
    argv = tool.argv(
        "run",
        *_podman_flags(tool),
        "-d",
        "-p",
        f"{port}:{CONTAINER_PORT}",
        reference,
        *RECEIVER,
        RECEIVER_SCRIPT,
    )
    proc = run(argv, env=env, check=False, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"run -d -p {port}:{CONTAINER_PORT} failed: {proc.stderr[-300:]}")
    ident = proc.stdout.strip().splitlines()[-1]
    try:
        inner = container_address(tool, env, ident)
        targets = [
            Target(name, "127.0.0.1", "127.0.0.1", port),
            Target(name, "own address", address, port),
            Target(name, "own address from a namespace", address, port, netns),
            Target(name, "container address", inner, CONTAINER_PORT),
        ]
        yield [t for t in targets if t.name != "own address from a namespace" or netns]
    finally:
        extra = ["-t", "0"] if isinstance(tool, Podman) else []
        run(tool.argv("rm", "-f", *extra, ident), env=env, check=False)
        if isinstance(tool, Berth):  # its kept default bridge and nft table: not a peer's leftover
            run(tool.argv("network", "prune", "-f"), env=env, check=False)


@contextlib.contextmanager
def host_receiver() -> Iterator[list[Target]]:
    """The same receiver as a host process over 127.0.0.1: no container, no NAT."""
    port = free_port()
    argv = [BUSYBOX, "nc", "-ll", "-p", str(port), "-e", "sh", "-c", RECEIVER_SCRIPT]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        yield [Target(HOST, "127.0.0.1", "127.0.0.1", port)]
    finally:
        stop_process(process, timeout=10)


def throughput_phase(
    report: Report,
    phase: str,
    tools: Sequence[tuple[str, Berth | Docker | Podman | None]],
    reference: str,
    address: str,
    netns: str | None,
    args: argparse.Namespace,
) -> None:
    """Every tool's receiver up at once (None: the host's), their paths measured interleaved."""
    with contextlib.ExitStack() as stack:
        targets: list[Target] = []
        for name, tool in tools:
            try:
                if tool is None:
                    targets += stack.enter_context(host_receiver())
                else:
                    targets += stack.enter_context(receiver(tool, name, reference, address, netns))
            except RuntimeError as error:
                log.warning("[%s] %s: %s", phase, name, error)
                report.throughput.append(
                    Throughput(phase, name, "all", "", args.bytes, error=str(error))
                )
        report.throughput += measure_targets(phase, targets, args.rounds, args.bytes)


# -- the peers' networks -----------------------------------------------------------------------


def make_bridge(device: str, subnet: ipaddress.IPv4Network) -> None:
    """dockerd's bridge, created here: `--bridge` names an existing bridge and takes its
    address as the network (docker0 and 172.17.0.0/16 would clash with berth's first pool)."""
    gateway = next(subnet.hosts())
    run([IP, "link", "add", "name", device, "type", "bridge"])
    run([IP, "addr", "add", f"{gateway}/{subnet.prefixlen}", "dev", device])
    run([IP, "link", "set", device, "up"])


def docker_network(userland_proxy: bool) -> list[str]:
    return [
        f"--bridge={DOCKER_BRIDGE}",
        "--iptables=true",
        "--ip-forward=true",
        "--ip-masq=true",
        f"--userland-proxy={'true' if userland_proxy else 'false'}",
    ]


def podman_network(store: Path, subnet: ipaddress.IPv4Network) -> str:
    """A CNI network like Debian's default (87-podman-bridge.conflist: bridge, portmap,
    firewall, tuning), with its own name, bridge, subnet and IPAM directory; the [network]
    section of containers.conf that makes it podman's default."""
    config = store / "cni"
    config.mkdir(parents=True, exist_ok=True)
    conflist = {
        "cniVersion": "0.4.0",
        "name": "berthbench",
        "plugins": [
            {
                "type": "bridge",
                "bridge": PODMAN_BRIDGE,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(store / "cni-ipam"),
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "ranges": [[{"subnet": str(subnet), "gateway": str(next(subnet.hosts()))}]],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "firewall"},
            {"type": "tuning"},
        ],
    }
    (config / "berthbench.conflist").write_text(json.dumps(conflist, indent=2))
    return (
        "[network]\n"
        'network_backend = "cni"\n'
        f'network_config_dir = "{config}"\n'
        'cni_plugin_dirs = ["/usr/lib/cni"]\n'
        'default_network = "berthbench"\n'
    )


def berth_host_names(tool: Berth) -> str | None:
    """The name of the berth store's bridge and nft table (`berth-<hash>`)."""
    proc = run(tool.argv("network", "inspect", "bridge"), env=tool.env, check=False)
    if proc.returncode != 0:
        return None
    options = json.loads(proc.stdout)[0].get("Options") or {}
    return options.get("com.docker.network.bridge.name")


def berth_leftovers(tool: Berth) -> list[str]:
    """berth's bridge or nft table still there with no container running: a bug."""
    name = berth_host_names(tool)
    found = []
    if name and link_exists(name):
        found.append(f"bridge {name} still exists")
    if name and f"inet {name}" in nft_tables():
        found.append(f"nft table inet {name} still exists")
    return found


# -- the run -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    latencies: list[Latency] = field(default_factory=list)
    throughput: list[Throughput] = field(default_factory=list)
    breakdown: dict[str, object] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def pull(tool: Berth | Docker | Podman, reference: str) -> str | None:
    proc = run(tool.pull_argv(reference), env=container_env(tool), check=False, timeout=300)
    return None if proc.returncode == 0 else f"pull failed: {proc.stderr.strip()[-300:]}"


def _with_berth(
    name: str, tool: Docker | Podman, berth: Berth | None
) -> list[tuple[str, Berth | Docker | Podman | None]]:
    return [(name, tool)] + ([("berth", berth)] if berth is not None else [])


def measure_berth(
    report: Report,
    tool: Berth,
    reference: str,
    args: argparse.Namespace,
    base: Path,
    address: str,
    netns: str | None,
) -> bool:
    """berth's latencies and breakdown, then its throughput beside the host's ceiling; False
    if berth cannot run containers here (the peers are then measured alone)."""
    error = pull(tool, reference)
    if error:
        report.latencies.append(Latency("berth", "none", error=error))
        return False
    report.latencies += both_contexts(tool, "berth", reference, args.runs)
    if shutil.which("strace"):
        report.breakdown = breakdown(tool, reference, base, args.traced)
    throughput_phase(
        report, ALONE, [(HOST, None), ("berth", tool)], reference, address, netns, args
    )
    remove_all(tool, container_env(tool))
    time.sleep(0.5)  # the last container's namespace, and with it its veth, go in the background
    report.findings += [f"berth: {what}" for what in berth_leftovers(tool)]
    return True


def measure_docker(
    report: Report,
    store: Path,
    reference: str,
    args: argparse.Namespace,
    address: str,
    netns: str | None,
    berth: Berth | None,
) -> None:
    """docker as installed (userland proxy): latencies, then throughput beside berth's; then
    a dockerd with `--userland-proxy=false`: throughput beside berth's."""
    subnet = free_subnet("10.213.0.0/16", 24)
    before = HostState.now()
    try:
        make_bridge(DOCKER_BRIDGE, subnet)
        for proxy in (True, False):
            name = "docker" if proxy else "docker --userland-proxy=false"
            tool = Docker(store, network=docker_network(proxy))
            try:
                tool.start()
                error = pull(tool, reference)
                if error:
                    report.latencies.append(Latency(name, "none", error=error))
                    return
                if proxy:
                    report.latencies += both_contexts(tool, name, reference, args.runs)
                    report.notes.append(
                        "with dockerd running: iptables FORWARD policy "
                        f"{iptables_state('iptables').policies.get(('filter', 'FORWARD'))}, "
                        f"ip_forward {_read('/proc/sys/net/ipv4/ip_forward')}, "
                        "bridge-nf-call-iptables "
                        f"{_read('/proc/sys/net/bridge/bridge-nf-call-iptables')}"
                    )
                phase = f"dockerd{'' if proxy else ' --userland-proxy=false'} running"
                throughput_phase(
                    report, phase, _with_berth(name, tool, berth), reference, address, netns, args
                )
            finally:
                remove_all(tool, container_env(tool))
                tool.stop()
    finally:
        remove_link(DOCKER_BRIDGE)
        marks = ("DOCKER", DOCKER_BRIDGE, str(subnet.network_address).rsplit(".", 1)[0] + ".")
        left = undo_peer_rules(before, marks)
        if left:
            report.findings.append(f"host state after docker differs: {left}")


def measure_podman(
    report: Report,
    store: Path,
    reference: str,
    args: argparse.Namespace,
    address: str,
    netns: str | None,
    berth: Berth | None,
) -> None:
    subnet = free_subnet("10.214.0.0/16", 24)
    before = HostState.now()
    store.mkdir(parents=True, exist_ok=True)
    tool = Podman(store, network_conf=podman_network(store, subnet))
    try:
        tool.start()
        error = pull(tool, reference)
        if error:
            report.latencies.append(Latency("podman", "none", error=error))
            return
        found = both_contexts(tool, "podman", reference, args.runs)
        report.latencies += found
        if all(lat.error for lat in found if lat.mode != "none"):
            report.notes.append("podman: its networking failed here; throughput skipped")
            return
        throughput_phase(
            report,
            "podman's network up",
            _with_berth("podman", tool, berth),
            reference,
            address,
            netns,
            args,
        )
    finally:
        remove_all(tool, container_env(tool))
        wait_for_store_processes(tool.store)
        tool.stop()
        remove_link(PODMAN_BRIDGE)
        marks = ("CNI-", PODMAN_BRIDGE, str(subnet.network_address).rsplit(".", 1)[0] + ".")
        left = undo_peer_rules(before, marks)
        if left:
            report.findings.append(f"host state after podman differs: {left}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" ({os.cpu_count()} CPUs)"


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "absent"


# -- the report --------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def render(report: Report, store_fs: str, args: argparse.Namespace, address: str) -> str:
    lines = [
        f"Store filesystem: {store_fs}; `run --rm true` {args.runs} runs per mode after "
        f"{WARMUP} warm-ups, interleaved; transfers of {args.bytes:,} bytes, {args.rounds} "
        f"rounds after one untimed; own address {address}",
        "",
        "| tool | bridge | `--network none` | bridge | bridge + `-p` | bridge - none "
        "| `-p` - none | bridge / docker's |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_tool: dict[tuple[str, str], dict[str, Latency]] = {}
    for lat in report.latencies:
        by_tool.setdefault((lat.tool, lat.context), {})[lat.mode] = lat
    contexts = {"alone": "no other container", "held": "a container keeps it up"}

    def diff(a: Latency | None, b: Latency | None) -> str:
        if a is None or b is None or a.median is None or b.median is None:
            return "-"
        return f"{(a.median - b.median) * 1000:+.1f} ms"

    for (tool, context), modes in by_tool.items():
        cells = []
        for mode in MODES:
            lat = modes.get(mode)
            if lat is None:
                cells.append("-")
            elif lat.error:
                cells.append(f"failed: {lat.error[:100]}")
            else:
                cells.append(_ms(lat.median))
        none, bridge, publish = (modes.get(m) for m in MODES)
        docker_bridge = by_tool.get(("docker", context), {}).get("bridge")
        ratio = "-"
        if bridge and bridge.median and docker_bridge and docker_bridge.median:
            ratio = f"{bridge.median / docker_bridge.median:.2f}x"
        lines.append(
            f"| {tool} | {contexts[context]} | {' | '.join(cells)} | {diff(bridge, none)} "
            f"| {diff(publish, none)} | {ratio} |"
        )
    if report.breakdown:
        lines += [
            "",
            "berth's helper processes per traced `run --rm true` (strace --seccomp-bpf, medians "
            "over runs: count, total ms):",
            "",
            "| program | " + " | ".join(TRACED) + " |",
            "|---|" + "---|" * len(TRACED),
        ]
        medians = {
            key: report.breakdown[key]["median"]  # type: ignore[index]
            for key in TRACED
        }
        labels = sorted(set().union(*medians.values()))
        for label in labels:
            cells = []
            for mode in TRACED:
                value = medians[mode].get(label)
                cells.append("-" if value is None else f"{value[0]:g}x, {value[1]:.1f} ms")
            lines.append(f"| `{label}` | {' | '.join(cells)} |")
        for key in ("bridge", "bridge, held"):
            first = report.breakdown[key]["runs"][0]  # type: ignore[index]
            lines += ["", f"One traced run, {key} (ms since the CLI's exec):", "", "```"]
            lines += [f"{h['start_ms']:8.1f} +{h['ms']:6.1f}  {h['label']}" for h in first]
            lines.append("```")
    targets: list[str] = []
    for t in report.throughput:
        if t.target not in targets and t.target != "all":
            targets.append(t.target)
    lines += [
        "",
        "Throughput, MB/s (10^6 bytes/s), median (min-max) of each path; berth's rows: ratio to "
        "the peer measured in the same rounds:",
        "",
        "| alongside | tool | " + " | ".join(targets) + " |",
        "|---|---|" + "---|" * len(targets),
    ]
    rows: dict[tuple[str, str], dict[str, Throughput]] = {}
    for t in report.throughput:
        rows.setdefault((t.phase, t.tool), {})[t.target] = t
    for (phase, tool), found in rows.items():
        peers = [other for (p, other) in rows if p == phase and other not in (tool, HOST)]
        reference = rows[(phase, peers[0])] if tool == "berth" and peers else {}
        cells = []
        for target in targets:
            t = found.get(target) or found.get("all")
            if t is None:
                cells.append("-")
            elif t.error:
                cells.append(f"failed: {t.error[:100]}")
            else:
                assert t.median is not None
                ref = reference.get(target)
                ratio = f", {t.median / ref.median:.2f}x" if ref and ref.median else ""
                cells.append(f"{t.median:,.0f} ({min(t.rates):,.0f}-{max(t.rates):,.0f}){ratio}")
        lines.append(f"| {phase} | {tool} | " + " | ".join(cells) + " |")
    for note in report.notes:
        lines += ["", f"Note: {note}"]
    for finding in report.findings:
        lines += ["", f"FINDING: {finding}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.network", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bytes", type=int, default=1 << 30)
    parser.add_argument("--traced", type=int, default=5, help="traced berth runs per mode")
    parser.add_argument("--tools", default="berth,docker,podman")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = start_logging_and_choose(args.tools, args.verbose)
    report = Report()
    address = own_address()
    store_fs = "?"
    try:
        with bench_root("tmpfs") as base:
            build_busybox(base / "layout")
            registry = start_registry(base / "registry")
            berth: Berth | None = None
            try:
                reference = f"{registry.host}/{REPOSITORY}"
                oci.push(base / "layout", "1", reference)
                store_fs = filesystem_of(base)
                report.notes.append(f"load average at the start: {_load()}")
                with peer_namespace() as netns:
                    companion: Berth | None = None  # measured beside each peer
                    if "berth" in names:
                        (base / "stores" / "berth").mkdir(parents=True)
                        berth = Berth(base / "stores" / "berth")
                        log.info("measuring berth")
                        if measure_berth(report, berth, reference, args, base, address, netns):
                            companion = berth
                    else:
                        throughput_phase(
                            report, "host", [(HOST, None)], reference, address, netns, args
                        )
                    if "docker" in names:
                        log.info("measuring docker")
                        measure_docker(
                            report,
                            base / "stores" / "docker",
                            reference,
                            args,
                            address,
                            netns,
                            companion,
                        )
                    if "podman" in names:
                        log.info("measuring podman")
                        measure_podman(
                            report,
                            base / "stores" / "podman",
                            reference,
                            args,
                            address,
                            netns,
                            companion,
                        )
                report.notes.append(f"load average at the end: {_load()}")
            finally:
                try:
                    if berth is not None:
                        remove_all(berth, container_env(berth))
                        report.findings += [f"berth: {w}" for w in berth_leftovers(berth)]
                finally:
                    registry.stop()
                    for store in ("berth", "docker", "podman"):
                        remove_tree(base / "stores" / store)
    finally:
        left = cleanup_cgroups()
        if left:
            log.warning("cgroups left behind: %s", left)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"network-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "store_filesystem": store_fs,
                "own_address": address,
                "versions": {**versions(), "docker-client": _version(DOCKER)},
                "args": vars(args),
                "latencies": [asdict(lat) for lat in report.latencies],
                "throughput": [asdict(t) for t in report.throughput],
                "breakdown": report.breakdown,
                "notes": report.notes,
                "findings": report.findings,
            },
            indent=2,
        )
    )
    print(render(report, store_fs, args, address))
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


def _version(binary: str) -> str:
    proc = run([binary, "--version"], check=False)
    return (proc.stdout or proc.stderr).strip().splitlines()[0] if proc.stdout else "?"


if __name__ == "__main__":
    raise SystemExit(main())
