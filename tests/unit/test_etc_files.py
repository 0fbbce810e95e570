"""The resolv.conf berth writes for a container, from the host's (Docker's rules)."""

from __future__ import annotations

from berth.container.etc_files import resolv_conf

HOST = "search corp.example\nnameserver 127.0.0.53\nnameserver 10.1.2.3\noptions edns0\n"


def test_loopback_nameservers_are_dropped_on_a_bridge() -> None:
    assert resolv_conf(HOST, "bridge", False) == (
        "search corp.example\nnameserver 10.1.2.3\noptions edns0\n"
    )


def test_only_loopback_nameservers_fall_back_to_googles() -> None:
    text = resolv_conf("nameserver 127.0.0.53\nnameserver ::1\n", "bridge", False)
    assert text == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def test_user_networks_use_the_embedded_resolver() -> None:
    assert resolv_conf(HOST, "apps", True) == (
        "search corp.example\nnameserver 127.0.0.11\noptions ndots:0\n"
    )


def test_host_network_gets_the_hosts_file_as_is() -> None:
    assert resolv_conf(HOST, "host", False) == HOST
