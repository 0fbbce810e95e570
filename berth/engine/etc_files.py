"""The files Docker writes for every container and binds over its /etc: hostname, hosts and
resolv.conf, kept in the container's directory so `inspect` can name them."""

from __future__ import annotations

from pathlib import Path

from berth.container import ContainerRecord

HOST_RESOLV_CONF = Path("/etc/resolv.conf")
# Docker's fallback when the host only has loopback resolvers, which a container can't reach.
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")


def _resolv_conf(network_mode: str) -> str:
    try:
        lines = HOST_RESOLV_CONF.read_text().splitlines()
    except OSError:
        lines = []
    if network_mode == "host":
        return "\n".join(lines) + "\n"
    kept = [
        line
        for line in lines
        if not (line.split()[:1] == ["nameserver"] and _loopback(line.split()[1:2]))
    ]
    if not any(line.startswith("nameserver") for line in kept):
        kept += [f"nameserver {address}" for address in FALLBACK_NAMESERVERS]
    return "\n".join(kept) + "\n"


def _loopback(address: list[str]) -> bool:
    return bool(address) and (address[0].startswith("127.") or address[0] == "::1")


def write_etc_files(directory: Path, record: ContainerRecord) -> dict[str, Path]:
    """Write the three files and return where each goes in the container."""
    hostname = str(record.config.get("Hostname") or record.id[:12])
    network_mode = str(record.host_config.get("NetworkMode") or "default")
    hosts = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    for entry in record.host_config.get("ExtraHosts") or []:
        name, _, address = str(entry).partition(":")
        hosts.append(f"{address}\t{name}")
    files = {
        "/etc/hostname": (directory / "hostname", hostname + "\n"),
        "/etc/hosts": (directory / "hosts", "\n".join(hosts) + "\n"),
        "/etc/resolv.conf": (directory / "resolv.conf", _resolv_conf(network_mode)),
    }
    for path, text in files.values():
        path.write_text(text)
    return {destination: path for destination, (path, _) in files.items()}
