"""The files Docker writes for every container and binds over its /etc: hostname, hosts and
resolv.conf, kept in the container's directory so `inspect` can name them; and /etc/mtab,
which Docker's init layer makes a link to /proc/mounts."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from berth.container import ContainerRecord

if TYPE_CHECKING:
    from berth.network.setup import NetworkSetup

HOST_RESOLV_CONF = Path("/etc/resolv.conf")
HOST_HOSTS = Path("/etc/hosts")
EMBEDDED_DNS = "127.0.0.11"
# Docker's fallback when the host only has loopback resolvers, which a container can't reach.
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
DEFAULT_HOSTS = (
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
)


def _host_file(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def resolv_conf(
    host_text: str,
    network_mode: str,
    embedded_dns: bool,
    dns: Sequence[str] = (),
    search: Sequence[str] = (),
    options: Sequence[str] = (),
) -> str:
    """A container's resolv.conf from the host's, as Docker writes it.

    Without --dns, --dns-search or --dns-option: the host's own with `--network host`; on
    other networks the host's without loopback nameservers (a container can't reach them),
    falling back to Google's when none is left. Each of those flags replaces its part of
    the host's (nameservers, search domains, options; `--dns-search .` means none). On
    user-defined networks the one nameserver is the embedded resolver, which forwards to
    the --dns servers (or the host's), with `ndots:0` unless an ndots is given."""
    lines = host_text.splitlines()
    if not (embedded_dns or dns or search or options):
        if network_mode == "host":
            return "\n".join(lines) + "\n"
        kept = [line for line in lines if not _loopback_nameserver(line)]
        if not any(line.startswith("nameserver") for line in kept):
            kept += [f"nameserver {address}" for address in FALLBACK_NAMESERVERS]
        return "\n".join(kept) + "\n"
    servers = list(dns) or _values(lines, "nameserver", every=True)
    domains = list(search) or _values(lines, "search") or _values(lines, "domain")
    chosen = list(options) or _values(lines, "options")
    if embedded_dns:
        servers = [EMBEDDED_DNS]
        if not any(option.startswith("ndots:") for option in chosen):
            chosen.append("ndots:0")  # Docker's: the network's names before any search domain
    elif not dns and network_mode != "host":
        servers = [s for s in servers if not _loopback(s)] or list(FALLBACK_NAMESERVERS)
    text = ""
    if domains and " ".join(domains).strip() != ".":
        text += f"search {' '.join(domains)}\n"
    text += "".join(f"nameserver {server}\n" for server in servers)
    if chosen:
        text += f"options {' '.join(chosen)}\n"
    return text


def _values(lines: list[str], keyword: str, *, every: bool = False) -> list[str]:
    """The words after `keyword`: of each such line (`every`), else of the last one."""
    found: list[str] = []
    for line in lines:
        words = line.split("#", 1)[0].split()
        if words[:1] == [keyword]:
            found = found + words[1:] if every else words[1:]
    return found


def _loopback_nameserver(line: str) -> bool:
    words = line.split()
    return words[:1] == ["nameserver"] and len(words) > 1 and _loopback(words[1])


def _loopback(address: str) -> bool:
    return address.startswith("127.") or address == "::1"


def hosts(record: ContainerRecord, network: NetworkSetup, hostname: str) -> str:
    """Docker's /etc/hosts: with `--network host` and no --add-host, the host's own; else
    the defaults, then --add-host entries, then legacy links, then the container's own
    address and name."""
    host_config = record.host_config
    extra = [str(entry) for entry in host_config.get("ExtraHosts") or []]
    if str(host_config.get("NetworkMode")) == "host" and not extra:
        return _host_file(HOST_HOSTS)
    lines = list(DEFAULT_HOSTS)
    for entry in extra:
        name, _, address = entry.partition(":")
        lines.append(f"{address}\t{name}")
    lines += [f"{address}\t{names}" for address, names in network.links.hosts]
    if network.address:
        lines.append(f"{network.address}\t{hostname}")
    return "\n".join(lines) + "\n"


def write_etc_files(
    directory: Path, record: ContainerRecord, network: NetworkSetup
) -> dict[str, Path]:
    """Write the three files and return where each goes in the container; a container that
    joins another's network namespace gets copies of that container's."""
    if network.shared_etc is not None:
        import shutil  # only here: its imports would cost every other start ~1.5 ms

        for name in ("hostname", "hosts", "resolv.conf"):
            shutil.copyfile(network.shared_etc / name, directory / name)
        return {f"/etc/{name}": directory / name for name in ("hostname", "hosts", "resolv.conf")}
    hostname = str(record.config.get("Hostname") or record.id[:12])
    host_config = record.host_config
    resolv = resolv_conf(
        _host_file(HOST_RESOLV_CONF),
        str(host_config.get("NetworkMode") or "default"),
        network.dns,
        [str(s) for s in host_config.get("Dns") or []],
        [str(s) for s in host_config.get("DnsSearch") or []],
        [str(s) for s in host_config.get("DnsOptions") or []],
    )
    files = {
        "/etc/hostname": (directory / "hostname", hostname + "\n"),
        "/etc/hosts": (directory / "hosts", hosts(record, network, hostname)),
        "/etc/resolv.conf": (directory / "resolv.conf", resolv),
    }
    for path, text in files.values():
        path.write_text(text)
    return {destination: path for destination, (path, _) in files.items()}


def link_mtab(rootfs: Path) -> None:
    """/etc/mtab -> /proc/mounts in the mounted rootfs, as Docker's init layer has it
    (`mount` and `df` read it); the image's /etc found without leaving the rootfs, and a
    directory of that name left alone."""
    from berth.sys.rootpath import resolve_in_root

    etc = resolve_in_root(str(rootfs), "/etc")
    if not os.path.isdir(etc) or os.path.islink(etc):
        return
    mtab = os.path.join(etc, "mtab")
    if os.path.islink(mtab) and os.readlink(mtab) == "/proc/mounts":
        return
    if os.path.isdir(mtab) and not os.path.islink(mtab):
        return
    if os.path.lexists(mtab):
        os.unlink(mtab)
    os.symlink("/proc/mounts", mtab)
