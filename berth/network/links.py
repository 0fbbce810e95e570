"""Bridges, veth pairs, addresses and routes, through `ip -batch -` (iproute2): one process
per side of a change. The batch texts are rendered by pure functions, tested on their own.

A container's veth pair is created from the host with its inner end moved straight into the
container's namespace (named eth0, eth1, ...); the inner end is then configured from inside
the namespace, entered by the calling thread only (see `netns`).
"""

import ipaddress
import socket
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

from berth.errors import InvalidArgument, SystemFailure
from berth.network import netns
from berth.oci import sha256_digest

IP = "/usr/sbin/ip" if Path("/usr/sbin/ip").exists() else "/sbin/ip"
PROC_IPV4 = Path("/proc/sys/net/ipv4")


class Attachment(NamedTuple):
    bridge: str
    host_device: str  # the host's end, enslaved to the bridge
    interface: str  # the container's end: eth0, eth1, ...
    address: str
    prefix: int
    gateway: str
    mac: str
    default_route: bool


def host_device(container_id: str, network_id: str) -> str:
    """The host end's name: fixed by the pair (container, network), so a crash's leftovers
    can be found and removed by name."""
    digest = sha256_digest(f"{container_id}:{network_id}".encode()).removeprefix("sha256:")
    return f"veth{digest[:11]}"


def exists(device: str) -> bool:
    """Whether the calling thread's namespace has `device` (an ioctl on a socket of that
    namespace; /sys/class/net would show whichever namespace mounted /sys)."""
    try:
        socket.if_nametoindex(device)
    except OSError:
        return False
    return True


def run_batch(commands: str) -> None:
    try:
        result = subprocess.run(
            [IP, "-batch", "-"],
            check=False,
            input=commands,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise SystemFailure(f"cannot run ip: {error}") from None
    if result.returncode != 0:
        raise SystemFailure(f"ip failed: {result.stderr.strip()}")


def bridge_commands(device: str, gateway: str, prefix: int) -> str:
    return (
        f"link add name {device} type bridge\n"
        f"addr add {gateway}/{prefix} dev {device}\n"
        f"link set {device} up\n"
    )


def ensure_bridge(device: str, gateway: str, prefix: int) -> None:
    """The bridge with its gateway address, up; and the host forwarding for it."""
    if not exists(device):
        run_batch(bridge_commands(device, gateway, prefix))
    _sysctl(PROC_IPV4 / "conf" / device / "route_localnet", "1")
    _sysctl(PROC_IPV4 / "ip_forward", "1")


def remove_device(device: str, *, settle: float = 0.0) -> None:
    """Delete `device` if it is there. A device of a namespace being freed may vanish under
    us ("Cannot find device": fine); `settle` seconds are given for its name to be free."""
    if exists(device):
        try:
            run_batch(f"link del {device}\n")
        except SystemFailure as error:
            if "Cannot find device" not in str(error):
                raise
    deadline = time.monotonic() + settle
    while settle and exists(device) and time.monotonic() < deadline:
        time.sleep(0.005)


def host_commands(attachment: Attachment, namespace: Path) -> str:
    a = attachment
    return (
        f"link add {a.host_device} type veth peer name {a.interface} "
        f"address {a.mac} netns {_quoted(namespace)}\n"
        f"link set {a.host_device} master {a.bridge} up\n"
    )


def _quoted(path: Path) -> str:
    """A path as one word of `ip -batch` (which splits on blanks but honours quotes): the
    runroot may have a space in it."""
    text = str(path)
    if '"' in text or "\n" in text:
        raise InvalidArgument(f"a network namespace path can't hold quotes or newlines: {text}")
    return f'"{text}"'


def inner_commands(attachment: Attachment) -> str:
    a = attachment
    text = (
        "link set lo up\n"
        f"addr add {a.address}/{a.prefix} dev {a.interface}\n"
        f"link set {a.interface} up\n"
    )
    if a.default_route:
        text += f"route add default via {a.gateway} dev {a.interface}\n"
    return text


def attach(attachment: Attachment, namespace: Path) -> None:
    """Create the pair, enslave the host end, configure the inner end; on failure remove the
    pair (which takes its inner end with it)."""
    run_batch(host_commands(attachment, namespace))
    try:
        with netns.entered(namespace):
            run_batch(inner_commands(attachment))
    except BaseException:
        remove_device(attachment.host_device)
        raise


def prefix_of(subnet: str) -> int:
    return ipaddress.IPv4Network(subnet).prefixlen


def _sysctl(path: Path, value: str) -> None:
    try:
        if path.read_text().strip() != value:
            path.write_text(value)
    except OSError as error:
        raise SystemFailure(f"cannot set {path}: {error.strerror}") from None
