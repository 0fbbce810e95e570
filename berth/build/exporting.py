"""A build's end: the target stage's state written as an image (config, manifest, the new
layers' blobs), tagged.

The steps only measured their layers (`berth.image.making.measure_layer`): the layers the
image has are packed here, from the layer store, and the cache entries of the build that name
them get their blobs, so that a rebuild from the cache packs nothing again. The layers of
stages only copied from are never packed.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from berth.build.cache_from import inline_cache

if TYPE_CHECKING:
    from berth.build.executor import Build
    from berth.build.state import State
    from berth.image.making import LayerMade

Additions = list[tuple["LayerMade | None", dict[str, Any]]]


def export(build: Build, state: State) -> str:
    """The image of the target's final `state`; its id."""
    from berth.image import making

    services = build.services
    options = build.options
    tags = list(options.tags)
    if not state.additions and state.base_id and not options.labels:
        for tag in tags:  # FROM alone: the base image itself, as Docker makes it
            services.image_service.records.tag(state.base_id, tag)
        build.progress.built(state.base_id, [t.familiar() for t in tags])
        return state.base_id
    base = None
    if state.base_id is not None:
        record = services.image_service.lookup(state.base_id)
        base = making.base_of(services.content, record)
    config = copy.deepcopy(state.config)
    if options.labels:
        config["Labels"] = {**(config.get("Labels") or {}), **options.labels}
    created = state.additions[-1][1]["created"] if state.additions else build.created()
    image_id = making.write_image(
        services.content,
        services.image_service.records,
        services.layers,
        base,
        _packed(build, state.additions),
        config,
        created,
        tag=tags[0] if tags else None,
        extra={**state.top, **(inline_cache(base, state) if options.inline_cache else {})},
    )
    for tag in tags[1:]:
        services.image_service.records.tag(image_id, tag)
    build.progress.built(image_id, [t.familiar() for t in tags])
    return image_id


def _packed(build: Build, additions: Additions) -> Additions:
    """The additions, each layer with its blob (packed now if its step only measured it)."""
    from berth.build.state import layer_json
    from berth.image.making import packed

    services = build.services
    done: dict[str, LayerMade] = {}
    result: Additions = []
    for made, entry in additions:
        layer = made
        if made is not None and made.blob is None:
            layer = done.get(made.diff_id)
            if layer is None:
                layer = packed(services.layout, services.content, services.layers, made)
                done[made.diff_id] = layer
        result.append((layer, entry))
    if done:
        blobs = {diff_id: layer_json(made) for diff_id, made in done.items()}
        services.build_cache.fill_blobs(build.keys, blobs)
    return result
