"""The files Docker writes for every container and binds over its /etc: hostname, hosts and
resolv.conf, kept in the container's directory so `inspect` can name them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from berth.container import ContainerRecord

if TYPE_CHECKING:
    from berth.network.setup import NetworkSetup

HOST_RESOLV_CONF = Path("/etc/resolv.conf")
# Docker's fallback when the host only has loopback resolvers, which a container can't reach.
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")


def _host_resolv_conf() -> str:
    try:
        return HOST_RESOLV_CONF.read_text()
    except OSError:
        return ""


def resolv_conf(host_text: str, network_mode: str, embedded_dns: bool) -> str:
    """A container's resolv.conf from the host's, as Docker writes it: the host's own with
    `--network host`; the embedded resolver (and the host's search domains) on user-defined
    networks; otherwise the host's without loopback nameservers, which a container can't
    reach, falling back to Google's when none is left."""
    lines = host_text.splitlines()
    if network_mode == "host":
        return "\n".join(lines) + "\n"
    if embedded_dns:  # Docker's: the resolver answers the network's names, forwards the rest
        kept = [line for line in lines if line.split()[:1] in (["search"], ["domain"])]
        return "\n".join([*kept, "nameserver 127.0.0.11", "options ndots:0"]) + "\n"
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


def write_etc_files(
    directory: Path, record: ContainerRecord, network: NetworkSetup
) -> dict[str, Path]:
    """Write the three files and return where each goes in the container; a container that
    joins another's network namespace gets copies of that container's."""
    if network.shared_etc is not None:
        for name in ("hostname", "hosts", "resolv.conf"):
            shutil.copyfile(network.shared_etc / name, directory / name)
        return {f"/etc/{name}": directory / name for name in ("hostname", "hosts", "resolv.conf")}
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
    if network.address:
        hosts.append(f"{network.address}\t{hostname}")
    for entry in record.host_config.get("ExtraHosts") or []:
        name, _, address = str(entry).partition(":")
        hosts.append(f"{address}\t{name}")
    files = {
        "/etc/hostname": (directory / "hostname", hostname + "\n"),
        "/etc/hosts": (directory / "hosts", "\n".join(hosts) + "\n"),
        "/etc/resolv.conf": (
            directory / "resolv.conf",
            resolv_conf(_host_resolv_conf(), network_mode, network.dns),
        ),
    }
    for path, text in files.values():
        path.write_text(text)
    return {destination: path for destination, (path, _) in files.items()}
