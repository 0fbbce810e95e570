"""berth.network.nft.has_table asks nf_tables over netlink (no `nft` process at each start and
exit): it must see the tables of the calling thread's network namespace, as `nft` there does."""

from __future__ import annotations

from berth.network import netns, nft
from tests.fixtures.netns import NFT, HostNamespace

PROBE = "berth-test-probe"


def test_has_table_answers_for_the_callers_namespace(host_ns: HostNamespace) -> None:
    assert host_ns.run(NFT, "add", "table", "inet", PROBE).returncode == 0
    try:
        with netns.entered(host_ns.path):
            assert nft.has_table(PROBE)
            assert not nft.has_table(PROBE + "-absent")
        assert not nft.has_table(PROBE)  # the machine's own namespace has no such table
        assert f"table inet {PROBE}" in host_ns.nft_tables()
    finally:
        host_ns.run(NFT, "delete", "table", "inet", PROBE)
    with netns.entered(host_ns.path):
        assert not nft.has_table(PROBE)
