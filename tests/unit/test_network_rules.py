"""The pure parts of networking: nft and ip renderings, subnet and address choice, `-p`."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from berth.errors import Conflict, InvalidArgument
from berth.network import ipam, links, nft, ports

EXPECTED_TABLE = """\
table inet berth
delete table inet berth
table inet berth {
\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tfib daddr type local jump published
\t}
\tchain output {
\t\ttype nat hook output priority -100; policy accept;
\t\tfib daddr type local jump published
\t}
\tchain published {
\t\ttcp dport 5433 dnat ip to 172.18.0.2:5432
\t\tip daddr 127.0.0.1 udp dport 53 dnat ip to 172.19.0.2:53
\t}
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 172.18.0.0/16 oifname != "berth0" masquerade
\t\toifname "berth0" ip saddr 127.0.0.0/8 masquerade
\t\toifname "berth0" iifname "berth0" ct status dnat masquerade
\t\toifname "br-x" ip saddr 127.0.0.0/8 masquerade
\t\toifname "br-x" iifname "br-x" ct status dnat masquerade
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tiifname "berth0" oifname { "br-x" } drop
\t\tiifname "br-x" oifname != "br-x" drop
\t\toifname "br-x" iifname != "br-x" drop
\t\tiifname "br-x" oifname { "berth0" } drop
\t}
}
"""


def test_the_table_is_replaced_whole() -> None:
    script = nft.render(
        "berth",
        [nft.Bridge("berth0", "172.18.0.0/16", False), nft.Bridge("br-x", "172.19.0.0/16", True)],
        [
            nft.Forward("tcp", "0.0.0.0", 5433, "172.18.0.2", 5432),
            nft.Forward("udp", "127.0.0.1", 53, "172.19.0.2", 53),
        ],
    )
    assert script == EXPECTED_TABLE


def test_nothing_to_do_deletes_the_table() -> None:
    assert nft.render("berth-1", [], []) == "table inet berth-1\ndelete table inet berth-1\n"


def test_ip_batches() -> None:
    attachment = links.Attachment(
        bridge="berth0",
        host_device="veth0123",
        interface="eth0",
        address="172.18.0.2",
        prefix=16,
        gateway="172.18.0.1",
        mac="02:42:ac:12:00:02",
        default_route=True,
    )
    assert links.host_commands(attachment, Path("/run/berth/netns/c")) == (
        "link add veth0123 type veth peer name eth0 address 02:42:ac:12:00:02 "
        'netns "/run/berth/netns/c"\n'
        "link set veth0123 master berth0 up\n"
    )
    # ip -batch splits on blanks: a runroot with a space stays one word.
    assert 'netns "/run/my berth/netns/c"\n' in links.host_commands(
        attachment, Path("/run/my berth/netns/c")
    )
    with pytest.raises(InvalidArgument):
        links.host_commands(attachment, Path('/run/a"b/netns/c'))
    assert links.inner_commands(attachment) == (
        "link set lo up\n"
        "addr add 172.18.0.2/16 dev eth0\n"
        "link set eth0 up\n"
        "route add default via 172.18.0.1 dev eth0\n"
    )
    assert "route" not in links.inner_commands(attachment._replace(default_route=False))
    assert len(links.host_device("a" * 64, "b" * 64)) <= 15  # IFNAMSIZ


def test_subnets_skip_what_the_host_routes() -> None:
    taken = [ipaddress.IPv4Network("172.16.0.0/12")]
    assert str(ipam.choose_subnet(taken)) == "192.168.0.0/20"
    assert str(ipam.choose_subnet([ipaddress.IPv4Network("172.17.5.0/24")])) == "172.18.0.0/16"
    everything = [ipaddress.IPv4Network("0.0.0.0/1"), ipaddress.IPv4Network("128.0.0.0/1")]
    with pytest.raises(Conflict):
        ipam.choose_subnet(everything)


def test_addresses_skip_the_gateway_and_used_ones() -> None:
    subnet = ipaddress.IPv4Network("10.9.0.0/30")
    assert ipam.free_address(subnet, "10.9.0.1", []) == "10.9.0.2"
    with pytest.raises(Conflict):
        ipam.free_address(subnet, "10.9.0.1", ["10.9.0.2"])
    assert ipam.mac_for("172.17.0.2") == "02:42:ac:11:00:02"  # Docker's scheme
    assert ipam.gateway_for(ipaddress.IPv4Network("10.1.0.0/16")) == "10.1.0.1"
    with pytest.raises(InvalidArgument):
        ipam.gateway_for(ipaddress.IPv4Network("10.1.0.0/16"), "10.2.0.1")
    with pytest.raises(InvalidArgument, match=r"it should be 10\.1\.0\.0/16"):
        ipam.parse_subnet("10.1.2.3/16")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("8080:80", [("80/tcp", "", "8080")]),
        ("80", [("80/tcp", "", "")]),
        ("127.0.0.1:8080:80/udp", [("80/udp", "127.0.0.1", "8080")]),
        ("127.0.0.1::80", [("80/tcp", "127.0.0.1", "")]),
        ("8000-8001:80-81", [("80/tcp", "", "8000"), ("81/tcp", "", "8001")]),
        ("8000-8010:80", [("80/tcp", "", "8000-8010")]),
    ],
)
def test_publish_syntax(spec: str, expected: list[tuple[str, str, str]]) -> None:
    assert ports.parse_publish(spec) == expected


@pytest.mark.parametrize(
    "spec", ["", "80/sctp", "x:80", "1.2.3:80:80", "70000", "1:2:3:4", "[::1]:80:80"]
)
def test_bad_publish_specs(spec: str) -> None:
    with pytest.raises(InvalidArgument):
        ports.parse_publish(spec)


def test_wanted_ports_with_publish_all() -> None:
    wanted = ports.wanted(
        {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}, {"80/tcp": {}, "53/udp": {}}, True
    )
    assert wanted == [
        ports.Wanted("tcp", 80, "0.0.0.0", (8080,)),
        ports.Wanted("udp", 53, "0.0.0.0", (0,)),
    ]
