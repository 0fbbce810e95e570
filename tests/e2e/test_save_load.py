"""`berth save` and `berth load` with real peers: a private dockerd (Debian's 20.10, client and
daemon), skopeo and podman (a private root, vfs) read what berth writes and write what berth
reads; ids and tags survive every round trip, and the images run. Hostile archives (paths
and links out of the archive, digests that lie, truncated files, layers that escape) are
refused or contained, and leave the store as it was."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pty
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from bench.peers import Docker, bench_root
from tests.fixtures import oci_layout as oci
from tests.fixtures.images import Catalogue, base_entries
from tests.fixtures.registry import RunningRegistry
from tests.fixtures.store import Berth, Store

PODMAN = "/usr/bin/podman"
SKOPEO = "/usr/bin/skopeo"


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Docker]:
    """A private dockerd on its own tmpfs: no bridge, no iptables, nothing on the host."""
    with bench_root("tmpfs", "2g") as root:
        daemon = Docker(root / "docker")
        daemon.start()
        try:
            yield daemon
        finally:
            daemon.stop()


def docker(daemon: Docker, *args: str) -> subprocess.CompletedProcess[str]:
    """Debian's 20.10 client on the private dockerd."""
    return subprocess.run(
        daemon.argv(*args),
        env=daemon.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load(berth: Berth, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    with open(path, "rb") as source:
        return subprocess.run(
            berth.argv("load", *args),
            stdin=source,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def piping(argv: list[str], data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """A command with `data` on a pipe as its stdin, its stdout on a pipe."""
    return subprocess.run(argv, input=data, capture_output=True, timeout=120, check=False)


def image_id(berth: Berth, name: str) -> str:
    return berth("image", "inspect", "-f", "{{.Id}}", name).stdout.strip()


def pulled(berth: Berth, registry: Catalogue, name: str, tag: str) -> str:
    reference = registry[name].reference
    assert berth("pull", "-q", reference).returncode == 0
    assert berth("tag", reference, tag).returncode == 0
    assert berth("rmi", reference).returncode == 0
    return image_id(berth, tag)


def members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as archive:
        return {info.name: info for info in archive.getmembers()}


def read_member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as archive:
        member = archive.extractfile(name)
        assert member is not None
        return member.read()


def test_berth_save_is_what_docker_loads_and_runs(
    berth: Berth, registry: Catalogue, dockerd: Docker, tmp_path: Path
) -> None:
    a = pulled(berth, registry, "app-a", "app:a")
    b = pulled(berth, registry, "app-b", "app:b")
    assert berth("tag", "app:a", "app:again").returncode == 0
    archive = tmp_path / "apps.tar"
    saved = berth("save", "-o", str(archive), "app")  # a bare name: every tag of it
    assert saved.returncode == 0, saved.stderr

    # Both layouts in one tar, sharing blobs: the base layer once, both configs as stored.
    found = members(archive)
    assert {"manifest.json", "index.json", "oci-layout", "repositories"} <= set(found)
    items = json.loads(read_member(archive, "manifest.json"))
    assert sorted(tag for item in items for tag in item["RepoTags"]) == [
        "app:a",
        "app:again",
        "app:b",
    ]
    base = {item["Layers"][0] for item in items}
    assert len(base) == 1 and base.pop() in found
    for item in items:
        config = read_member(archive, item["Config"])
        assert item["Config"] == f"blobs/sha256/{hashlib.sha256(config).hexdigest()}"
        assert f"sha256:{hashlib.sha256(config).hexdigest()}" in (a, b)
    index = json.loads(read_member(archive, "index.json"))
    names = {m["annotations"]["io.containerd.image.name"] for m in index["manifests"]}
    assert names == {f"docker.io/library/app:{t}" for t in ("a", "again", "b")}

    loaded = docker(dockerd, "load", "-i", str(archive))
    assert loaded.returncode == 0, loaded.stderr
    assert sorted(loaded.stdout.splitlines()) == [
        f"Loaded image: app:{t}" for t in ("a", "again", "b")
    ]
    assert docker(dockerd, "image", "inspect", "-f", "{{.Id}}", "app:a").stdout.strip() == a
    assert docker(dockerd, "image", "inspect", "-f", "{{.Id}}", "app:b").stdout.strip() == b
    ran = docker(dockerd, "run", "--rm", "--network", "none", "app:again")
    assert ran.stdout == "hello from app-a\n", ran.stderr

    # Round trip: the store without the images, then the same file back (on stdin).
    assert berth("rmi", "app:a", "app:again", "app:b").returncode == 0
    assert berth("images", "-q").stdout == ""
    again = load(berth, archive)
    assert again.returncode == 0, again.stderr
    assert sorted(again.stdout.splitlines()) == [
        f"Loaded image: app:{t}" for t in ("a", "again", "b")
    ]
    assert (image_id(berth, "app:a"), image_id(berth, "app:b")) == (a, b)
    assert berth("run", "--rm", "app:b").stdout == "hello from app-b\n"

    # Into a pipe, each layer is measured first; into a file, its header is patched: the
    # same bytes. To a terminal, nothing.
    one = tmp_path / "one.tar"
    assert berth("save", "-o", str(one), "app:b").returncode == 0
    piped = piping(berth.argv("save", "app:b"))
    assert piped.returncode == 0 and piped.stdout == one.read_bytes()
    primary, secondary = pty.openpty()
    try:
        refused = subprocess.run(
            berth.argv("save", "app:b"),
            stdout=secondary,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(primary)
        os.close(secondary)
    assert refused.returncode == 1
    assert "cowardly refusing to save to a terminal" in refused.stderr
    check = berth("system", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def layer_dirs(store: Store) -> set[str]:
    return {name for name in os.listdir(store.root / "snapshots") if name.isdigit()}


def test_docker_save_is_what_berth_loads_and_runs(
    berth: Berth,
    store: Store,
    registry: Catalogue,
    empty_registry: RunningRegistry,
    dockerd: Docker,
    tmp_path: Path,
) -> None:
    ids = {}
    for name in ("app-b", "app-a"):
        assert docker(dockerd, "pull", "-q", registry[name].reference).returncode == 0
        ids[name] = docker(
            dockerd, "image", "inspect", "-f", "{{.Id}}", registry[name].reference
        ).stdout.strip()
    assert docker(dockerd, "tag", registry["app-b"].reference, "docker-made:1").returncode == 0
    archive = tmp_path / "docker.tar"
    assert docker(dockerd, "save", "-o", str(archive), "docker-made:1").returncode == 0
    assert any(name.endswith("/layer.tar") for name in members(archive))  # 20.10's layout

    loaded = berth("load", "-i", str(archive))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout == "Loaded image: docker-made:1\n"
    assert image_id(berth, "docker-made:1") == ids["app-b"]
    assert berth("run", "--rm", "docker-made:1").stdout == "hello from app-b\n"

    # The loaded image has a manifest and compressed blobs: it can be pushed, and pulls back
    # with its id.
    pushed = f"{empty_registry.host}/loaded/app:1"
    assert berth("tag", "docker-made:1", pushed).returncode == 0
    push = berth("push", "-q", pushed)
    assert push.returncode == 0, push.stderr
    assert docker(dockerd, "pull", "-q", pushed).returncode == 0
    assert (
        docker(dockerd, "image", "inspect", "-f", "{{.Id}}", pushed).stdout.strip() == ids["app-b"]
    )

    # app-a by id (no name in the archive), gzip-compressed, through a pipe: its base layer
    # is app-b's, already in the store, so only its own layer is unpacked.
    raw = subprocess.run(
        dockerd.argv("save", ids["app-a"]),
        env=dockerd.env,
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    before = layer_dirs(store)
    again = piping(berth.argv("load"), gzip.compress(raw, compresslevel=1))
    assert again.returncode == 0, again.stderr
    assert again.stdout.decode() == f"Loaded image ID: {ids['app-a']}\n"
    assert len(layer_dirs(store) - before) == 1
    assert berth("run", "--rm", ids["app-a"][7:19]).stdout == "hello from app-a\n"
    before = layer_dirs(store)
    assert load(berth, archive, "-q").stdout == "Loaded image: docker-made:1\n"
    assert layer_dirs(store) == before


def test_skopeo_oci_archives_load(
    berth: Berth, store: Store, registry: Catalogue, busybox: str, tmp_path: Path
) -> None:
    """skopeo recompresses every layer: the base layer the store has (busybox's) comes with
    another blob, which is stored too, so that the archive's manifest is kept."""
    info = registry["app-a"]
    for compression in ("gzip", "zstd"):
        archive = tmp_path / f"{compression}.tar"
        copied = subprocess.run(
            [
                SKOPEO,
                "--insecure-policy",
                "copy",
                "-q",
                "--src-tls-verify=false",
                "--dest-compress-format",
                compression,
                f"docker://{info.reference}",
                f"oci-archive:{archive}:skopeo/app:{compression}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert copied.returncode == 0, copied.stderr
        index = json.loads(read_member(archive, "index.json"))
        manifest = json.loads(
            read_member(archive, f"blobs/sha256/{index['manifests'][0]['digest'][7:]}")
        )
        loaded = berth("load", "-i", str(archive))
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stdout == f"Loaded image: skopeo/app:{compression}\n"
        assert image_id(berth, f"skopeo/app:{compression}") == manifest["config"]["digest"]
        assert berth("run", "--rm", f"skopeo/app:{compression}").stdout == "hello from app-a\n"
        # Its manifest is kept byte for byte (its blobs are all stored): a push sends it.
        kept = store.root / "content" / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]
        assert kept.is_file()
        if compression == "gzip":  # the same config: the zstd one would be this image
            assert berth("rmi", "skopeo/app:gzip").returncode == 0

    # A whole archive compressed with zstd, on a pipe; a save of the zstd-layered image.
    packed = zstandard.ZstdCompressor().compress((tmp_path / "zstd.tar").read_bytes())
    again = piping(berth.argv("load"), packed)
    assert again.returncode == 0 and again.stdout == b"Loaded image: skopeo/app:zstd\n"
    resaved = tmp_path / "resaved.tar"
    assert berth("save", "-o", str(resaved), "skopeo/app:zstd").returncode == 0
    assert "manifest.json" in members(resaved)


@pytest.fixture
def podman() -> Iterator[list[str]]:
    """podman on a private root (vfs: no mounts), its state and tmp in a short directory of
    its own (podman refuses a runroot over 50 characters)."""
    base = Path(tempfile.mkdtemp(prefix="berth-podman-", dir="/tmp"))
    try:
        yield [
            PODMAN, "--root", str(base / "root"), "--runroot", str(base / "run"),
            "--tmpdir", str(base / "tmp"), "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs", "--events-backend", "none",
        ]  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_podman_save_is_what_berth_loads(
    berth: Berth, registry: Catalogue, podman: list[str], tmp_path: Path
) -> None:
    info = registry["app-b"]
    pulled_ = subprocess.run(
        [*podman, "pull", "-q", "--tls-verify=false", info.reference],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert pulled_.returncode == 0, pulled_.stderr
    archive = tmp_path / "podman.tar"
    saved = subprocess.run(
        [*podman, "save", "-o", str(archive), info.reference],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert saved.returncode == 0, saved.stderr
    loaded = berth("load", "-i", str(archive))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout == f"Loaded image: {info.reference}\n"
    assert image_id(berth, info.reference) == info.config_digest
    assert berth("run", "--rm", info.reference).stdout == "hello from app-b\n"


# -- hostile archives ------------------------------------------------------------------------


def _tar(members_: list[tuple[str, bytes | str]]) -> bytes:
    """A tar of files, and of symlinks (`str` data: the link's target)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members_:
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _docker_archive(
    layer: bytes,
    *,
    diff_id: str | None = None,
    config_path: str = "",
    layer_path: str = "layer.tar",
    extra: list[tuple[str, bytes | str]] | None = None,
) -> bytes:
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id or oci.sha256_digest(layer)]},
        }
    ).encode()
    config_name = oci.sha256_digest(config)[7:] + ".json"
    manifest = [
        {"Config": config_path or config_name, "RepoTags": ["hostile:1"], "Layers": [layer_path]}
    ]
    files: list[tuple[str, bytes | str]] = [(config_name, config), ("layer.tar", layer)]
    return _tar([*files, *(extra or []), ("manifest.json", json.dumps(manifest).encode())])


def _store_files(store: Store) -> dict[str, int]:
    found = {}
    for directory, _dirs, files in os.walk(store.root):
        for name in files:
            path = Path(directory, name)
            if not name.startswith("berth.db"):
                found[str(path.relative_to(store.root))] = path.lstat().st_size
    return found


def test_hostile_archives_are_refused_and_change_nothing(
    berth: Berth, store: Store, busybox: str, tmp_path: Path
) -> None:
    layer = oci.make_tar(base_entries(motd="hostile\n"))  # a layer the store lacks
    good = _docker_archive(layer)
    truncated_at = good.index(b"manifest.json") - 600  # inside the layer's data
    tampered = bytearray(oci.make_tar(base_entries(motd="tampered\n")))
    oci_blob = _tar(
        [
            ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
            (
                "index.json",
                json.dumps(
                    {
                        "schemaVersion": 2,
                        "manifests": [
                            {
                                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "digest": "sha256:" + "0" * 64,
                                "size": 2,
                            }
                        ],
                    }
                ).encode(),
            ),
            ("blobs/sha256/" + "0" * 64, b"{}"),
        ]
    )
    cases = {
        "config ../../etc/passwd": (
            _docker_archive(layer, config_path="../../etc/passwd"),
            "../../etc/passwd points outside the archive",
        ),
        "layer /etc/passwd": (
            _docker_archive(layer, layer_path="/etc/passwd"),
            "/etc/passwd points outside the archive",
        ),
        "symlink out": (
            _docker_archive(
                layer, layer_path="x/layer.tar", extra=[("x/layer.tar", "../../../../etc/shadow")]
            ),
            "links to ../../../../etc/shadow, outside the archive",
        ),
        "diff_id lies": (
            _docker_archive(bytes(tampered), diff_id=oci.sha256_digest(layer)),
            "does not match the image's diff_id",
        ),
        "blob digest lies": (oci_blob, "does not match its digest"),
        "truncated": (good[:truncated_at], "truncated"),
        "truncated gzip": (gzip.compress(good)[:-5000], "the gzip stream is truncated"),
        "names out of the root": (
            _tar(
                [
                    ("../../manifest.json", b"[]"),
                    ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
                    ("/index.json", "../../../etc/passwd"),
                ]
            ),
            "index.json links to ../../../etc/passwd, outside the archive",
        ),
        "nested too deep": (_tar([("manifest.json", b"[" * 100_000)]), "failed to decode"),
        "not a tar": (b"hello" * 1000, "not a tar archive"),
        "empty": (b"", "the archive is empty"),
    }
    images = berth("images", "-q", "--no-trunc").stdout
    files = _store_files(store)
    for case, (data, message) in cases.items():
        path = tmp_path / "hostile.tar"
        path.write_bytes(data)
        piped = piping(berth.argv("load"), data)
        results = [berth("load", "-i", str(path)), load(berth, path)]
        results.append(
            subprocess.CompletedProcess(
                piped.args, piped.returncode, piped.stdout.decode(), piped.stderr.decode()
            )
        )
        for result in results:
            assert result.returncode == 1, (case, result.stdout)
            assert message in result.stderr, (case, result.stderr)
            assert "Traceback" not in result.stderr
        assert berth("images", "-q", "--no-trunc").stdout == images, case
        assert _store_files(store) == files, case
    # The good archive itself loads (so each case fails for its own reason alone).
    (tmp_path / "good.tar").write_bytes(good)
    assert berth("load", "-i", str(tmp_path / "good.tar")).stdout == "Loaded image: hostile:1\n"


@pytest.mark.parametrize("entries", ["dotdot", "symlink"])
def test_a_hostile_layer_writes_nothing_outside(
    berth: Berth, store: Store, tmp_path: Path, entries: str
) -> None:
    """The pull's containment: whatever a loaded layer names, nothing lands outside it."""
    marker = f"berth-load-escape-{os.getpid()}-{entries}"
    evil = {
        "dotdot": [oci.file(f"../../../../../tmp/{marker}", "escaped\n")],
        "symlink": [oci.symlink("escape", "/tmp"), oci.file(f"escape/{marker}", "escaped\n")],
    }[entries]
    path = tmp_path / "evil.tar"
    path.write_bytes(_docker_archive(oci.make_tar([*base_entries(), *evil])))
    result = berth("load", "-i", str(path))
    assert not Path("/tmp", marker).exists()
    assert not (store.mountpoint / marker).exists() and not (tmp_path / marker).exists()
    assert result.returncode == 0, result.stderr  # contained, not refused: Docker's too
    inside = berth("run", "--rm", "hostile:1", "sh", "-c", f"cat /tmp/{marker}")
    assert inside.stdout == "escaped\n", inside.stderr


def test_a_load_still_arriving_holds_off_no_collection(
    berth: Berth, busybox: str, store: Store, tmp_path: Path
) -> None:
    """A stream is spooled before the collector is held off: `builder prune` (which collects)
    runs while a load's sender is slow; a load killed midway leaves a spool the next
    collection deletes."""
    assert berth("save", "-o", str(tmp_path / "busybox.tar"), busybox).returncode == 0
    archive = (tmp_path / "busybox.tar").read_bytes()

    def spools() -> list[str]:
        return sorted(p.name for p in (store.root / "tmp").glob("spool-*"))

    for finish in (True, False):
        loading = subprocess.Popen(berth.argv("load"), env=berth.env, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        assert loading.stdin is not None
        loading.stdin.write(archive[: len(archive) // 2])
        loading.stdin.flush()
        deadline = time.monotonic() + 30  # receiving: its directory is made
        while not list((store.root / "tmp").glob("*-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        pruned = berth("builder", "prune", "-f", timeout=20)  # waited for the load before
        assert pruned.returncode == 0, pruned.stderr
        assert len(spools()) == 1  # held: not the collector's to delete
        if finish:
            out, err = loading.communicate(archive[len(archive) // 2 :], timeout=60)
            assert loading.returncode == 0, err
            assert out.strip() == b"Loaded image: busybox:latest"
            assert spools() == []
        else:
            loading.kill()
            loading.communicate(timeout=30)
            assert len(spools()) == 1  # what the killed load left
            assert berth("builder", "prune", "-f").returncode == 0
            assert spools() == []
    assert berth("run", "--rm", busybox, "true").returncode == 0
