"""What create decides before anything is written: Docker's merge of the run options with
the image's config, and the checks Docker makes at create (limits, the command)."""

from __future__ import annotations

from typing import Any

from berth.errors import InvalidArgument

MIN_MEMORY = 6 * 1024 * 1024


def merge_image_config(config: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """Docker's merge at create: the image supplies what the run options leave unset."""
    from berth.container.spec import merge_env

    merged = dict(config)
    merged["Env"] = merge_env(image.get("Env") or [], config.get("Env") or [])
    if not config.get("Entrypoint") and config.get("Entrypoint") != []:
        merged["Entrypoint"] = image.get("Entrypoint")
        if not config.get("Cmd"):
            merged["Cmd"] = image.get("Cmd")
    for key in ("WorkingDir", "User", "StopSignal", "Shell"):
        if not merged.get(key) and image.get(key):
            merged[key] = image[key]
    for key in ("ExposedPorts", "Volumes", "Labels"):
        combined = {**(image.get(key) or {}), **(config.get(key) or {})}
        merged[key] = combined or None
    if image.get("Healthcheck"):  # Docker's merge: unset fields come from the image
        own = dict(config.get("Healthcheck") or {})
        merged["Healthcheck"] = {
            **image["Healthcheck"],
            **{k: v for k, v in own.items() if v not in (None, 0, [], "")},
        }
    return merged


def check_resources(host_config: dict[str, Any]) -> None:
    memory = int(host_config.get("Memory") or 0)
    if memory and memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    swap = int(host_config.get("MemorySwap") or 0)
    if swap > 0 and memory and swap < memory:
        raise InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if swap and not memory:
        raise InvalidArgument(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
