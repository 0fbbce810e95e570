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
        "search corp.example\nnameserver 127.0.0.11\noptions edns0 ndots:0\n"
    )


def test_dns_flags_replace_their_part_of_the_hosts_file() -> None:
    text = resolv_conf(HOST, "bridge", False, ["9.9.9.9"], ["a.example", "b.example"])
    assert text == "search a.example b.example\nnameserver 9.9.9.9\noptions edns0\n"
    assert resolv_conf(HOST, "bridge", False, options=["ndots:3"]) == (
        "search corp.example\nnameserver 10.1.2.3\noptions ndots:3\n"
    )
    assert resolv_conf(HOST, "bridge", False, search=["."]) == (
        "nameserver 10.1.2.3\noptions edns0\n"
    )


def test_dns_flags_on_a_user_network_keep_the_embedded_resolver() -> None:
    """Docker's: the resolver forwards to the --dns servers; a user's ndots wins."""
    assert resolv_conf(HOST, "apps", True, ["9.9.9.9"], ["x.example"], ["timeout:2"]) == (
        "search x.example\nnameserver 127.0.0.11\noptions timeout:2 ndots:0\n"
    )
    assert resolv_conf(HOST, "apps", True, options=["ndots:3"]) == (
        "search corp.example\nnameserver 127.0.0.11\noptions ndots:3\n"
    )


def test_dns_flags_apply_with_host_networking_too() -> None:
    assert resolv_conf(HOST, "host", False, search=["a.b"], options=["debug"]) == (
        "search a.b\nnameserver 127.0.0.53\nnameserver 10.1.2.3\noptions debug\n"
    )


def test_host_network_gets_the_hosts_file_as_is() -> None:
    assert resolv_conf(HOST, "host", False) == HOST
