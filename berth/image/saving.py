"""Saving images to one tar, as Docker 25+ writes it: what `save` and `GET /images/get` do.

The tar holds both Docker's docker-archive layout (`manifest.json`, `repositories`, configs
and layer tars) and an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`),
sharing their files: each layer is an uncompressed tar at `blobs/sha256/<diff_id>` (what
docker-archive readers want, and the OCI manifests written here name them as
`application/vnd.oci.image.layer.v1.tar`), each config at `blobs/sha256/<image id>`, byte
for byte the stored one, so image ids survive the round trip. Several images and tags in one
file share their blobs; each layer is written once.

The layer tars are the stored (gzip or zstd) blobs decompressed as they are written, never
held in memory, and checked against their diff_id. A tar header needs the member's size
before its data: into a regular file, the header is written first and patched once the
layer is written; into a stream (stdout on a pipe, an API response), each layer is
decompressed once to measure (and check) it, then again to send.

Names follow Docker's: `name:tag` saves that tag, a bare `name` every tag of the repository,
an id or `name@digest` the image without a name. Must not import anything above image.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tarfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from berth.errors import DataLoss, InvalidArgument
from berth.image import making
from berth.oci import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_TAR,
    OCI_MANIFEST,
    Descriptor,
    compression_of,
    media_type_of,
    parse_config,
    parse_manifest,
    sha256_digest,
    short_id,
)
from berth.reference import Reference, is_digest, parse

if TYPE_CHECKING:
    from berth.content import ContentStore
    from berth.image.records import ImageRecord, ImageStore
    from berth.layout import Layout

CHUNK = 1 << 20
BLOCK = 512
IMAGE_NAME = "io.containerd.image.name"
REF_NAME = "org.opencontainers.image.ref.name"


class _Layer(NamedTuple):
    diff_id: str
    blob: Descriptor  # the stored, compressed blob


class _Image(NamedTuple):
    record: ImageRecord
    config: bytes
    layers: tuple[_Layer, ...]
    names: tuple[Reference, ...]


def chosen(records: ImageStore, names: list[str]) -> list[tuple[ImageRecord, list[Reference]]]:
    """The images `names` ask for, each with the tags to save it under (Docker's rules)."""
    found: dict[str, tuple[ImageRecord, list[Reference]]] = {}

    def add(record: ImageRecord, tag: Reference | None) -> None:
        _, tags = found.setdefault(record.id, (record, []))
        if tag is not None and tag not in tags:
            tags.append(tag)

    for text in names:
        reference = None if is_digest(text) else _reference(text)
        if reference is None or reference.digest is not None:
            add(records.lookup(text), None)  # an id, or name@digest: no name is saved
        elif reference.tag is not None:
            add(records.lookup(text), reference)
        else:
            tagged = [
                (record, parse(tag))
                for record in records.all()
                for tag in record.tags
                if parse(tag).name == reference.name
            ]
            if not tagged:
                add(records.lookup(text), None)  # an id prefix that looks like a name
            for record, tag in tagged:
                add(record, tag)
    return list(found.values())


def _reference(text: str) -> Reference | None:
    try:
        reference = parse(text, default_tag=False)
    except InvalidArgument:
        return None
    return None if reference.familiar_name == "sha256" else reference


class Saver:
    """The tar of some images; `write_file` or `chunks` writes it once."""

    def __init__(
        self,
        layout: Layout,
        content: ContentStore,
        chosen: list[tuple[ImageRecord, list[Reference]]],
    ) -> None:
        if not chosen:
            raise InvalidArgument("no image to save")
        self.layout = layout
        self.content = content
        self.images = [self._image(record, names) for record, names in chosen]

    def _image(self, record: ImageRecord, names: list[Reference]) -> _Image:
        config = self.content.read(record.id)
        data = self.content.read(record.manifest_digest)
        manifest = parse_manifest(data, media_type_of(data, None))
        diff_ids = parse_config(config).diff_ids
        if len(diff_ids) != len(manifest.layers):
            raise DataLoss(f"image {record.id}: its manifest and config disagree on its layers")
        layers = tuple(_Layer(d, b) for d, b in zip(diff_ids, manifest.layers, strict=True))
        for layer in layers:
            self.content.info(layer.blob.digest)  # NotFound now, not midway through the tar
        return _Image(record, config, layers, tuple(names))

    def _unique_layers(self) -> list[_Layer]:
        seen: dict[str, _Layer] = {}
        for image in self.images:
            for layer in image.layers:
                seen.setdefault(layer.diff_id, layer)
        return list(seen.values())

    # -- writers -------------------------------------------------------------------------

    def write_file(self, out: BinaryIO) -> None:
        """Into a regular file (not opened for appending): each layer's header is patched
        with its size once the layer is written."""
        with making.reading_blobs(self.layout):  # no collection takes a blob meanwhile
            self._write_file(out)

    def _write_file(self, out: BinaryIO) -> None:
        sizes: dict[str, int] = {}
        for chunk in _directories():
            out.write(chunk)
        for layer in self._unique_layers():
            out.flush()
            offset = out.tell()
            out.write(_header(_blob_name(layer.diff_id), 0))
            size, digest = 0, hashlib.sha256()
            for chunk in _decompressed(self.content, layer.blob):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            _check(layer, f"sha256:{digest.hexdigest()}")
            out.write(_padding(size))
            out.flush()
            os.pwrite(out.fileno(), _header(_blob_name(layer.diff_id), size), offset)
            sizes[layer.diff_id] = size
        for name, data in self._documents(sizes):
            out.write(_header(name, len(data)) + data + _padding(len(data)))
        out.write(bytes(2 * BLOCK))
        out.flush()

    def chunks(self) -> Iterator[bytes]:
        """Into any stream: each layer is measured (and checked) first."""
        with making.reading_blobs(self.layout):  # no collection takes a blob meanwhile
            yield from self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        sizes: dict[str, int] = {}
        yield from _directories()
        for layer in self._unique_layers():
            size, digest = 0, hashlib.sha256()
            for chunk in _decompressed(self.content, layer.blob):
                digest.update(chunk)
                size += len(chunk)
            _check(layer, f"sha256:{digest.hexdigest()}")
            yield _header(_blob_name(layer.diff_id), size)
            written = 0
            for chunk in _decompressed(self.content, layer.blob):
                written += len(chunk)
                yield chunk
            if written != size:
                raise DataLoss(f"layer {short_id(layer.diff_id)} changed while it was saved")
            yield _padding(size)
            sizes[layer.diff_id] = size
        for name, data in self._documents(sizes):
            yield _header(name, len(data)) + data + _padding(len(data))
        yield bytes(2 * BLOCK)

    # -- documents -----------------------------------------------------------------------

    def _documents(self, sizes: dict[str, int]) -> Iterator[tuple[str, bytes]]:
        """Configs, OCI manifests, then the layouts' index files (Docker's order)."""
        items: list[dict[str, Any]] = []
        index: list[dict[str, Any]] = []
        repositories: dict[str, dict[str, str]] = {}
        written: set[str] = set()
        for image in self.images:
            manifest = _encode(_oci_manifest(image, sizes))
            manifest_digest = sha256_digest(manifest)
            for name, data in (
                (_blob_name(image.record.id), image.config),
                (_blob_name(manifest_digest), manifest),
            ):
                if name not in written:
                    written.add(name)
                    yield name, data
            descriptor = {
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest),
            }
            for tag in image.names:
                annotations = {IMAGE_NAME: str(tag), REF_NAME: tag.tag or ""}
                index.append({**descriptor, "annotations": annotations})
                top = image.layers[-1].diff_id.removeprefix("sha256:") if image.layers else ""
                repositories.setdefault(tag.familiar_name, {})[tag.tag or ""] = top
            if not image.names:
                index.append(descriptor)
            items.append(
                {
                    "Config": _blob_name(image.record.id),
                    "RepoTags": [tag.familiar() for tag in image.names] or None,
                    "Layers": [_blob_name(layer.diff_id) for layer in image.layers],
                    "LayerSources": {
                        layer.diff_id: _layer_descriptor(layer, sizes) for layer in image.layers
                    },
                }
            )
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index}
        yield "index.json", _encode(document)
        yield "manifest.json", _encode(items) + b"\n"
        yield "oci-layout", b'{"imageLayoutVersion": "1.0.0"}'
        if repositories:
            yield "repositories", _encode(repositories) + b"\n"


def _oci_manifest(image: _Image, sizes: dict[str, int]) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": image.record.id, "size": len(image.config)},
        "layers": [_layer_descriptor(layer, sizes) for layer in image.layers],
    }


def _layer_descriptor(layer: _Layer, sizes: dict[str, int]) -> dict[str, Any]:
    return {"mediaType": OCI_LAYER_TAR, "size": sizes[layer.diff_id], "digest": layer.diff_id}


def _encode(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _check(layer: _Layer, actual: str) -> None:
    if actual != layer.diff_id:
        raise DataLoss(
            f"layer {short_id(layer.diff_id)} is damaged in the store: its blob "
            f"{layer.blob.digest} decompresses to {actual}"
        )


@contextlib.contextmanager
def _opened(raw: BinaryIO, compression: str) -> Iterator[Any]:
    if compression == "gzip":
        from isal import igzip_threaded

        # One thread inflates while this one writes the tar.
        with igzip_threaded.open(raw, "rb", threads=1) as stream:  # type: ignore[no-untyped-call]
            yield stream
    elif compression == "zstd":
        from berth.archive.source import ZstdReader

        yield ZstdReader(raw)
    else:
        yield raw


def _decompressed(content: ContentStore, blob: Descriptor) -> Iterator[bytes]:
    with content.open(blob.digest) as raw, _opened(raw, compression_of(blob.media_type)) as data:
        try:
            while chunk := data.read(CHUNK):
                yield chunk
        except (OSError, EOFError) as error:
            raise DataLoss(f"blob {blob.digest} is damaged in the store: {error}") from None


def _blob_name(digest: str) -> str:
    return f"blobs/sha256/{digest.removeprefix('sha256:')}"


def _header(name: str, size: int, *, directory: bool = False) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0  # the same images make the same tar
    info.mode = 0o755 if directory else 0o644
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.uname = info.gname = ""
    return info.tobuf(tarfile.GNU_FORMAT)  # one block: names are short; base-256 sizes


def _directories() -> Iterator[bytes]:
    yield _header("blobs/", 0, directory=True)
    yield _header("blobs/sha256/", 0, directory=True)


def _padding(size: int) -> bytes:
    return bytes(-size % BLOCK)
