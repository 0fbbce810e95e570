"""The Engine API: `berth serve` against dockerd, through Docker's own clients.

Why: issue 12 asks that berth's API server be no slower than dockerd where clients feel it,
and no heavier at rest:
- `docker ps` with 50 running containers through berth serve <= 1.0x through dockerd (the
  same docker 28 client binary against each socket; the whole command is timed);
- create+start+wait+remove of `busybox true` through docker-py, 20 in a row and from 10
  clients in parallel: containers per second >= dockerd's;
- the idle server's memory (PSS, /proc/PID/smaps_rollup) against dockerd + its containerd;
- per-request latency of `GET /containers/json` (50 running) and `GET /_ping` on one
  keep-alive connection (http.client over the unix socket), median and p90.

Both servers run on stores on one private tmpfs (`bench_root`), on the busybox image of
bench/run.py pushed to a loopback registry and pulled through each server's own API (`docker
pull` with the docker 28 client). dockerd is the private one of bench/peers.py: its own
data-root, exec-root and socket, no iptables, no docker0. With `--bridge` the `ps` series is
repeated with 50 containers on each tool's default bridge: dockerd's is a bridge created here
(never docker0) on a free subnet, still without iptables, ip forwarding or masquerading, and
berth's is its own (a bridge and an nft table of its own, gone with its last container); the
host's iptables and nft tables are compared before and after and any difference is reported.
The tools take turns run by run in every series (this VM's speed drifts over minutes).

Everything is cleaned up in `finally` blocks: containers removed through each API (and by
the berth CLI after the server stopped), both servers stopped, the bridge deleted, the tmpfs
unmounted, berth's cgroup parent removed. Must not import `berth`.
Usage: `.venv/bin/python -m bench.api [--runs 30] [--rounds 5] [--requests 500] [--bridge]`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.peers import (
    DOCKER_NO_NETWORK,
    Berth,
    BerthBaseline,
    Docker,
    bench_root,
    filesystem_of,
    start_logging_and_choose,
    versions,
)
from bench.proc import run, stop_process, timed
from bench.run import REPOSITORY, build_busybox, cleanup_cgroups, container_env, remove_all
from bench.samples import Samples
from tests.fixtures import oci_layout as oci
from tests.fixtures.registry import start_registry

log = logging.getLogger("bench.api")

RESULTS = Path(__file__).resolve().parent / "results"
DOCKER_CLIENT = "/usr/local/bin/docker"  # the docker 28 client, for both sockets
WARMUP = 3
LATENCY_WARMUP = 20
PATHS = ("/_ping", "/containers/json")


# -- the servers -------------------------------------------------------------------------------


class Server:
    """One API server on a unix socket, with the processes whose memory is its own."""

    name: str
    socket: Path

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def pids(self) -> list[int]: ...

    def url(self) -> str:
        return f"unix://{self.socket}"


class BerthServer(Server):
    """`berth serve` on a store of its own; containers get berth-bench's cgroup parent.
    `baseline`: another build (`$BERTH_BASELINE`), to measure a change before and after."""

    def __init__(self, store: Path, baseline: bool = False) -> None:
        self.tool = BerthBaseline(store) if baseline else Berth(store)
        self.name = self.tool.name
        self.socket = store / "berth.sock"
        self.log_path = store / "serve.log"
        self.env = container_env(self.tool)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = self.tool.argv("serve", "-H", self.url())
        with self.log_path.open("ab") as out:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if ping(self.socket):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"berth serve did not start:\n{self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, timeout=30)
            if self._process.returncode != 0:
                log.warning("berth serve exited %s", self._process.returncode)
            self._process = None

    def pids(self) -> list[int]:
        return [self._process.pid] if self._process is not None else []


class DockerServer(Server):
    """The private dockerd of bench/peers.py (its containerd is its child)."""

    name = "docker"

    def __init__(self, store: Path, network: Sequence[str]) -> None:
        self.tool = Docker(store, network)
        self.socket = self.tool.socket

    def start(self) -> None:
        self.tool.start()

    def stop(self) -> None:
        self.tool.stop()

    def pids(self) -> list[int]:
        """dockerd and the containerd it started; not the per-container shims (they leave
        containerd's tree, as berth's monitors leave berth serve's)."""
        pidfile = self.tool.store / "docker.pid"
        if not pidfile.exists():
            return []
        dockerd = int(pidfile.read_text().strip())
        return [dockerd, *children(dockerd, "containerd")]


def children(parent: int, comm: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == parent and name == comm:
            found.append(int(entry))
    return found


def ping(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in s.recv(1024)
    except OSError:
        return False


class UnixConnection(http.client.HTTPConnection):
    """http.client over a unix socket: one keep-alive connection."""

    def __init__(self, path: Path, timeout: float = 60) -> None:
        super().__init__("docker", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def api_client(server: Server) -> Any:
    import docker

    return docker.APIClient(base_url=server.url(), version="auto", timeout=120)


def docker_cli(server: Server, *args: str) -> list[str]:
    return [DOCKER_CLIENT, "-H", server.url(), *args]


def client_env(base: Path) -> dict[str, str]:
    config = base / "docker-client"
    config.mkdir(exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DOCKER_CONFIG": str(config)}


# -- measurements ------------------------------------------------------------------------------


@dataclass(slots=True)
class Series(Samples):
    """One measured quantity of one server: samples (seconds, or containers per second)."""

    server: str
    what: str

    @property
    def p90(self) -> float | None:
        if len(self.samples) < 2:
            return self.median
        return statistics.quantiles(self.samples, n=10, method="inclusive")[-1]


@dataclass(slots=True)
class Memory:
    server: str
    moment: str
    processes: list[str]
    rss_kib: int
    pss_kib: int


def memory(server: Server, moment: str) -> Memory:
    names, rss, pss = [], 0, 0
    for pid in server.pids():
        status = Path(f"/proc/{pid}/status").read_text()
        name = re.search(r"^Name:\s*(\S+)", status, re.M).group(1)  # type: ignore[union-attr]
        names.append(f"{name}[{pid}]")
        rss += int(re.search(r"^VmRSS:\s*(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        pss += int(re.search(r"^Pss:\s*(\d+)", rollup, re.M).group(1))  # type: ignore[union-attr]
    return Memory(server.name, moment, names, rss, pss)


def cycle(client: Any, image: str) -> None:
    """create, start, wait, remove of `true`: the four requests of one short-lived container."""
    host_config = client.create_host_config(network_mode="none")
    ident = client.create_container(image, "true", host_config=host_config)["Id"]
    client.start(ident)
    status = client.wait(ident)["StatusCode"]
    client.remove_container(ident)
    if status != 0:
        raise RuntimeError(f"true exited {status}")


def sequential(server: Server, image: str, count: int) -> float:
    """Containers per second of `count` cycles in a row by one docker-py client."""
    client = api_client(server)
    try:
        start = time.perf_counter()
        for _ in range(count):
            cycle(client, image)
        return count / (time.perf_counter() - start)
    finally:
        client.close()


def parallel(server: Server, image: str, clients: int, each: int) -> float:
    """Containers per second of `clients` docker-py clients (threads, one connection pool
    each) doing `each` cycles at once, from a common start to the last one's end."""
    made = [api_client(server) for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def work(client: Any) -> None:
        barrier.wait()
        try:
            for _ in range(each):
                cycle(client, image)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=work, args=(c,)) for c in made]
    try:
        for thread in threads:
            thread.start()
        barrier.wait()
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - start
    finally:
        for client in made:
            client.close()
    if errors:
        raise RuntimeError(f"{len(errors)} clients failed: {errors[0]!r}")
    return clients * each / seconds


def interleaved(
    servers: Sequence[Server],
    what: str,
    measure: Callable[[Server], float],
    runs: int,
    warmup: int,
) -> list[Series]:
    """Each server measured `runs` times after `warmup` untimed times, taking turns (the
    first to go alternates); a failure ends that server's series."""
    results = {s.name: Series(s.name, what) for s in servers}
    for i in range(warmup + runs):
        order = servers if i % 2 == 0 else list(reversed(servers))
        for server in order:
            result = results[server.name]
            if result.error:
                continue
            try:
                value = measure(server)
            except Exception as error:
                result.error = f"{type(error).__name__}: {error}"[:300]
                log.warning("%s %s: %s", server.name, what, result.error)
                continue
            if i >= warmup:
                result.samples.append(value)
    return list(results.values())


def docker_ps(servers: Sequence[Server], env: dict[str, str], what: str, runs: int) -> list[Series]:
    def measure(server: Server) -> float:
        seconds, proc = timed(docker_cli(server, "ps"), env=env, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
        return seconds

    return interleaved(servers, what, measure, runs, WARMUP)


def request_latency(servers: Sequence[Server], path: str, requests: int) -> list[Series]:
    """`GET path` on one keep-alive connection per server, the servers taking turns request
    by request; each request timed from sending to the body read whole."""
    connections = {s.name: UnixConnection(s.socket) for s in servers}
    results = {s.name: Series(s.name, f"GET {path}") for s in servers}
    try:
        for i in range(LATENCY_WARMUP + requests):
            for server in servers:
                connection, result = connections[server.name], results[server.name]
                start = time.perf_counter()
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                seconds = time.perf_counter() - start
                if response.status != 200:
                    raise RuntimeError(f"{server.name} GET {path}: {response.status}")
                if response.will_close:
                    raise RuntimeError(f"{server.name} closed the keep-alive connection")
                if i >= LATENCY_WARMUP:
                    result.samples.append(seconds)
    finally:
        for connection in connections.values():
            connection.close()
    return list(results.values())


def start_sleepers(server: Server, image: str, count: int, network: str) -> None:
    client = api_client(server)
    try:
        host_config = client.create_host_config(network_mode=network)
        for _ in range(count):
            ident = client.create_container(image, ["sleep", "3600"], host_config=host_config)
            client.start(ident["Id"])
        running = len(client.containers())
    finally:
        client.close()
    if running != count:
        raise RuntimeError(f"{server.name} lists {running} running containers, not {count}")


def remove_containers(server: Server) -> None:
    """Every container of the server, removed through its API (a kill first: `sleep` as pid
    1 ignores SIGTERM, and a stop would wait its 10 s), then the unused networks."""
    client = api_client(server)
    try:
        for container in client.containers(all=True):
            client.remove_container(container["Id"], force=True)
        client.prune_networks()  # berth's kept default bridge goes with it
    finally:
        client.close()


def settle(seconds: float = 2.0) -> None:
    """Let the servers go idle (connection threads end, Go's scavenger runs) before memory."""
    time.sleep(seconds)


# -- the default bridge (optional) -------------------------------------------------------------


def sysctls() -> dict[str, str]:
    """The host settings a daemon with a bridge might change; compared before and after."""
    found = {}
    for name in ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"):
        with contextlib.suppress(OSError):
            found[name] = Path(f"/proc/sys/{name}").read_text().strip()
    return found


@contextlib.contextmanager
def docker_bridge(enabled: bool) -> Iterator[tuple[list[str], list[str]]]:
    """dockerd's networking flags: no network at all, or (`enabled`) a bridge created here on
    a free subnet, still with no iptables, forwarding or masquerading. Yields the flags and a
    list that collects what differs on the host afterwards (filled on exit)."""
    from bench import network as net

    differences: list[str] = []
    if not enabled:
        yield list(DOCKER_NO_NETWORK), differences
        return
    before, settings = net.HostState.now(), sysctls()
    subnet = net.free_subnet("10.213.0.0/16", 24)
    flags = [
        f"--bridge={net.DOCKER_BRIDGE}",
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
    ]
    try:
        net.make_bridge(net.DOCKER_BRIDGE, subnet)
        yield flags, differences
    finally:
        net.remove_link(net.DOCKER_BRIDGE)
        differences += net.host_differences(before)
        now = sysctls()
        for name, value in settings.items():
            if now.get(name) != value:  # berth turns ip_forward on with its first bridge
                differences.append(f"{name}: {value} -> {now.get(name)} (restored to {value})")
                Path(f"/proc/sys/{name}").write_text(value)


# -- the run -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    store_filesystem: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    series: list[Series] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    host_differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def all_versions() -> dict[str, str]:
    import docker
    import h11

    found = {k: v for k, v in versions().items() if k in ("berth", "dockerd")}
    proc = run([DOCKER_CLIENT, "--version"], check=False)
    found["docker client"] = proc.stdout.strip()
    found["containerd"] = run(["containerd", "--version"], check=False).stdout.strip()
    found["docker-py"] = docker.__version__
    found["h11"] = h11.__version__
    found["python"] = sys.version.split()[0]
    found["kernel"] = platform.release()
    return found


def pull(server: Server, env: dict[str, str], reference: str) -> None:
    proc = run(docker_cli(server, "pull", "--quiet", reference), env=env, check=False, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{server.name}: docker pull failed: {proc.stderr[-300:]}")


def listed(server: Server, env: dict[str, str]) -> int:
    return len(run(docker_cli(server, "ps", "-q"), env=env, timeout=60).stdout.split())


def measure(
    report: Report, servers: Sequence[Server], reference: str, env: dict[str, str], args: Any
) -> None:
    report.memory += [memory(s, "fresh: started, one /_ping") for s in servers]
    for server in servers:
        pull(server, env, reference)
    count, clients, each = args.sequential, args.clients, args.each
    report.series += interleaved(
        servers,
        f"create+start+wait+rm, {count} in a row (containers/s)",
        lambda s: sequential(s, reference, count),
        args.rounds,
        1,
    )
    report.series += interleaved(
        servers,
        f"create+start+wait+rm, {clients} clients x {each} (containers/s)",
        lambda s: parallel(s, reference, clients, each),
        args.rounds,
        1,
    )
    settle()
    report.memory += [memory(s, "idle after the cycles, no container") for s in servers]
    modes = ["none", "bridge"] if args.bridge else ["none"]
    for mode in modes:
        for server in servers:
            start_sleepers(server, reference, args.containers, mode)
        counts = {s.name: listed(s, env) for s in servers}
        report.notes.append(f"`docker ps -q` lines, --network {mode}: {counts}")
        label = f"{args.containers} running, --network {mode}"
        report.series += docker_ps(servers, env, f"docker ps ({label})", args.runs)
        for path in PATHS:
            report.series += request_latency(servers, path, args.requests)
            report.series[-1].what += f" ({label})"
            report.series[-2].what += f" ({label})"
        settle()
        report.memory += [memory(s, f"idle, {label}") for s in servers]
        for server in servers:
            remove_containers(server)


def run_all(args: Any, names: Sequence[str]) -> Report:
    report = Report(versions=all_versions())
    with bench_root("tmpfs") as base:
        build_busybox(base / "layout")
        registry = start_registry(base / "registry")
        try:
            reference = f"{registry.host}/{REPOSITORY}"
            oci.push(base / "layout", "1", reference)
            env = client_env(base)
            with docker_bridge(args.bridge) as (flags, differences):
                servers: list[Server] = []
                if "berth" in names:
                    servers.append(BerthServer(base / "stores" / "berth"))
                if "berth-base" in names:
                    servers.append(BerthServer(base / "stores" / "berth-base", baseline=True))
                if "docker" in names:
                    servers.append(DockerServer(base / "stores" / "docker", flags))
                try:
                    for server in servers:
                        server.start()
                    settle(1)
                    measure(report, servers, reference, env, args)
                finally:
                    stop_all(servers, report)
            report.host_differences = differences
            report.store_filesystem = filesystem_of(base)
        finally:
            registry.stop()
    return report


def stop_all(servers: Sequence[Server], report: Report) -> None:
    """Containers removed through each API, servers stopped, then berth's leftovers (if its
    server failed) by its CLI; a traceback in berth serve's log is reported."""
    for server in servers:
        try:
            remove_containers(server)
        except Exception:
            log.exception("removing %s's containers failed", server.name)
    for server in servers:
        server.stop()
    for server in servers:
        if isinstance(server, BerthServer):
            remove_all(server.tool, server.env)
            if "Traceback" in server.log():
                report.notes.append(f"berth serve logged a traceback: {server.log()[-1500:]}")
            from bench import network as net

            report.host_differences += net.berth_leftovers(server.tool)


# -- the report --------------------------------------------------------------------------------


def _value(series: Series, value: float | None) -> str:
    if value is None:
        return "-"
    if "containers/s" in series.what:
        return f"{value:.2f}/s"
    return f"{value * 1000:.2f} ms"


def render(report: Report, args: Any) -> str:
    lines = [
        f"Stores: {report.store_filesystem}",
        f"Versions: {json.dumps(report.versions)}",
        f"`docker ps`: {args.runs} runs after {WARMUP} warm-ups; cycles: {args.rounds} rounds "
        f"after 1 warm-up; requests: {args.requests} after {LATENCY_WARMUP} warm-ups",
        "",
        "| what | server | median | p90 | min | max | / docker (medians) |",
        "|---|---|---|---|---|---|---|",
    ]
    docker = {s.what: s.median for s in report.series if s.server == "docker"}
    for s in report.series:
        if s.error:
            lines.append(f"| {s.what} | {s.server} | failed: {s.error[:150]} | | | | |")
            continue
        ratio = "-"
        ref = docker.get(s.what)
        if s.server != "docker" and ref and s.median is not None:
            ratio = f"{s.median / ref:.2f}x"
        low, high = (min(s.samples), max(s.samples)) if s.samples else (None, None)
        lines.append(
            f"| {s.what} | {s.server} | {_value(s, s.median)} | {_value(s, s.p90)} | "
            f"{_value(s, low)} | {_value(s, high)} | {ratio} |"
        )
    lines += ["", "| moment | server | processes | RSS | PSS |", "|---|---|---|---|---|"]
    for m in report.memory:
        lines.append(
            f"| {m.moment} | {m.server} | {', '.join(m.processes)} | {m.rss_kib / 1024:.1f} MiB "
            f"| {m.pss_kib / 1024:.1f} MiB |"
        )
    lines += ["", *report.notes]
    if args.bridge:
        lines.append(f"host differences after the run: {report.host_differences or 'none'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--runs", type=int, default=30, help="timed `docker ps` per server")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each cycle series")
    parser.add_argument("--requests", type=int, default=500, help="timed requests per path")
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--each", type=int, default=5)
    parser.add_argument("--bridge", action="store_true", help="repeat `ps` on default bridges")
    parser.add_argument("--tools", default="berth,docker")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = start_logging_and_choose(args.tools, args.verbose)
    try:
        report = run_all(args, names)
    finally:
        left = cleanup_cgroups()
        if left:
            log.warning("cgroups left behind: %s", left)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"api-{time.strftime('%Y%m%dT%H%M%S')}.json"
    document = asdict(report) | {"args": vars(args)}
    out.write_text(json.dumps(document, indent=2))
    print(render(report, args))
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
