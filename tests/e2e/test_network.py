"""Networking seen from outside and inside containers: the default bridge, published ports,
user-defined networks with their resolver, and the host left as it was found.

Every test runs berth inside a network namespace that plays the host (`host_ns`), so the
bridges, veth pairs and nft rules are real but never touch the machine's own network; the
fixture fails a test that leaves a device or an nft table behind in it.
"""

from __future__ import annotations

import json
import subprocess

from tests.fixtures.netns import HostNamespace
from tests.fixtures.store import Berth

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
