"""Networking seen from outside and inside containers: the default bridge, published ports,
user-defined networks with their resolver, and the host left as it was found.

Every test runs berth inside a network namespace that plays the host (`host_ns`), so the
bridges, veth pairs and nft rules are real but never touch the machine's own network; the
fixture fails a test that leaves a device or an nft table behind in it.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from berth.monitor.zygote import linger_seconds
from tests.fixtures.netns import NFT, HostNamespace, leftovers
from tests.fixtures.store import Berth, Store, zygotes

SERVE = 'mkdir -p /www && echo "$MESSAGE" > /www/index.html && exec httpd -f -p 80 -h /www'


def fetch(host_ns: HostNamespace, address: str, port: int) -> str:
    """GET / over TCP from the host's side, with a fresh Python (a real client)."""
    script = (
        "import socket,sys\n"
        f"s=socket.create_connection(({address!r},{port}),timeout=5)\n"
        f"s.sendall(b'GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n')\n"
        "data=b''\n"
        "while chunk:=s.recv(65536): data+=chunk\n"
        "sys.stdout.write(data.decode().split('\\r\\n\\r\\n',1)[-1])\n"
    )
    result = host_ns.run("python3", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_published_port_reaches_the_container(
    berth: Berth, host_ns: HostNamespace, busybox: str
) -> None:
    started = berth(
        "run",
        "-d",
        "--name",
        "web",
        "-e",
        "MESSAGE=hello",
        "-p",
        "8080:80",
        "busybox",
        "sh",
        "-c",
        SERVE,
    )
    assert started.returncode == 0, started.stderr
    assert fetch(host_ns, "127.0.0.1", 8080) == "hello\n"
    assert fetch(host_ns, host_ns.address, 8080) == "hello\n"
    port = berth("port", "web")
    assert port.stdout == "80/tcp -> 0.0.0.0:8080\n"
    ps = berth("ps", "--format", "{{.Names}} {{.Ports}}")
    assert ps.stdout == "web 0.0.0.0:8080->80/tcp\n"
    for _ in range(3):  # stop + start at once: the old run's cleanup must not undo the new one
        assert berth("restart", "-t", "1", "web").returncode == 0
        assert fetch(host_ns, "127.0.0.1", 8080) == "hello\n"
    assert berth("rm", "-f", "web").returncode == 0


CGI = (
    "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\n"
    "echo $REMOTE_ADDR\\n' > /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && "
    "exec httpd -f -p 80 -h /www"
)


def fetch_path(run: object, address: str, port: int, path: str) -> str:
    script = (
        "import socket,sys\n"
        f"s=socket.create_connection(({address!r},{port}),timeout=5)\n"
        f"s.sendall(b'GET {path} HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n')\n"
        "data=b''\n"
        "while chunk:=s.recv(65536): data+=chunk\n"
        "sys.stdout.write(data.decode().split('\\r\\n\\r\\n',1)[-1])\n"
    )
    result = run("python3", "-c", script)  # type: ignore[operator]
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


def test_the_client_address_is_kept_from_outside(
    berth: Berth, host_ns: HostNamespace, busybox: str
) -> None:
    assert berth("run", "-d", "--name", "who", "-p", "8080:80", "busybox", "sh", "-c", CGI)
    seen = remote_address(fetch_path(host_ns.run_client, host_ns.address, 8080, "/cgi-bin/ip"))
    assert seen == host_ns.client_address  # forwarded by the kernel: source kept
    local = remote_address(fetch_path(host_ns.run, "127.0.0.1", 8080, "/cgi-bin/ip"))
    gateway = inspect(berth, "who")["NetworkSettings"]["Gateway"]
    assert local == gateway  # from loopback it must be masqueraded to be routable


def remote_address(cgi_output: str) -> str:
    """busybox httpd's REMOTE_ADDR, "[::ffff:198.51.100.2]", as a plain IPv4 address."""
    return cgi_output.strip().splitlines()[-1].strip("[]").removeprefix("::ffff:")


def inspect(berth: Berth, name: str) -> dict:  # type: ignore[type-arg]
    result = berth("inspect", name)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]  # type: ignore[no-any-return]


def test_a_free_host_port_and_publish_all(
    berth: Berth, host_ns: HostNamespace, busybox: str
) -> None:
    one = berth(
        "run", "-d", "--name", "one", "-e", "MESSAGE=one", "-p", "80", "busybox", "sh", "-c", SERVE
    )
    assert one.returncode == 0, one.stderr
    line = berth("port", "one", "80").stdout.strip()
    host_ip, _, port = line.rpartition(":")
    assert host_ip == "0.0.0.0" and int(port) > 1024
    assert fetch(host_ns, "127.0.0.1", int(port)) == "one\n"
    two = berth(
        "run",
        "-d",
        "--name",
        "two",
        "-e",
        "MESSAGE=two",
        "--expose",
        "80/tcp",
        "-P",
        "busybox",
        "sh",
        "-c",
        SERVE,
    )
    assert two.returncode == 0, two.stderr
    ports = inspect(berth, "two")["NetworkSettings"]["Ports"]
    assert list(ports) == ["80/tcp"]
    assert fetch(host_ns, host_ns.address, int(ports["80/tcp"][0]["HostPort"])) == "two\n"
    assert ports["80/tcp"][0]["HostPort"] != port


def test_a_taken_host_port_fails_cleanly(
    berth: Berth, host_ns: HostNamespace, busybox: str
) -> None:
    first = berth(
        "run", "-d", "--name", "first", "-p", "127.0.0.1:8080:80", "busybox", "sleep", "60"
    )
    assert first.returncode == 0, first.stderr
    before = host_ns.devices()
    second = berth("run", "-d", "--name", "second", "-p", "8080:80", "busybox", "sleep", "60")
    assert second.returncode == 125
    assert "Bind for 0.0.0.0:8080 failed: port is already allocated" in second.stderr
    assert "Traceback" not in second.stderr
    assert host_ns.devices() == before  # no veth, no bridge left half-made
    assert berth("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.splitlines() == [
        "second created",
        "first running",
    ]
    # A port some other program listens on is refused the same way.
    listener = host_ns.run(
        "python3",
        "-c",
        "import socket,subprocess,sys\n"
        "s=socket.socket(); s.bind(('0.0.0.0',9090)); s.listen()\n"
        f"r=subprocess.run({berth.argv('run', '-d', '-p', '9090:80', 'busybox', 'true')!r},"
        "capture_output=True,text=True)\n"
        "sys.stdout.write(str(r.returncode)+' '+r.stderr)\n",
    )
    assert listener.stdout.startswith("125 "), listener.stdout + listener.stderr
    assert "Bind for 0.0.0.0:9090 failed" in listener.stdout
    assert berth("rm", "-f", "first").returncode == 0
    assert berth("start", "second").returncode == 0  # the port is free again
    assert berth("port", "second").stdout == "80/tcp -> 0.0.0.0:8080\n"


def start_python(prefix: list[str], script: str) -> subprocess.Popen[str]:
    """A Python server in a namespace; the caller kills it. Waits until it says "ready"."""
    process = subprocess.Popen(
        [*prefix, "python3", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    return process


def test_default_bridge_from_inside(berth: Berth, host_ns: HostNamespace, busybox: str) -> None:
    script = (
        "ip -o -4 addr show eth0 | awk '{print $4}'; ip route | grep default; "
        "cat /etc/hosts | tail -1; grep nameserver /etc/resolv.conf | head -1; "
        f"echo hi | nc -w 3 {host_ns.client_address} 7000"
    )
    server = start_python(
        host_ns.client_prefix,
        "import socket\n"
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('0.0.0.0',7000)); s.listen(); s.settimeout(30); print('ready', flush=True)\n"
        "c,a=s.accept(); print(a[0], c.recv(100).decode().strip(), flush=True)\n",
    )
    try:
        result = berth("run", "--rm", "--hostname", "box", "busybox", "sh", "-c", script)
        assert result.returncode == 0, result.stderr
        address, route, hosts, nameserver = result.stdout.splitlines()[:4]
        network = json.loads(berth("network", "inspect", "bridge").stdout)[0]
        subnet = network["IPAM"]["Config"][0]
        assert address.split("/")[0] in hosts and hosts.endswith("box")
        assert route.startswith(f"default via {subnet['Gateway']} dev eth0")
        assert not nameserver.split()[1].startswith("127.")
        import ipaddress

        assert ipaddress.ip_interface(address) in ipaddress.ip_network(subnet["Subnet"])
        out, _ = server.communicate(timeout=30)
        assert out.split() == [host_ns.address, "hi"]  # outbound NAT: the host's address
    finally:
        server.kill()
        server.wait()


def test_two_versions_side_by_side(berth: Berth, host_ns: HostNamespace, busybox: str) -> None:
    """The seed's scenario with stand-ins: two "versions" of one server on the same container
    port, each reached through its own host port."""
    for version, port in (("14.5", 5433), ("15", 5434)):
        started = berth(
            "run", "-d", "--name", f"db{port}", "-e", f"MESSAGE=version {version}",
            "-p", f"{port}:80", "busybox", "sh", "-c", SERVE,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
    assert fetch(host_ns, "127.0.0.1", 5433) == "version 14.5\n"
    assert fetch(host_ns, "127.0.0.1", 5434) == "version 15\n"
    assert fetch(host_ns, host_ns.address, 5434) == "version 15\n"
    listed = berth("ps", "--format", "{{.Names}}\t{{.Ports}}").stdout.splitlines()
    assert sorted(listed) == ["db5433\t0.0.0.0:5433->80/tcp", "db5434\t0.0.0.0:5434->80/tcp"]
    addresses = {
        inspect(berth, name)["NetworkSettings"]["IPAddress"] for name in ("db5433", "db5434")
    }
    assert len(addresses) == 2  # each its own address on the bridge


def test_network_modes(berth: Berth, host_ns: HostNamespace, busybox: str) -> None:
    devices = "ip -o link | awk -F': ' '{print $2}' | cut -d@ -f1"
    none = berth("run", "--rm", "--network", "none", "busybox", "sh", "-c", devices)
    assert none.stdout.split() == ["lo"]
    host = berth("run", "--rm", "--network", "host", "busybox", "sh", "-c", devices)
    assert "host0" in host.stdout.split()  # the host's own devices
    assert berth("run", "-d", "--name", "first", "busybox", "sleep", "60").returncode == 0
    address = inspect(berth, "first")["NetworkSettings"]["IPAddress"]
    joined = berth(
        "run", "--rm", "--network", "container:first", "busybox", "sh", "-c",
        "ip -o -4 addr show eth0 | awk '{print $4}'",
    )  # fmt: skip
    assert joined.stdout.split("/")[0] == address
    missing = berth("run", "--rm", "--network", "nowhere", "busybox", "true")
    assert missing.returncode == 125
    assert "network nowhere not found" in missing.stderr


def test_user_networks_lifecycle(berth: Berth, host_ns: HostNamespace, busybox: str) -> None:
    created = berth("network", "create", "--subnet", "10.77.0.0/24", "--label", "a=b", "backend")
    assert created.returncode == 0, created.stderr
    network_id = created.stdout.strip()
    assert len(network_id) == 64
    listed = berth("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout.splitlines()
    assert listed == ["bridge bridge", "host host", "none null", "backend bridge"]
    again = berth("network", "create", "backend")
    assert again.returncode == 1 and "already exists" in again.stderr
    overlap = berth("network", "create", "--subnet", "10.77.0.0/16", "other")
    assert overlap.returncode == 1 and "overlaps" in overlap.stderr
    run = berth("run", "-d", "--name", "app", "--network", "backend", "busybox", "sleep", "60")
    assert run.returncode == 0, run.stderr
    document = json.loads(berth("network", "inspect", "backend").stdout)[0]
    assert document["IPAM"]["Config"] == [{"Subnet": "10.77.0.0/24", "Gateway": "10.77.0.1"}]
    assert document["Labels"] == {"a": "b"}
    [(container_id, entry)] = document["Containers"].items()
    assert container_id == inspect(berth, "app")["Id"]
    assert entry["Name"] == "app" and entry["IPv4Address"] == "10.77.0.2/24"
    busy = berth("network", "rm", "backend")
    assert busy.returncode == 1 and "has active endpoints" in busy.stderr
    builtin = berth("network", "rm", "bridge")
    assert builtin.returncode == 1 and "pre-defined" in builtin.stderr
    # connect and disconnect a running container: eth1 comes and goes
    assert berth("network", "connect", "bridge", "app").returncode == 0
    devices = berth("exec", "app", "ls", "/sys/class/net").stdout.split()
    assert devices == ["eth0", "eth1", "lo"]
    assert set(inspect(berth, "app")["NetworkSettings"]["Networks"]) == {"backend", "bridge"}
    assert berth("network", "disconnect", "bridge", "app").returncode == 0
    assert berth("exec", "app", "ls", "/sys/class/net").stdout.split() == ["eth0", "lo"]
    assert berth("rm", "-f", "app").returncode == 0
    assert berth("create", "--name", "orphan", "--network", "backend", "busybox", "true")
    assert berth("network", "rm", "backend").returncode == 0  # only a stopped container on it
    orphan = berth("start", "orphan")
    assert orphan.returncode != 0 and "network backend not found" in orphan.stderr
    assert berth("rm", "orphan").returncode == 0
    assert berth("network", "create", "--subnet", "10.77.0.0/24", "backend").returncode == 0
    assert berth("network", "create", "unused").returncode == 0
    pruned = berth("network", "prune", "-f")
    assert pruned.stdout.split() == ["Deleted", "Networks:", "backend", "unused"]
    assert berth("network", "inspect", "backend").returncode == 1


def test_internal_and_isolated_networks(berth: Berth, host_ns: HostNamespace, busybox: str) -> None:
    assert berth("network", "create", "--internal", "sealed").returncode == 0
    assert berth("network", "create", "apart").returncode == 0
    assert berth("run", "-d", "--name", "target", "busybox", "sleep", "60").returncode == 0
    target = inspect(berth, "target")["NetworkSettings"]["IPAddress"]
    reach = f"ping -c 1 -W 1 {target} >/dev/null && echo reached || echo blocked"
    outside = f"ping -c 1 -W 1 {host_ns.client_address} >/dev/null && echo reached || echo blocked"
    sealed = berth("run", "--rm", "--network", "sealed", "busybox", "sh", "-c", outside)
    assert sealed.stdout.strip() == "blocked"
    from_bridge = berth("run", "--rm", "busybox", "sh", "-c", outside)
    assert from_bridge.stdout.strip() == "reached"
    apart = berth("run", "--rm", "--network", "apart", "busybox", "sh", "-c", reach)
    assert apart.stdout.strip() == "blocked"  # networks don't reach each other
    same = berth("run", "--rm", "busybox", "sh", "-c", reach)
    assert same.stdout.strip() == "reached"


def test_exit_and_crash_release_everything(
    berth: Berth, host_ns: HostNamespace, busybox: str, store: object
) -> None:
    import os
    import signal

    assert berth("run", "-d", "--name", "brief", "-p", "8081:80", "busybox", "true").returncode == 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "8081" in table(host_ns):
        time.sleep(0.1)  # the monitor's cleanup command frees the port once the container exits
    assert "8081" not in table(host_ns)
    assert leftovers(host_ns) == kept(berth)  # the default bridge, as docker0, and its table
    # A crash: the monitor and the container die without cleaning up.
    assert berth("run", "-d", "--name", "crashed", "-p", "8082:80", "busybox", "sleep", "60")
    state = inspect(berth, "crashed")["State"]
    monitor = int(
        json.loads(
            (store.runroot / "containers" / inspect(berth, "crashed")["Id"] / "status.json")  # type: ignore[attr-defined]
            .read_text()
        )["MonitorPid"]
    )
    os.kill(monitor, signal.SIGKILL)
    os.kill(int(state["Pid"]), signal.SIGKILL)
    time.sleep(0.2)
    # The next start reconciles: the port, the address and the devices are free again.
    again = berth("run", "-d", "--name", "next", "-p", "8082:80", "busybox", "sleep", "60")
    assert again.returncode == 0, again.stderr
    assert berth("port", "next").stdout == "80/tcp -> 0.0.0.0:8082\n"
    assert inspect(berth, "crashed")["State"]["Status"] == "exited"
    assert berth("rm", "-f", "next").returncode == 0
    assert leftovers(host_ns) == kept(berth)
    assert berth("network", "prune", "-f").returncode == 0  # takes the idle default bridge down
    assert leftovers(host_ns) == []


def kept(berth: Berth) -> list[str]:
    """What berth keeps once a container used the default network: its bridge and table."""
    device = berth(
        "network", "inspect", "-f", '{{index .Options "com.docker.network.bridge.name"}}', "bridge"
    ).stdout.strip()
    return sorted([device, f"table inet {device if device != 'berth0' else 'berth'}"])


def table(host_ns: HostNamespace) -> str:
    """berth's nft rules in the namespace."""
    return host_ns.run(NFT, "list", "ruleset").stdout


def test_the_default_bridge_is_kept_until_network_prune(
    berth: Berth, host_ns: HostNamespace, busybox: str
) -> None:
    assert leftovers(host_ns, settle=0) == []
    for _ in range(2):
        run = berth("run", "--rm", "busybox", "true")
        assert run.returncode == 0, run.stderr
        assert leftovers(host_ns) == kept(berth)  # no veth, no namespace: the bridge only
    assert berth("network", "prune", "-f").returncode == 0
    assert leftovers(host_ns) == []
    again = berth(
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        f"ping -c 1 -W 1 {host_ns.client_address} >/dev/null && echo out",
    )
    assert again.stdout == "out\n", again.stderr  # made again, NAT and all


def test_names_resolve_on_user_networks_only(
    berth: Berth, host_ns: HostNamespace, busybox: str
) -> None:
    assert berth("network", "create", "apps").returncode == 0
    server = berth(
        "run", "-d", "--name", "db", "--network", "apps", "--network-alias", "database",
        "busybox", "sleep", "60",
    )  # fmt: skip
    assert server.returncode == 0, server.stderr
    address = inspect(berth, "db")["NetworkSettings"]["Networks"]["apps"]["IPAddress"]
    lookups = (
        "cat /etc/resolv.conf; for n in db database DB.; do nslookup $n | tail -n +3; done; "
        "ping -c 1 -W 2 db >/dev/null && echo pinged"
    )
    seen = berth("run", "--rm", "--network", "apps", "busybox", "sh", "-c", lookups)
    assert seen.returncode == 0, seen.stderr
    assert "nameserver 127.0.0.11" in seen.stdout
    assert seen.stdout.count(f"Address: {address}") == 3
    assert seen.stdout.rstrip().endswith("pinged")
    reverse = berth("run", "--rm", "--network", "apps", "busybox", "nslookup", address)
    assert "name = db" in reverse.stdout, reverse.stdout + reverse.stderr
    unknown = berth("run", "--rm", "--network", "apps", "busybox", "nslookup", "nobody-here")
    assert unknown.returncode != 0
    # The default bridge has no embedded resolver, as in Docker.
    assert berth("run", "-d", "--name", "plain", "busybox", "sleep", "60").returncode == 0
    bridge = berth("run", "--rm", "busybox", "sh", "-c", "cat /etc/resolv.conf")
    assert "127.0.0.11" not in bridge.stdout
    # Restarted, it is found again (its resolver and name table come back with it).
    assert berth("restart", "-t", "1", "db").returncode == 0
    again = inspect(berth, "db")["NetworkSettings"]["Networks"]["apps"]["IPAddress"]
    found = berth("run", "--rm", "--network", "apps", "busybox", "nslookup", "database")
    assert f"Address: {again}" in found.stdout, found.stdout + found.stderr
    # A container that leaves the network is no longer found.
    assert berth("network", "disconnect", "apps", "db").returncode == 0
    gone = berth("run", "--rm", "--network", "apps", "busybox", "nslookup", "db")
    assert gone.returncode != 0


def test_other_tables_are_never_touched(berth: Berth, host_ns: HostNamespace, busybox: str) -> None:
    foreign = (
        "table inet firewall {\n"
        "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
        "\t\ttcp dport 22 accept\n\t}\n}\n"
    )
    loaded = subprocess.run(
        [*host_ns.prefix, "nft", "-f", "-"],
        input=foreign,
        text=True,
        capture_output=True,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    before = host_ns.run("nft", "list", "table", "inet", "firewall").stdout
    try:
        started = berth("run", "-d", "--name", "web", "-p", "8080:80", "busybox", "sleep", "60")
        assert started.returncode == 0, started.stderr
        assert berth("network", "create", "extra").returncode == 0
        assert berth("network", "connect", "--alias", "w2", "extra", "web").returncode == 0
        networks = inspect(berth, "web")["NetworkSettings"]["Networks"]
        assert networks["extra"]["Aliases"] == ["w2"]
        assert berth("stop", "-t", "1", "web").returncode == 0
        stopped = inspect(berth, "web")["NetworkSettings"]
        assert stopped["IPAddress"] == "" and stopped["Ports"] == {}
        assert berth("port", "web").stdout == ""
        assert host_ns.run("nft", "list", "table", "inet", "firewall").stdout == before
    finally:
        host_ns.run("nft", "delete", "table", "inet", "firewall")


def test_the_default_subnet_moves_when_the_host_takes_it(
    berth: Berth, host_ns: HostNamespace, busybox: str
) -> None:
    """Docker (or anything) may start using berth's default subnet while berth's bridge is
    down (`network prune` took it down): the next container must not bring up a bridge that
    hides the host's route."""
    assert berth("run", "--rm", "busybox", "true").returncode == 0
    assert berth("network", "prune", "-f").returncode == 0
    before = json.loads(berth("network", "inspect", "bridge").stdout)[0]["IPAM"]["Config"][0]
    taken = before["Gateway"].rsplit(".", 2)[0] + ".200.1/24"  # inside the old subnet
    assert host_ns.run("ip", "addr", "add", taken, "dev", "host0").returncode == 0
    try:
        assert berth("run", "-d", "--name", "moved", "busybox", "sleep", "30").returncode == 0
        after = json.loads(berth("network", "inspect", "bridge").stdout)[0]["IPAM"]["Config"][0]
        assert after["Subnet"] != before["Subnet"]
        address = inspect(berth, "moved")["NetworkSettings"]["IPAddress"]
        import ipaddress

        assert ipaddress.ip_address(address) in ipaddress.ip_network(after["Subnet"])
        assert berth("rm", "-f", "moved").returncode == 0
        # A user-defined network keeps the subnet its user chose: a clash is an error.
        assert berth("network", "create", "--subnet", "10.99.0.0/24", "mine").returncode == 0
        assert host_ns.run("ip", "addr", "add", "10.99.0.5/24", "dev", "host0").returncode == 0
        clash = berth("run", "--rm", "--network", "mine", "busybox", "true")
        assert clash.returncode == 125
        assert "overlaps the host's route" in clash.stderr
    finally:
        host_ns.run("ip", "addr", "del", taken, "dev", "host0")
        host_ns.run("ip", "addr", "del", "10.99.0.5/24", "dev", "host0")


def test_connect_a_stopped_container(berth: Berth, host_ns: HostNamespace, busybox: str) -> None:
    """Attachments are configuration: connected while stopped, both networks come up at start
    (the first one carries the default route), and the user network's names resolve."""
    assert berth("network", "create", "--subnet", "10.88.7.0/24", "side").returncode == 0
    script = "sleep 1; ip -o -4 addr | awk '{print $2, $4}'; ip route | grep default; sleep 30"
    assert berth("create", "--name", "two", "busybox", "sh", "-c", script).returncode == 0
    assert berth("network", "connect", "--alias", "second", "side", "two").returncode == 0
    assert berth("start", "two").returncode == 0
    for _ in range(50):
        logs = berth("logs", "two").stdout
        if "default" in logs:
            break
        time.sleep(0.1)
    lines = logs.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["lo", "eth0", "eth1"]
    assert lines[2].split()[1].startswith("10.88.7.")
    bridge_gateway = json.loads(berth("network", "inspect", "bridge").stdout)[0]["IPAM"]
    assert lines[3].startswith(f"default via {bridge_gateway['Config'][0]['Gateway']} dev eth0")
    found = berth("run", "--rm", "--network", "side", "busybox", "nslookup", "second")
    assert "Address: 10.88.7." in found.stdout, found.stdout + found.stderr


def test_reconnecting_reuses_a_free_interface_name(
    berth: Berth, host_ns: HostNamespace, busybox: str
) -> None:
    for name in ("one", "two"):
        assert berth("network", "create", name).returncode == 0
    assert berth("run", "-d", "--name", "box", "busybox", "sleep", "30").returncode == 0
    assert berth("network", "connect", "one", "box").returncode == 0  # eth1
    assert berth("network", "disconnect", "bridge", "box").returncode == 0  # eth0 goes
    connected = berth("network", "connect", "two", "box")
    assert connected.returncode == 0, connected.stderr
    assert berth("exec", "box", "ls", "/sys/class/net").stdout.split() == ["eth0", "eth1", "lo"]
    assert berth("rm", "-f", "box").returncode == 0


def test_a_soak_of_run_and_rm_leaves_only_the_kept_bridge(
    berth: Berth, host_ns: HostNamespace, busybox: str, store: Store, cgroup_parent: str
) -> None:
    """Issue 16's leak soak, shortened: containers through the default network, in the
    foreground and detached; after them nothing but the kept bridge and its table — no veth,
    namespace, cgroup or process (the monitors' zygote leaves by itself within seconds; no
    mount: the `store` fixture checks) — and `network prune` takes those down too."""
    for round_ in range(20):
        assert berth("run", "--rm", "busybox", "true").returncode == 0, round_
        started = berth("run", "-d", "busybox", "sleep", "30")
        assert started.returncode == 0, started.stderr
        assert berth("rm", "-f", started.stdout.strip()).returncode == 0, round_
    assert berth("ps", "-aq").stdout == ""
    assert leftovers(host_ns) == kept(berth)
    assert list((store.runroot / "netns").iterdir()) == []
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        parent = hierarchy / cgroup_parent
        if parent.is_dir():
            assert [p.name for p in parent.iterdir() if p.is_dir()] == [], hierarchy
    processes = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
    assert [p for p in processes if str(store.runroot).encode() in _cmdline(p)] == []
    deadline = time.monotonic() + linger_seconds() + 5
    while zygotes(store) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert zygotes(store) == []
    assert berth("network", "prune", "-f").returncode == 0
    assert leftovers(host_ns) == []


def _cmdline(process: Path) -> bytes:
    try:
        return (process / "cmdline").read_bytes()
    except OSError:
        return b""
