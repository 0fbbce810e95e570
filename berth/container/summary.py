"""A container's summary in Docker's words — its Command, its Status (`Up 5 seconds
(healthy)`) and its Ports — from plain values, for both readers of a listing: the engine's
`GET /containers/json` (berth.engine.reports.containers) and the quick `ps`
(berth.container.listing), so the two print the same.

Imports berth.humanize and nothing else: the quick `ps` must not pay for enum or typing (the
statuses are state.Status's values, as text; state imports this module, not the reverse).
"""

from __future__ import annotations

from berth import humanize

TYPE_CHECKING = False  # typing costs the quick `ps` ~3 ms
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any, Protocol

    class Published(Protocol):
        """A published port (berth.network.records.PortMapping, or the quick listing's)."""

        @property
        def protocol(self) -> str: ...

        @property
        def container_port(self) -> int: ...

        @property
        def host_ip(self) -> str: ...

        @property
        def host_port(self) -> int: ...


# state.Status's values.
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
RESTARTING = "restarting"
EXITED = "exited"


def command(words: Sequence[str]) -> str:
    """Docker's Command: the path, then the arguments, each with a space quoted."""
    return " ".join([*words[:1], *(f"'{w}'" if " " in w else w for w in words[1:])])


def health_status(state: Mapping[str, Any]) -> str:
    """starting, healthy or unhealthy; `none` without a healthcheck (Docker's filter word)."""
    return str((state.get("Health") or {}).get("Status") or "none")


def status_text(state: Mapping[str, Any], now: float) -> str:
    """Docker's Status: `Up 5 seconds (healthy)`, `Exited (0) 2 minutes ago`, `Created`."""
    status = state.get("Status", CREATED)
    started = humanize.parse_time(state.get("StartedAt"))
    finished = humanize.parse_time(state.get("FinishedAt"))
    if status in (RUNNING, PAUSED) and started is not None:
        text = f"Up {humanize.duration(now - started.timestamp())}"
        if status == PAUSED:
            return text + " (Paused)"
        health = health_status(state)
        if health == "starting":
            return text + " (health: starting)"
        return f"{text} ({health})" if health != "none" else text
    if status == RESTARTING and finished is not None:
        ago = humanize.duration(now - finished.timestamp())
        return f"Restarting ({state.get('ExitCode', 0)}) {ago} ago"
    if status == EXITED and finished is not None and finished.year > 1:
        ago = humanize.duration(now - finished.timestamp())
        return f"Exited ({state.get('ExitCode', 0)}) {ago} ago"
    return {"created": "Created", "dead": "Dead", "exited": "Exited"}.get(status, str(status))


def ports(exposed: Iterable[str], mappings: Iterable[Published]) -> list[dict[str, Any]]:
    """The summary's Ports: each published mapping, then each exposed port (`80/tcp`, the
    keys of Config.ExposedPorts) not published."""
    listed: list[dict[str, Any]] = [
        {
            "IP": m.host_ip,
            "PrivatePort": m.container_port,
            "PublicPort": m.host_port,
            "Type": m.protocol,
        }
        for m in mappings
    ]
    published = {f"{m['PrivatePort']}/{m['Type']}" for m in listed}
    for key in exposed:
        if key not in published:
            port, _, protocol = key.partition("/")
            listed.append({"PrivatePort": int(port), "Type": protocol or "tcp"})
    return listed
