"""OCI documents: chain ids, platform choice, and rejection of malformed documents."""

import hashlib
import json

import pytest

from berth.errors import DataLoss, InvalidArgument, NotFound
from berth.oci import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    Platform,
    chain_ids,
    choose_platform,
    compression_of,
    parse_config,
    parse_index,
    parse_manifest,
    parse_platform,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64


def test_chain_ids_follow_the_spec() -> None:
    second = "sha256:" + hashlib.sha256(f"{D1} {D2}".encode()).hexdigest()
    third = "sha256:" + hashlib.sha256(f"{second} {D3}".encode()).hexdigest()
    assert chain_ids([D1, D2, D3]) == [D1, second, third]
    assert chain_ids([]) == []


def _index(*platforms: dict[str, str]) -> bytes:
    entries = [
        {"mediaType": DOCKER_MANIFEST, "digest": f"sha256:{i:064x}", "size": 1, "platform": p}
        for i, p in enumerate(platforms)
    ]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()


def test_choose_platform_prefers_exact_variant() -> None:
    index = parse_index(
        _index(
            {"os": "linux", "architecture": "arm", "variant": "v6"},
            {"os": "linux", "architecture": "arm", "variant": "v7"},
            {"os": "linux", "architecture": "amd64"},
        ),
        OCI_INDEX,
    )
    assert choose_platform(index, Platform("linux", "arm", "v7")).digest.endswith("1")
    assert choose_platform(index, Platform("linux", "amd64")).digest.endswith("2")


def test_missing_platform_names_what_is_offered() -> None:
    index = parse_index(_index({"os": "linux", "architecture": "amd64"}), OCI_INDEX)
    with pytest.raises(NotFound) as raised:
        choose_platform(index, Platform("linux", "s390x"))
    assert "linux/amd64" in (raised.value.hint or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/arm/v7", "linux/arm/v7"),
    ],
)
def test_parse_platform(text: str, expected: str) -> None:
    assert str(parse_platform(text)) == expected


@pytest.mark.parametrize("text", ["linux", "linux/", "a/b/c/d", ""])
def test_parse_platform_rejects(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_platform(text)


@pytest.mark.parametrize(
    "document",
    [
        b"not json",
        b"[]",
        b'{"schemaVersion": 1}',
        b'{"schemaVersion": 2, "config": {}, "layers": []}',
        b'{"schemaVersion": 2, "config": {"mediaType": "x", "size": 1, "digest": "md5:1"},'
        b' "layers": []}',
    ],
)
def test_malformed_manifests_are_data_loss(document: bytes) -> None:
    with pytest.raises(DataLoss):
        parse_manifest(document, DOCKER_MANIFEST)


def test_config_requires_layer_rootfs() -> None:
    with pytest.raises(DataLoss):
        parse_config(b'{"rootfs": {"type": "other", "diff_ids": []}}')
    config = parse_config(
        json.dumps(
            {"architecture": "arm64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [D1]}}
        ).encode()
    )
    assert config.diff_ids == (D1,)
    assert str(config.platform) == "linux/arm64"


def test_compression_of_media_types() -> None:
    assert compression_of("application/vnd.oci.image.layer.v1.tar+zstd") == "zstd"
    assert compression_of("application/vnd.docker.image.rootfs.diff.tar.gzip") == "gzip"
    assert compression_of("application/vnd.oci.image.layer.v1.tar") == "none"
    with pytest.raises(DataLoss):
        compression_of("application/x-unknown")
