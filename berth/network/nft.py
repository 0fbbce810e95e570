"""berth's nftables rules: one table of its own, rendered whole from the store's state and
replaced in one `nft -f` transaction, so the kernel never sees half a change and a crash never
leaves rules the next render would not rewrite. No other table or chain is ever touched
(Docker's or a firewall's may sit beside it).

What the table does:
- published ports: traffic to a local address (`fib daddr type local`) on a published port is
  DNATed to the container, from outside (prerouting) and from the host itself (output); the
  client's source address is kept, except from 127.0.0.0/8, which must be masqueraded to the
  bridge's address (with route_localnet on the bridge) to be routable at all;
- outbound NAT: a network's subnet leaving by any other interface is masqueraded;
- hairpin: a container reaching a published port of its own bridge is masqueraded, so the
  reply comes back through the host and is un-NATed;
- isolation: internal networks reach nothing outside their bridge, and two berth networks
  don't reach each other (as Docker's isolation chains do).
"""

import errno
import os
import socket
import subprocess
from collections.abc import Sequence
from typing import NamedTuple

from berth.errors import SystemFailure

NFT = "/usr/sbin/nft"


class Bridge(NamedTuple):
    device: str
    subnet: str
    internal: bool


class Forward(NamedTuple):
    protocol: str  # "tcp" | "udp"
    host_ip: str  # "0.0.0.0": every local address
    host_port: int
    address: str  # the container's
    container_port: int


def _quote(name: str) -> str:
    return f'"{name}"'


def render(table: str, bridges: Sequence[Bridge], forwards: Sequence[Forward]) -> str:
    """The `nft -f` script that replaces table `inet <table>` with these rules, or deletes it
    when there is nothing to do."""
    head = f"table inet {table}\ndelete table inet {table}\n"
    if not bridges and not forwards:
        return head
    published = []
    for forward in forwards:
        match = "" if forward.host_ip == "0.0.0.0" else f"ip daddr {forward.host_ip} "
        published.append(
            f"\t\t{match}{forward.protocol} dport {forward.host_port} "
            f"dnat ip to {forward.address}:{forward.container_port}"
        )
    postrouting, isolation = [], []
    devices = [bridge.device for bridge in bridges]
    for bridge in bridges:
        device = _quote(bridge.device)
        if not bridge.internal:
            postrouting.append(f"\t\tip saddr {bridge.subnet} oifname != {device} masquerade")
        postrouting.append(f"\t\toifname {device} ip saddr 127.0.0.0/8 masquerade")
        postrouting.append(f"\t\toifname {device} iifname {device} ct status dnat masquerade")
        if bridge.internal:
            isolation.append(f"\t\tiifname {device} oifname != {device} drop")
            isolation.append(f"\t\toifname {device} iifname != {device} drop")
        others = [_quote(other) for other in devices if other != bridge.device]
        if others:
            isolation.append(f"\t\tiifname {device} oifname {{ {', '.join(others)} }} drop")
    lines = [
        f"table inet {table} {{",
        "\tchain prerouting {",
        "\t\ttype nat hook prerouting priority dstnat; policy accept;",
        "\t\tfib daddr type local jump published",
        "\t}",
        "\tchain output {",
        "\t\ttype nat hook output priority -100; policy accept;",
        "\t\tfib daddr type local jump published",
        "\t}",
        "\tchain published {",
        *published,
        "\t}",
        "\tchain postrouting {",
        "\t\ttype nat hook postrouting priority srcnat; policy accept;",
        *postrouting,
        "\t}",
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
        *isolation,
        "\t}",
        "}",
    ]
    return head + "\n".join(lines) + "\n"


def apply(script: str) -> None:
    try:
        result = subprocess.run(
            [NFT, "-f", "-"], check=False, input=script, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise SystemFailure(f"cannot run nft: {error}") from None
    if result.returncode != 0:
        raise SystemFailure(f"nft refused berth's rules: {result.stderr.strip()}")


def makes_table(script: str) -> bool:
    """Whether a script of `render` leaves a table (rather than only deleting it)."""
    return "{" in script


# nf_tables over netlink (linux/netfilter/nfnetlink.h, nf_tables.h): just enough to ask
# whether a table exists.
NETLINK_NETFILTER = 12
NFT_GET_TABLE = (10 << 8) | 1  # NFNL_SUBSYS_NFTABLES, NFT_MSG_GETTABLE
NFT_NEW_TABLE = (10 << 8) | 0  # the answer: NFT_MSG_NEWTABLE
NFTA_TABLE_NAME = 1
NFPROTO_INET = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2


def has_table(table: str) -> bool:
    """Whether `inet <table>` exists in the caller's network namespace: one nf_tables netlink
    request (NFT_MSG_GETTABLE) rather than an `nft list` (~3 ms of fork and exec, at every
    start and exit of a container on a bridge)."""
    import struct

    name = table.encode() + b"\0"
    attribute = struct.pack("=HH", 4 + len(name), NFTA_TABLE_NAME) + name
    attribute += b"\0" * (-len(attribute) % 4)
    body = struct.pack("=BBH", NFPROTO_INET, 0, 0) + attribute  # nfgenmsg: family, v0, res_id
    flags = NLM_F_REQUEST | NLM_F_ACK
    request = struct.pack("=IHHII", 16 + len(body), NFT_GET_TABLE, flags, 1, 0) + body
    found = False
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as channel:
            channel.settimeout(30)
            channel.send(request)
            while True:
                reply = channel.recv(65536)
                offset = 0
                while offset + 16 <= len(reply):
                    length, kind = struct.unpack_from("=IH", reply, offset)
                    if kind == NFT_NEW_TABLE:
                        found = True
                    elif kind == NLMSG_ERROR:  # the acknowledgement, or the refusal
                        (code,) = struct.unpack_from("=i", reply, offset + 16)
                        if code == -errno.ENOENT:
                            return False
                        if code != 0:
                            raise OSError(-code, os.strerror(-code))
                        return found
                    offset += max(16, (length + 3) & ~3)
    except OSError as error:
        raise SystemFailure(f"cannot ask nf_tables for table {table}: {error}") from None
