"""The fixtures themselves work: if these fail, every pull test's verdict is meaningless."""

from __future__ import annotations

import gzip
import hashlib
import io
import ssl
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.fixtures import leaks
from tests.fixtures import oci_layout as oci
from tests.fixtures.images import Catalogue, ImageInfo
from tests.fixtures.proxy import CountingProxy, start_proxy
from tests.fixtures.registry import make_tls_pair, start_registry
from tests.fixtures.store import Berth, Store

ACCEPT = ", ".join([oci.OCI_MANIFEST, oci.OCI_INDEX, oci.DOCKER_MANIFEST, oci.DOCKER_LIST])


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def get_manifest(base_url: str, info: ImageInfo, reference: str = "") -> httpx.Response:
    url = f"{base_url}/v2/{info.repository}/manifests/{reference or info.tag}"
    return httpx.get(url, headers={"Accept": ACCEPT}, timeout=30)


def get_blob(base_url: str, info: ImageInfo, digest: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{base_url}/v2/{info.repository}/blobs/{digest}", headers=headers, timeout=30)


def with_digest(location: str, data: bytes) -> str:
    """The upload URL plus `digest=`, keeping the registry's own `_state` query."""
    return f"{location}{'&' if '?' in location else '?'}digest={quote(sha256(data))}"


# ---------------------------------------------------------------- the registry and catalogue


@pytest.mark.parametrize("key", ["app-a", "app-a:oci-gzip", "app-a:oci-zstd", "app-a:docker-none"])
def test_registry_serves_catalogue_manifests_by_digest(registry: Catalogue, key: str) -> None:
    info = registry[key]
    response = get_manifest(registry.url, info)
    assert response.status_code == 200
    assert sha256(response.content) == info.manifest_digest
    assert response.headers["Docker-Content-Digest"] == info.manifest_digest
    assert response.headers["Content-Type"] == info.manifest_media_type
    manifest = response.json()
    assert [layer["digest"] for layer in manifest["layers"]] == info.layer_digests
    assert manifest["config"]["digest"] == info.config_digest


def _layer_tar(info: ImageInfo, blob: bytes) -> bytes:
    media_type = info.layers[-1].media_type
    if media_type.endswith("gzip"):
        return gzip.decompress(blob)
    if media_type.endswith("zstd"):
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    return blob


@pytest.mark.parametrize(
    ("variant", "magic"),
    [("oci-gzip", b"\x1f\x8b"), ("oci-zstd", b"\x28\xb5\x2f\xfd"), ("oci-none", b"app/")],
)
def test_layers_are_served_in_their_own_compression(
    registry: Catalogue, variant: str, magic: bytes
) -> None:
    """skopeo must not have recompressed anything: the bytes served are the bytes we built."""
    info = registry[f"app-a:{variant}"]
    top = info.layers[-1]
    blob = get_blob(registry.url, info, top.digest).content
    assert sha256(blob) == top.digest
    assert blob.startswith(magic)
    assert sha256(_layer_tar(info, blob)) == top.diff_id


def test_config_agrees_with_layers(registry: Catalogue) -> None:
    info = registry["app-a:oci-gzip"]
    config = get_blob(registry.url, info, info.config_digest).json()
    assert config["rootfs"]["diff_ids"] == info.diff_ids
    assert len(config["history"]) == len(info.layers)
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["config"]["Cmd"] == ["/app/run.sh"]
    assert config["config"]["ExposedPorts"] == {"8080/tcp": {}}


def test_catalogue_shares_and_separates_layers_as_designed(registry: Catalogue) -> None:
    a, b, other = registry["app-a"], registry["app-b"], registry["same-layer-other-parent"]
    assert a.layer_digests[0] == b.layer_digests[0]  # same base
    assert a.layer_digests[1] != b.layer_digests[1]
    assert other.layer_digests[1] == a.layer_digests[1]  # byte-identical layer ...
    assert other.layer_digests[0] != a.layer_digests[0]  # ... on another base
    assert other.chain_ids[1] != a.chain_ids[1]
    assert registry["large"].layers[1].size >= 30 * 1024 * 1024


def _member_names(registry: Catalogue, key: str, layer: int = -1) -> list[str]:
    info = registry[key]
    blob = get_blob(registry.url, info, info.layers[layer].digest).content
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as archive:
        return [member.name for member in archive]


@pytest.mark.parametrize(
    ("name", "hostile"),
    [
        ("evil-dotdot", "../evil-dotdot"),
        ("evil-absolute", "/evil-absolute"),
        ("evil-symlink", "escape/evil-symlink"),
        ("evil-hardlink", "passwd-link"),
    ],
)
def test_hostile_images_carry_their_raw_names(registry: Catalogue, name: str, hostile: str) -> None:
    assert hostile in _member_names(registry, f"{name}:oci-gzip")


def test_whiteout_layer_puts_the_opaque_marker_before_its_directory(registry: Catalogue) -> None:
    names = _member_names(registry, "whiteouts:oci-gzip")
    assert {"data/.wh.gone", "data/.wh.gonedir", "etc/.wh.group"} <= set(names)
    assert names.index("opq/.wh..wh..opq") < names.index("opq")


def test_multiarch_index_lists_three_pullable_platforms(registry: Catalogue) -> None:
    for variant in ("oci-gzip", "docker-gzip"):
        index = registry[f"multiarch:{variant}"]
        response = get_manifest(registry.url, index)
        platforms = {
            "/".join(
                filter(
                    None,
                    [
                        m["platform"]["os"],
                        m["platform"]["architecture"],
                        m["platform"].get("variant"),
                    ],
                )
            )
            for m in response.json()["manifests"]
        }
        assert platforms == {"linux/amd64", "linux/arm64", "linux/arm/v7"}
        arm = index.platforms["linux/arm64"]
        child = get_manifest(registry.url, index, arm.manifest_digest)
        assert sha256(child.content) == arm.manifest_digest


def test_registry_access_log_is_captured(registry: Catalogue) -> None:
    assert registry.server is not None
    get_manifest(registry.url, registry["base"])
    assert any("/v2/berth-test/base/manifests/" in line for line in registry.server.access_log())


def test_tls_registry_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = make_tls_pair(tmp_path / "tls")
    with start_registry(tmp_path / "reg", tls=(cert, key)) as server:
        assert server.url.startswith("https://")
        trust = ssl.create_default_context(cafile=str(cert))
        assert httpx.get(f"{server.url}/v2/", verify=trust, timeout=30).status_code == 200
        with start_proxy(server.url) as front:  # a plain-HTTP proxy in front of TLS
            assert httpx.get(f"{front.url}/v2/", timeout=30).status_code == 200
    assert server.process.poll() is not None


def test_extra_config_is_merged(tmp_path: Path) -> None:
    extra = {"http": {"headers": {"X-Berth-Test": ["yes"]}}}
    with start_registry(tmp_path / "reg", extra_config=extra) as server:
        response = httpx.get(f"{server.url}/v2/", timeout=30)
        assert response.headers["X-Berth-Test"] == "yes"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


# ---------------------------------------------------------------- the proxy


def test_proxy_counts_blob_bytes_and_ranges(registry: Catalogue, proxy: CountingProxy) -> None:
    info = registry["app-a:oci-gzip"]
    top = info.layers[-1]
    assert get_blob(proxy.url, info, top.digest).content
    partial = get_blob(proxy.url, info, top.digest, Range="bytes=100-")
    assert partial.status_code == 206
    assert partial.headers["Content-Range"].startswith("bytes 100-")
    assert proxy.blob_bytes(top.digest) == top.size + (top.size - 100)
    assert [r.range for r in proxy.blob_requests(top.digest)] == [None, "bytes=100-"]
    assert proxy.blob_bytes(info.layers[0].digest) == 0
    proxy.reset()
    assert proxy.requests == []


def test_proxy_passes_headers_and_keeps_location_on_itself(
    registry: Catalogue, proxy: CountingProxy
) -> None:
    info = registry["base"]
    manifest = get_manifest(proxy.url, info)
    assert manifest.headers["Docker-Content-Digest"] == info.manifest_digest
    # A monolithic push through the proxy: Location must point at the proxy, not upstream.
    start = httpx.post(f"{proxy.url}/v2/berth-test/pushed/blobs/uploads/", timeout=30)
    assert start.status_code == 202
    location = start.headers["Location"]
    assert proxy.host in location
    data = b"pushed through the proxy"
    put = httpx.put(with_digest(location, data), content=data, timeout=30)
    assert put.status_code == 201
    assert put.headers["Docker-Content-Digest"] == sha256(data)
    head = httpx.head(f"{proxy.url}/v2/berth-test/pushed/blobs/{sha256(data)}", timeout=30)
    assert head.headers["Content-Length"] == str(len(data))


def test_proxy_streams_chunked_uploads(registry: Catalogue, proxy: CountingProxy) -> None:
    start = httpx.post(f"{proxy.url}/v2/berth-test/chunked/blobs/uploads/", timeout=30)
    data = b"x" * 300_000

    def body() -> Iterator[bytes]:
        yield data[:100_000]
        yield data[100_000:]

    patch = httpx.patch(start.headers["Location"], content=body(), timeout=30)  # chunked
    assert patch.status_code == 202
    put = httpx.put(with_digest(patch.headers["Location"], data), timeout=30)
    assert put.status_code == 201


def test_proxy_corrupts_a_blob_without_changing_its_size(
    registry: Catalogue, proxy: CountingProxy
) -> None:
    info = registry["app-b:oci-none"]
    top = info.layers[-1]
    proxy.corrupt(top.digest)
    served = get_blob(proxy.url, info, top.digest).content
    assert len(served) == top.size
    assert sha256(served) != top.digest
    # A range is corrupted consistently with the whole.
    tail = get_blob(proxy.url, info, top.digest, Range="bytes=4000-").content
    assert tail == served[4000:]
    proxy.corrupt(top.digest, enabled=False)
    assert sha256(get_blob(proxy.url, info, top.digest).content) == top.digest


def test_proxy_cuts_a_download_once(registry: Catalogue, proxy: CountingProxy) -> None:
    info = registry["large:oci-none"]
    top = info.layers[-1]
    proxy.cut(top.digest, after_bytes=1_000_000)
    received = bytearray()
    url = f"{proxy.url}/v2/{info.repository}/blobs/{top.digest}"
    with pytest.raises(httpx.TransportError), httpx.stream("GET", url, timeout=30) as response:
        for chunk in response.iter_raw():
            received += chunk
    assert len(received) == 1_000_000
    rest = get_blob(proxy.url, info, top.digest, Range=f"bytes={len(received)}-").content
    assert sha256(bytes(received) + rest) == top.digest
    assert [r.bytes_sent for r in proxy.blob_requests(top.digest)] == [
        1_000_000,
        top.size - 1_000_000,
    ]


def test_proxy_throttles_a_blob(registry: Catalogue, proxy: CountingProxy) -> None:
    info = registry["app-a:oci-none"]
    top = info.layers[-1]
    proxy.throttle(top.digest, bytes_per_second=top.size * 4)  # about 0.25 s
    began = time.monotonic()
    assert sha256(get_blob(proxy.url, info, top.digest).content) == top.digest
    assert time.monotonic() - began >= 0.2


# ---------------------------------------------------------------- tar entries


def test_make_tar_keeps_hostile_names_and_metadata() -> None:
    data = oci.make_tar(
        [
            oci.file("../evil", "x"),
            oci.file("/abs", "y"),
            oci.file("x", "z", mode=0o4755, uid=1234, gid=5678, xattrs={"user.foo": "bar"}),
            oci.char_device("null", 1, 3),
            oci.hardlink("x2", "x"),
            oci.symlink("link", "/etc/passwd"),
            oci.whiteout("dir/gone"),
            oci.opaque("dir"),
        ]
    )
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = {m.name: m for m in archive}
    assert {"../evil", "/abs", "dir/.wh.gone", "dir/.wh..wh..opq"} <= set(members)
    x = members["x"]
    assert (x.mode, x.uid, x.gid) == (0o4755, 1234, 5678)
    assert x.pax_headers["SCHILY.xattr.user.foo"] == "bar"
    assert members["null"].ischr() and members["null"].devmajor == 1
    assert members["x2"].islnk() and members["x2"].linkname == "x"
    assert members["link"].linkname == "/etc/passwd"
    # Deterministic: the same entries give the same bytes.
    assert oci.make_tar([oci.file("a", "1")]) == oci.make_tar([oci.file("a", "1")])


# ---------------------------------------------------------------- leak guard and store


MOUNTINFO = (
    "22 1 8:1 / / rw - ext4 /dev/vda rw\n"
    "90 22 0:50 / /tmp/pytest-of-root/pytest-3/t0/store rw - tmpfs berth-test-store rw\n"
    "91 90 0:51 / /var/lib/berth/snapshots/3/fs rw - overlay overlay rw,lowerdir=/a\n"
    "92 22 0:52 / /mnt/with\\040space rw - tmpfs berth rw\n"
)


def test_leak_guard_finds_new_mounts_only() -> None:
    before = {"mounts": leaks.mounts_matching(MOUNTINFO.splitlines()[0]), "netns": frozenset()}
    after = {"mounts": leaks.mounts_matching(MOUNTINFO), "netns": frozenset({"berth-x"})}
    found = leaks.find_leaks(before, after)
    assert set(found) == {"mounts", "netns"}
    assert len(found["mounts"]) == 3
    assert any("/mnt/with space" in line for line in found["mounts"])
    assert leaks.find_leaks(after, after) == {}
    assert "berth-x" in leaks.format_leaks(found)


def test_leak_guard_sees_a_real_tmpfs_mount(store: Store) -> None:
    """The store's own tmpfs is exactly what a leaked mount looks like."""
    mounts = leaks.mounts_matching(Path("/proc/self/mountinfo").read_text())
    assert any(str(store.mountpoint) in line and "tmpfs" in line for line in mounts)
    assert leaks.mounts_under(store.mountpoint) == [str(store.mountpoint)]


def test_leak_guard_leaves_other_sessions_namespaces_and_cgroups_alone() -> None:
    ours = "0123456789abcdef"
    assert leaks._another_sessions("berth-test-fedcba98aa11", ours)
    assert leaks._another_sessions("/sys/fs/cgroup/pids/berth-test-fedcba987654/abc", ours)
    assert not leaks._another_sessions("berth-test-01234567aa11-lan", ours)
    assert not leaks._another_sessions("/sys/fs/cgroup/pids/berth-test-0123456789ab/x", ours)
    assert not leaks._another_sessions("/sys/fs/cgroup/pids/berth/x", ours)  # berth's own


def test_leak_guard_snapshot_covers_every_kind() -> None:
    snap = leaks.snapshot("no-such-session")
    assert set(snap) == {"mounts", "links", "netns", "nft tables", "cgroups", "processes"}
    assert "lo" in snap["links"]


def test_store_is_a_tmpfs_and_berth_runs_against_it(store: Store, berth: Berth) -> None:
    assert store.root.is_dir() and store.runroot.is_dir()
    fstypes = {
        p: f for _, p, f, _ in leaks.parse_mountinfo(Path("/proc/self/mountinfo").read_text())
    }
    assert fstypes[str(store.mountpoint)] == "tmpfs"
    result = berth("--help", timeout=60)
    assert result.returncode == 0, result.stderr
    assert berth.argv("ps")[-5:-1] == ["--root", str(store.root), "--runroot", str(store.runroot)]
