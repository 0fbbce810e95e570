"""What an image archive holds: its images, their configs, layer tars and names.

Two layouts are read, as Docker and podman write them:
- docker-archive: `manifest.json`, a list of {Config, RepoTags, Layers} whose paths name
  members — `<id>/layer.tar` (Docker before 25, often a symlink to another layer.tar),
  `blobs/sha256/<hex>` (Docker 25+, berth) or `<diff_id>.tar` (podman);
- an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`): skopeo's and
  podman's oci-archive, and the OCI half of a Docker 25+ or berth save. Names come from the
  `io.containerd.image.name` annotation, else `org.opencontainers.image.ref.name`.
When both are present (Docker 25+, berth), manifest.json is read: it carries the names.

Every document is checked against the digest that names it; a layer's digests (the
member's own, and the diff_id its tar must hash to) are carried to the loader, which checks
them as it reads the layer. Problems are `InvalidArgument` ("invalid archive: ...").
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any, NamedTuple

from berth.errors import DataLoss, InvalidArgument, NotFound
from berth.image.archive_read import Archive, invalid
from berth.oci import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    Descriptor,
    ImageConfig,
    check_digest,
    choose_platform,
    host_platform,
    media_type_of,
    parse_config,
    parse_index,
    parse_manifest,
    sha256_digest,
)
from berth.reference import Reference, parse

MANIFEST_JSON = "manifest.json"
INDEX_JSON = "index.json"
OCI_LAYOUT = "oci-layout"
IMAGE_NAME = "io.containerd.image.name"
REF_NAME = "org.opencontainers.image.ref.name"
_BLOB_PATH = re.compile(r"^blobs/sha256/([a-f0-9]{64})$")


class LayerSource(NamedTuple):
    member: str  # the archive path of the layer's tar (plain or compressed)
    diff_id: str  # what the uncompressed tar must hash to (the image config's)
    digest: str | None  # what the member's bytes must hash to, when the archive says
    descriptor: Descriptor | None  # the OCI manifest's descriptor of the member


class ImageSource(NamedTuple):
    config: bytes
    image_id: str
    parsed: ImageConfig
    layers: tuple[LayerSource, ...]
    names: tuple[Reference, ...]
    manifest: bytes | None  # an OCI layout's manifest, kept if its blobs are all stored


def images_in(archive: Archive) -> list[ImageSource]:
    """The archive's images (one per config: names of the same image are merged)."""
    try:
        if archive.has(MANIFEST_JSON):
            found = _docker_archive(archive)
        elif archive.has(INDEX_JSON):
            found = _oci_layout(archive)
        else:
            raise invalid(f"it holds neither {MANIFEST_JSON} nor an OCI layout's {INDEX_JSON}")
    except DataLoss as error:
        raise invalid(error.message) from None
    merged: dict[str, ImageSource] = {}
    for image in found:
        if image.parsed.platform.os != "linux":
            raise InvalidArgument(f"cannot load {image.parsed.platform.os} image on linux")
        known = merged.get(image.image_id)
        if known is None:
            merged[image.image_id] = image
        else:
            names = (*known.names, *(n for n in image.names if n not in known.names))
            merged[image.image_id] = known._replace(names=names)
    return list(merged.values())


# -- docker-archive ------------------------------------------------------------------------


def _docker_archive(archive: Archive) -> list[ImageSource]:
    items = _json(archive.read(MANIFEST_JSON), MANIFEST_JSON)
    if not isinstance(items, list):
        raise invalid(f"{MANIFEST_JSON} is not a list")
    return [_docker_image(archive, item) for item in items]


def _docker_image(archive: Archive, item: Any) -> ImageSource:
    if not isinstance(item, dict):
        raise invalid(f"an entry of {MANIFEST_JSON} is not an object")
    config_path, layers, tags = item.get("Config"), item.get("Layers"), item.get("RepoTags")
    if not isinstance(config_path, str) or not config_path:
        raise invalid(f"an entry of {MANIFEST_JSON} names no Config")
    if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
        raise invalid(f"the Layers of {config_path} are not a list of paths")
    if not isinstance(tags, list | None) or not all(isinstance(t, str) for t in tags or ()):
        raise invalid(f"the RepoTags of {config_path} are not a list of names")
    config = archive.read(config_path)
    image_id = sha256_digest(config)
    _check_named(config_path, image_id)
    parsed = parse_config(config)
    if len(layers) != len(parsed.diff_ids):
        raise invalid(
            f"invalid manifest, layers length mismatch: expected {len(layers)}, "
            f"got {len(parsed.diff_ids)}"
        )
    for path in layers:
        archive.member(path)  # there, and inside the archive, even if the store has it
    sources = tuple(
        LayerSource(path, diff_id, _named_digest(path), None)
        for path, diff_id in zip(layers, parsed.diff_ids, strict=True)
    )
    names = tuple(_tag(text) for text in tags or ())
    return ImageSource(config, image_id, parsed, sources, names, None)


def _tag(text: str) -> Reference:
    reference = parse(text, default_tag=False)
    if reference.tag is None or reference.digest is not None:
        raise invalid(f'invalid tag "{text}"')
    return reference


def _named_digest(path: str) -> str | None:
    """The digest a content-addressed path (`blobs/sha256/<hex>`) promises."""
    found = _BLOB_PATH.match(posixpath.normpath(path))
    return f"sha256:{found.group(1)}" if found else None


def _check_named(path: str, digest: str) -> None:
    named = _named_digest(path)
    if named is None:
        stem = path.rpartition("/")[2].removesuffix(".json")
        named = f"sha256:{stem}" if re.fullmatch(r"[a-f0-9]{64}", stem) else None
    if named is not None and named != digest:
        raise invalid(f"{path} does not match its digest: its content is {digest}")


# -- OCI image layout ----------------------------------------------------------------------


def _oci_layout(archive: Archive) -> list[ImageSource]:
    if archive.has(OCI_LAYOUT):
        layout = _json(archive.read(OCI_LAYOUT), OCI_LAYOUT)
        if not isinstance(layout, dict) or "imageLayoutVersion" not in layout:
            raise invalid(f"{OCI_LAYOUT} names no imageLayoutVersion")
    index = parse_index(archive.read(INDEX_JSON), "")
    found: list[ImageSource] = []
    for entry in index.manifests:
        if entry.media_type in INDEX_TYPES:
            found.append(_oci_image(archive, _platform_entry(archive, entry), _names(entry)))
        elif entry.media_type in MANIFEST_TYPES:  # not an attestation, a signature...
            found.append(_oci_image(archive, entry, _names(entry)))
    if not found:
        raise invalid(f"{INDEX_JSON} lists no image")
    return found


def _names(entry: Descriptor) -> tuple[Reference, ...]:
    text = entry.annotations.get(IMAGE_NAME) or entry.annotations.get(REF_NAME) or ""
    try:
        reference = parse(text) if text else None
    except InvalidArgument:
        return ()  # a bare tag or another tool's naming: the image loads without a name
    if reference is None or reference.tag is None:
        return ()
    return (reference,)


def _platform_entry(archive: Archive, entry: Descriptor) -> Descriptor:
    """The host's manifest of an index (those whose blobs the archive holds)."""
    data = _blob(archive, entry)
    index = parse_index(data, media_type_of(data, entry.media_type))
    present = index._replace(
        manifests=tuple(m for m in index.manifests if archive.has(_blob_path(m.digest)))
    )
    if not present.manifests:
        raise invalid(f"the index {entry.digest} has none of its manifests in the archive")
    try:
        return choose_platform(present, host_platform())
    except NotFound as error:  # the archive holds no manifest for this host
        raise InvalidArgument(error.message, hint=error.hint) from None


def _oci_image(archive: Archive, entry: Descriptor, names: tuple[Reference, ...]) -> ImageSource:
    data = _blob(archive, entry)
    manifest = parse_manifest(data, media_type_of(data, entry.media_type))
    config = _blob(archive, manifest.config)
    parsed = parse_config(config)
    if len(manifest.layers) != len(parsed.diff_ids):
        raise invalid(f"manifest {entry.digest} and its config disagree on the layers")
    sources = tuple(
        LayerSource(_blob_path(layer.digest), diff_id, layer.digest, layer)
        for layer, diff_id in zip(manifest.layers, parsed.diff_ids, strict=True)
    )
    return ImageSource(config, manifest.config.digest, parsed, sources, names, data)


def _blob_path(digest: str) -> str:
    return f"blobs/sha256/{check_digest(digest).removeprefix('sha256:')}"


def _blob(archive: Archive, descriptor: Descriptor) -> bytes:
    data = archive.read(_blob_path(descriptor.digest))
    actual = sha256_digest(data)
    if actual != descriptor.digest:
        raise invalid(f"blob {descriptor.digest} does not match its digest: it is {actual}")
    if len(data) != descriptor.size:
        raise invalid(f"blob {descriptor.digest} is {len(data)} bytes, not {descriptor.size}")
    return data


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # nested too deep
        raise invalid(f"failed to decode {what}: {error}") from None
