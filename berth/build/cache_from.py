"""An image as a build cache: `--cache-from IMAGE`, and the inline cache that makes one.

A build with `--build-arg BUILDKIT_INLINE_CACHE=1` (BuildKit's switch) writes, in the image
config's `berth.build.cache`, the cache key of the step that made each history entry (null
for the base image's entries). Pushed and pulled elsewhere, the image then serves as a cache
there: a step whose key is one of them takes that entry and its layer instead of running,
so a CI machine with an empty cache rebuilds only what changed since the image was built.
Keys chain the parent's key, so a match means every step before it matched too; the keys
hold content digests of what COPY read, never times.

The image must be in the store (pull it first: `berth pull IMAGE || true`, as CI scripts do
for Docker's classic builder); one that is missing is noted and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from berth.errors import BerthError

if TYPE_CHECKING:
    from berth.build.executor import Services
    from berth.build.state import State
    from berth.image.making import Base, LayerMade

FIELD = "berth.build.cache"


class Source(NamedTuple):
    layer: LayerMade | None
    entry: dict[str, Any]  # the history entry
    chain: str | None  # the chain the layer tops (None for an entry without one)


def inline_cache(base: Base | None, state: State) -> dict[str, Any]:
    """The config fields naming the steps' keys, one per history entry."""
    inherited = len(base.config.history) if base is not None else 0
    return {FIELD: [None] * inherited + list(state.keys)}


def sources(
    services: Services, images: Sequence[str], note: Callable[[str], None]
) -> dict[str, Source]:
    """The steps the images' inline caches name, by key."""
    found: dict[str, Source] = {}
    for text in images:
        try:
            found.update(_image_sources(services, text))
        except BerthError as error:
            note(f"cache-from {text} skipped: {error.message}")
    return found


def _image_sources(services: Services, text: str) -> dict[str, Source]:
    from berth.image.making import LayerMade, base_of
    from berth.oci import chain_ids

    record = services.image_service.lookup(text)
    base = base_of(services.content, record)
    keys = base.config.raw.get(FIELD)
    history = base.config.history
    if not isinstance(keys, list) or len(keys) != len(history):
        return {}  # built without an inline cache (or not by berth)
    chains = chain_ids(base.config.diff_ids)
    found: dict[str, Source] = {}
    layer_index = -1
    for key, entry in zip(keys, history, strict=True):
        if not isinstance(entry, dict):
            return {}  # a malformed history: no cache
        empty = bool(entry.get("empty_layer"))
        if not empty:
            layer_index += 1
            if layer_index >= len(base.config.diff_ids):
                return {}  # more layers in the history than in the image
        if not isinstance(key, str):
            continue
        if empty:
            found[key] = Source(None, entry, None)
            continue
        diff_id = base.config.diff_ids[layer_index]
        stored = services.layers.layer(diff_id)
        if stored is None or not services.layers.has_chain(chains[layer_index]):
            continue
        made = LayerMade(diff_id, base.layers[layer_index], stored.size)
        found[key] = Source(made, entry, chains[layer_index])
    return found
