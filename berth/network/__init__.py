"""Container networking: bridges, veth pairs, addresses (IPAM), published ports in berth's own
nftables table, network namespaces and the embedded DNS responder of user-defined networks."""
