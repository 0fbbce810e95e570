"""What a new container takes from other containers, settled at create as dockerd settles
it, whoever sent the HostConfig: `--volumes-from` copies another container's volumes and
binds into HostConfig.Mounts (so its start, `cp`, `rm -v` and inspect all see them as the
container's own), and `--link` names containers that must exist (what a link gives is
worked out at start: berth.container.links)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from berth.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from berth.container.records import ContainerRecord

Lookup = Callable[[str], "ContainerRecord"]
INHERITED = "VolumesFrom"  # a Mounts entry's key: the container it was inherited from


def resolve(host_config: dict[str, Any], lookup: Lookup) -> None:
    """Check VolumesFrom and Links against the containers there are; inherit the mounts."""
    _check_links(host_config, lookup)
    own = list(host_config.get("Mounts") or [])
    taken = {str(m.get("Target")) for m in own}
    inherited: list[dict[str, Any]] = []
    for entry in host_config.get("VolumesFrom") or []:
        name, _, mode = str(entry).partition(":")
        if mode not in ("", "ro", "rw"):
            raise InvalidArgument(f"invalid mode: {mode}")
        source = lookup(name)
        for mount in source.host_config.get("Mounts") or []:
            target = str(mount.get("Target"))
            if mount.get("Type") not in ("bind", "volume") or target in taken:
                continue  # the container's own mounts win, as Docker's binds over volumes-from
            taken.add(target)
            copied = {k: v for k, v in mount.items() if k not in ("Mode", INHERITED)}
            copied["ReadOnly"] = bool(mount.get("ReadOnly")) or mode == "ro"
            copied[INHERITED] = source.id
            inherited.append(copied)
    if inherited:
        host_config["Mounts"] = inherited + own


def _check_links(host_config: dict[str, Any], lookup: Lookup) -> None:
    """Each link `NAME[:ALIAS]` on the default bridge names a container there is (on a
    user-defined network it is only a name its resolver answers, as dockerd's endpoint
    links); links and another container's or the host's network don't mix (dockerd's
    refusal). Stored as `NAME:ALIAS`."""
    from berth.network.setup import DEFAULT_NETWORK, network_mode

    links = [str(link) for link in host_config.get("Links") or []]
    if not links:
        return
    mode = network_mode(host_config)
    if mode == "host":
        raise InvalidArgument(
            "conflicting options: host type networking can't be used with links. This would "
            "result in undefined behavior"
        )
    if mode.startswith("container:"):
        raise InvalidArgument(
            "conflicting options: container type network can't be used with links. This "
            "would result in undefined behavior"
        )
    normalised = []
    for link in links:
        name, _, alias = link.removeprefix("/").partition(":")
        normalised.append(f"{name}:{alias.rsplit('/', 1)[-1] or name}")
        if mode != DEFAULT_NETWORK:
            continue  # a user-defined network's link is a name, looked up when resolved
        try:
            child = lookup(name)
        except NotFound as error:  # dockerd's: a bad argument (a 404 makes clients pull)
            raise InvalidArgument(f"could not get container for {name}: {error.message}") from None
        if network_mode(child.host_config) == "host":
            raise InvalidArgument(
                "conflicting options: host type networking can't be used with links. This "
                "would result in undefined behavior"
            )
    host_config["Links"] = normalised
