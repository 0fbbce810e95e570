"""OCI and Docker wire types: media types, descriptors, manifests, indexes, image configs.

Parsing validates shape and raises DataLoss for documents that don't match what they claim
to be. Pure code: no I/O.
"""

import json
import os
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from berth.errors import DataLoss, InvalidArgument
from berth.media_types import (
    ACCEPTED_MANIFEST_TYPES as ACCEPTED_MANIFEST_TYPES,
)
from berth.media_types import (
    DOCKER_CONFIG as DOCKER_CONFIG,
)
from berth.media_types import (
    DOCKER_LAYER_FOREIGN as DOCKER_LAYER_FOREIGN,
)
from berth.media_types import (
    DOCKER_LAYER_GZIP as DOCKER_LAYER_GZIP,
)
from berth.media_types import (
    DOCKER_MANIFEST as DOCKER_MANIFEST,
)
from berth.media_types import (
    DOCKER_MANIFEST_LIST as DOCKER_MANIFEST_LIST,
)
from berth.media_types import (
    FOREIGN_LAYER_TYPES as FOREIGN_LAYER_TYPES,
)
from berth.media_types import (
    INDEX_TYPES as INDEX_TYPES,
)
from berth.media_types import (
    MANIFEST_TYPES as MANIFEST_TYPES,
)
from berth.media_types import (
    OCI_CONFIG as OCI_CONFIG,
)
from berth.media_types import (
    OCI_INDEX as OCI_INDEX,
)
from berth.media_types import (
    OCI_LAYER_GZIP as OCI_LAYER_GZIP,
)
from berth.media_types import (
    OCI_LAYER_NONDIST_GZIP as OCI_LAYER_NONDIST_GZIP,
)
from berth.media_types import (
    OCI_LAYER_TAR as OCI_LAYER_TAR,
)
from berth.media_types import (
    OCI_LAYER_ZSTD as OCI_LAYER_ZSTD,
)
from berth.media_types import (
    OCI_MANIFEST as OCI_MANIFEST,
)

_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


def compression_of(media_type: str) -> str:
    """`gzip`, `zstd` or `none` for a layer media type."""
    if media_type in (OCI_LAYER_TAR, "application/vnd.docker.image.rootfs.diff.tar"):
        return "none"
    if media_type.endswith("+zstd") or media_type.endswith(".zstd"):
        return "zstd"
    if media_type.endswith("gzip") or media_type.endswith("+gzip"):
        return "gzip"
    raise DataLoss(f"unsupported layer media type {media_type}")


SMALL_DATA = 1 << 16


def sha256_digest(data: bytes) -> str:
    """`sha256:` and the hex digest. Small data (names, configs, manifests) is hashed by
    CPython's builtin SHA-256: hashlib loads OpenSSL first, ~3 ms of every command that
    hashes even a container's veth name; OpenSSL's speed matters only for blobs."""
    if len(data) < SMALL_DATA:
        from berth.small_hash import sha256
    else:
        from hashlib import sha256
    digest: str = sha256(data).hexdigest()
    return "sha256:" + digest


def check_digest(digest: str) -> str:
    """Return the digest if it is a well-formed sha256 digest, else raise."""
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise DataLoss(f"invalid or unsupported digest {digest!r}")
    return digest


def verify(data: bytes, digest: str) -> None:
    actual = sha256_digest(data)
    if actual != digest:
        raise DataLoss(f"digest mismatch: expected {digest}, got {actual}")


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The OCI chain ids of a stack of layers, bottom first."""
    chain: list[str] = []
    for diff_id in diff_ids:
        chain.append(diff_id if not chain else sha256_digest(f"{chain[-1]} {diff_id}".encode()))
    return chain


class Platform(NamedTuple):
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm"}


def parse_platform(text: str) -> Platform:
    """`linux/arm64/v8` -> Platform; arch aliases are normalised as containerd does."""
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidArgument(f'invalid platform "{text}": expected os/arch[/variant]')
    arch = _ARCH_ALIASES.get(parts[1], parts[1])
    variant = parts[2] if len(parts) == 3 else None
    if arch == "arm64" and variant == "v8":
        variant = None
    return Platform(parts[0], arch, variant)


def host_platform() -> Platform:
    machine = os.uname().machine.lower()  # what platform.machine() reads, without its import
    arch = _ARCH_ALIASES.get(machine, machine)
    variant = None
    if machine.startswith("armv7"):
        arch, variant = "arm", "v7"
    return Platform("linux", arch, variant)


class Descriptor(NamedTuple):
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = MappingProxyType({})
    urls: tuple[str, ...] = ()


def _descriptor(raw: Any, what: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise DataLoss(f"malformed {what}: descriptor is not an object")
    media_type = raw.get("mediaType")
    size = raw.get("size")
    if not isinstance(media_type, str) or not isinstance(size, int) or size < 0:
        raise DataLoss(f"malformed {what}: descriptor lacks mediaType or size")
    platform = None
    raw_platform = raw.get("platform")
    if isinstance(raw_platform, dict):
        os_name, arch = raw_platform.get("os"), raw_platform.get("architecture")
        if isinstance(os_name, str) and isinstance(arch, str):
            variant = raw_platform.get("variant")
            platform = Platform(os_name, arch, variant if isinstance(variant, str) else None)
    annotations = raw.get("annotations") or {}
    return Descriptor(
        media_type=media_type,
        digest=check_digest(raw.get("digest", "")),
        size=size,
        platform=platform,
        annotations=dict(annotations) if isinstance(annotations, dict) else {},
        urls=tuple(raw.get("urls") or ()),
    )


def _load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # nested too deep
        raise DataLoss(f"malformed {what}: {error}") from None
    if not isinstance(document, dict):
        raise DataLoss(f"malformed {what}: not a JSON object")
    return document


class Manifest(NamedTuple):
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


class Index(NamedTuple):
    media_type: str
    manifests: tuple[Descriptor, ...]


def media_type_of(data: bytes, declared: str | None) -> str:
    """The media type of a manifest document: the body's own field, else the declared one."""
    document = _load_json(data, "manifest")
    found = document.get("mediaType")
    if isinstance(found, str) and found:
        return found
    if "manifests" in document:
        return OCI_INDEX
    if "layers" in document and "config" in document:
        return OCI_MANIFEST
    if declared:
        return declared.split(";")[0].strip()
    raise DataLoss("malformed manifest: unknown media type")


def parse_manifest(data: bytes, media_type: str) -> Manifest:
    document = _load_json(data, "manifest")
    if document.get("schemaVersion") != 2:
        raise DataLoss("malformed manifest: unsupported schemaVersion (only 2 is supported)")
    raw_layers = document.get("layers")
    if not isinstance(raw_layers, list):
        raise DataLoss("malformed manifest: no layers")
    config = _descriptor(document.get("config"), "manifest config")
    layers = tuple(_descriptor(layer, "manifest layer") for layer in raw_layers)
    for layer in layers:
        compression_of(layer.media_type)
    return Manifest(media_type, config, layers)


def parse_index(data: bytes, media_type: str) -> Index:
    document = _load_json(data, "index")
    raw = document.get("manifests")
    if not isinstance(raw, list):
        raise DataLoss("malformed index: no manifests")
    return Index(media_type, tuple(_descriptor(entry, "index entry") for entry in raw))


def choose_platform(index: Index, wanted: Platform) -> Descriptor:
    """The index entry for `wanted`, as containerd's platform matcher picks it.

    An entry without a variant matches any wanted variant of the same arch only if nothing
    closer is listed. Raises NotFound-like InvalidArgument naming what the index offers.
    """
    from berth.errors import NotFound

    candidates = [
        entry
        for entry in index.manifests
        if entry.platform is not None
        and entry.platform.os == wanted.os
        and _ARCH_ALIASES.get(entry.platform.architecture, entry.platform.architecture)
        == wanted.architecture
        and entry.media_type in MANIFEST_TYPES
    ]
    exact = [e for e in candidates if (e.platform and e.platform.variant) == wanted.variant]
    if exact:
        return exact[0]
    loose = [e for e in candidates if e.platform is not None and e.platform.variant is None]
    if loose:
        return loose[0]
    if candidates and wanted.variant is None:
        return candidates[0]
    offered = ", ".join(sorted({str(e.platform) for e in index.manifests if e.platform}))
    raise NotFound(
        f"no matching manifest for {wanted} in the manifest list entries",
        hint=f"the image offers: {offered or 'no platforms'}",
    )


class ImageConfig(NamedTuple):
    """The parts of an image config berth reads; `raw` keeps the whole document."""

    raw: Mapping[str, Any]
    diff_ids: tuple[str, ...]
    platform: Platform
    created: str | None

    @property
    def config(self) -> Mapping[str, Any]:
        value = self.raw.get("config") or {}
        return value if isinstance(value, dict) else {}

    @property
    def history(self) -> list[Mapping[str, Any]]:
        value = self.raw.get("history") or []
        return [entry for entry in value if isinstance(entry, dict)]


def parse_config(data: bytes) -> ImageConfig:
    document = _load_json(data, "image config")
    rootfs = document.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        raise DataLoss("malformed image config: rootfs.type is not 'layers'")
    raw_ids = rootfs.get("diff_ids")
    if not isinstance(raw_ids, list):
        raise DataLoss("malformed image config: no rootfs.diff_ids")
    diff_ids = tuple(check_digest(item) for item in raw_ids)
    platform = Platform(
        str(document.get("os") or "linux"),
        str(document.get("architecture") or "amd64"),
        document.get("variant") if isinstance(document.get("variant"), str) else None,
    )
    created = document.get("created")
    return ImageConfig(document, diff_ids, platform, created if isinstance(created, str) else None)


def short_id(digest: str, length: int = 12) -> str:
    """`sha256:abcdef...` -> `abcdef012345`, as Docker prints ids."""
    return digest.partition(":")[2][:length]
