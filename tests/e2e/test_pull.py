"""`berth pull` against a real registry, proved from the registry's side through a counting
proxy: layer dedup, resume after kill -9, digest checks, concurrency and bad input."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fixtures.images import Catalogue, ImageInfo
from tests.fixtures.proxy import CountingProxy
from tests.fixtures.store import Berth, Store


def via(proxy: CountingProxy, info: ImageInfo) -> str:
    return f"{proxy.host}/{info.repository}:{info.tag}"


def image_rows(store: Store) -> list[tuple[str, ...]]:
    with sqlite3.connect(store.root / "berth.db") as db:
        return db.execute("SELECT id FROM images").fetchall()


def files_under(root: Path) -> dict[str, int]:
    """Every file of a store but the database, with its size."""
    found = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = Path(directory, name)
            if not name.startswith("berth.db"):
                found[str(path.relative_to(root))] = path.lstat().st_size
    return found


def test_second_image_downloads_only_its_own_layer(
    registry: Catalogue, proxy: CountingProxy, berth: Berth
) -> None:
    """The seed's dedup: B shares A's base, so pulling B fetches only B's top layer."""
    a, b = registry["app-a"], registry["app-b"]
    assert a.layers[0].digest == b.layers[0].digest
    first = berth("pull", via(proxy, a))
    assert first.returncode == 0, first.stderr
    assert set(proxy.downloaded_blobs()) >= set(a.layer_digests)

    proxy.reset()
    second = berth("pull", via(proxy, b))
    assert second.returncode == 0, second.stderr
    layer_fetches = {d for d in proxy.downloaded_blobs() if d != b.config_digest}
    assert layer_fetches == {b.layers[1].digest}
    assert proxy.blob_bytes(b.layers[1].digest) == b.layers[1].size
    base_short = a.layers[0].digest[7:19]
    assert f"{base_short}: Already exists" in second.stdout
    assert f"{b.layers[1].digest[7:19]}: Pull complete" in second.stdout
    assert "Status: Downloaded newer image for" in second.stdout
    assert second.stdout.strip().splitlines()[-1] == via(proxy, b).replace(":latest", ":latest")


def test_same_layer_on_another_parent_is_not_fetched(
    registry: Catalogue, proxy: CountingProxy, berth: Berth
) -> None:
    a, other = registry["app-a"], registry["same-layer-other-parent"]
    assert a.layers[1].digest == other.layers[1].digest
    assert a.layers[0].digest != other.layers[0].digest
    assert berth("pull", via(proxy, a)).returncode == 0
    proxy.reset()
    result = berth("pull", via(proxy, other))
    assert result.returncode == 0, result.stderr
    assert a.layers[1].digest not in proxy.downloaded_blobs()
    assert other.layers[0].digest in proxy.downloaded_blobs()
    run = berth("image", "inspect", via(proxy, other))
    assert json.loads(run.stdout)[0]["RootFS"]["Layers"] == other.diff_ids


def test_image_naming_a_layer_twice_pulls_it_once_and_runs(
    registry: Catalogue, proxy: CountingProxy, berth: Berth
) -> None:
    """A chain with one layer at two places: the blob is fetched once, and the container's
    overlay names its directory once (overlay refuses a lower directory twice) at the top,
    where it hides what the layer between wrote to the same paths."""
    info = registry["repeated-layer"]
    assert info.layers[1].digest == info.layers[3].digest != info.layers[2].digest
    pulled = berth("pull", via(proxy, info))
    assert pulled.returncode == 0, pulled.stderr
    assert proxy.blob_bytes(info.layers[1].digest) == info.layers[1].size
    ran = berth(
        "run",
        "--rm",
        "--network",
        "none",
        via(proxy, info),
        "sh",
        "-c",
        "/app/run.sh; cat /app/app-b.txt",
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "hello from app-a\nthis is app-b\n"


def test_pulling_again_is_up_to_date_and_fetches_no_layer(
    registry: Catalogue, proxy: CountingProxy, berth: Berth
) -> None:
    info = registry["app-a"]
    assert berth("pull", via(proxy, info)).returncode == 0
    proxy.reset()
    again = berth("pull", via(proxy, info))
    assert again.returncode == 0
    assert "Status: Image is up to date for" in again.stdout
    assert not set(proxy.downloaded_blobs()) & set(info.layer_digests)


@pytest.mark.parametrize("variant", ["oci-gzip", "oci-zstd", "oci-none", "docker-gzip"])
def test_every_compression_and_manifest_format(
    registry: Catalogue, berth: Berth, variant: str
) -> None:
    info = registry[f"faithful:{variant}"]
    result = berth("pull", info.reference)
    assert result.returncode == 0, result.stderr
    document = json.loads(berth("image", "inspect", info.reference).stdout)[0]
    assert document["Id"] == info.config_digest
    assert document["RootFS"]["Layers"] == info.diff_ids


def test_multi_platform_index_picks_the_requested_platform(
    registry: Catalogue, berth: Berth
) -> None:
    index = registry["multiarch"]
    result = berth("pull", "--platform", "linux/arm/v7", index.reference)
    assert result.returncode == 0, result.stderr
    document = json.loads(berth("image", "inspect", index.reference).stdout)[0]
    assert (document["Architecture"], document.get("Variant")) == ("arm", "v7")
    assert document["RepoDigests"][0].endswith(index.manifest_digest)

    missing = berth("pull", "--platform", "linux/s390x", index.reference)
    assert missing.returncode == 1
    assert "no matching manifest for linux/s390x" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_pull_by_digest(registry: Catalogue, berth: Berth) -> None:
    info = registry["app-a"]
    result = berth("pull", info.by_digest)
    assert result.returncode == 0, result.stderr
    listed = berth("images", "--digests", "--format", "{{.Digest}} {{.Tag}}").stdout.split()
    assert listed == [info.manifest_digest, "<none>"]


def test_interrupted_pull_resumes_where_it_stopped(
    registry: Catalogue, proxy: CountingProxy, berth: Berth
) -> None:
    """kill -9 halfway through a large layer; the next pull fetches only the rest."""
    info = registry["large"]
    large = max(info.layers, key=lambda layer: layer.size)
    proxy.throttle(large.digest, 8_000_000)
    child = subprocess.Popen(
        berth.argv("pull", via(proxy, info)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while proxy.blob_bytes(large.digest) < large.size // 3:
            assert time.monotonic() < deadline, "the download never got going"
            assert child.poll() is None, "the pull ended before it was killed"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    sent_before = proxy.blob_bytes(large.digest)
    assert sent_before < large.size
    assert berth("images", "-q").stdout == ""  # a half-pulled image is never listed

    proxy.throttle(large.digest, None)
    proxy.reset()
    result = berth("pull", via(proxy, info))
    assert result.returncode == 0, result.stderr
    requests = proxy.blob_requests(large.digest)
    first_get = next(r for r in requests if r.method == "GET")
    assert first_get.range is not None and first_get.range.startswith("bytes=")
    fetched_now = proxy.blob_bytes(large.digest)
    assert fetched_now < large.size
    assert fetched_now >= large.size - sent_before  # the client may have buffered less
    document = json.loads(berth("image", "inspect", via(proxy, info)).stdout)[0]
    assert document["RootFS"]["Layers"] == info.diff_ids


def test_connection_cut_midway_is_retried_with_range(
    registry: Catalogue, proxy: CountingProxy, berth: Berth
) -> None:
    info = registry["large"]
    large = max(info.layers, key=lambda layer: layer.size)
    proxy.cut(large.digest, after_bytes=large.size // 2)
    result = berth("pull", via(proxy, info))
    assert result.returncode == 0, result.stderr
    gets = [r for r in proxy.blob_requests(large.digest) if r.method == "GET"]
    assert len(gets) == 2 and gets[0].range is None and gets[1].range is not None
    resumed_at = int(gets[1].range.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= large.size // 2
    assert gets[1].bytes_sent == large.size - resumed_at


def test_corrupt_blob_fails_and_stores_nothing(
    registry: Catalogue, proxy: CountingProxy, berth: Berth, store: Store
) -> None:
    info = registry["app-a"]
    berth("images")  # create the empty store
    empty = files_under(store.root)
    proxy.corrupt(info.layers[1].digest)
    result = berth("pull", via(proxy, info))
    assert result.returncode == 1
    assert "verification failed" in result.stderr
    assert info.layers[1].digest in result.stderr
    assert "Traceback" not in result.stderr
    assert image_rows(store) == []
    blobs = store.root / "content" / "blobs" / "sha256"
    assert not (blobs / info.layers[1].digest[7:]).exists()
    corrupt_hex = info.layers[1].digest[7:]
    leftover = {p for p in files_under(store.root) if corrupt_hex in p or "unpack" in p}
    assert leftover == set(), leftover  # other layers' partial downloads may stay: resumable
    assert set(empty) <= set(files_under(store.root))


def test_two_pulls_of_one_image_at_once_store_one_copy(
    registry: Catalogue, berth: Berth, store: Store
) -> None:
    info = registry["many-files"]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: berth("pull", info.reference), range(2)))
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    snapshots = list((store.root / "snapshots").iterdir())
    assert len(snapshots) == len(info.layers)
    assert len(image_rows(store)) == 1


def test_five_parallel_pulls_sharing_a_base_stay_consistent(
    registry: Catalogue, berth: Berth, store: Store
) -> None:
    names = ["app-a", "app-b", "whiteouts", "faithful", "many-files"]
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda n: berth("pull", registry[n].reference), names))
    assert [r.returncode for r in results] == [0] * 5, [r.stderr for r in results]
    diff_ids = {d for n in names for d in registry[n].diff_ids}
    with sqlite3.connect(store.root / "berth.db") as db:
        stored = {row[0] for row in db.execute("SELECT diff_id FROM layers")}
    assert stored == diff_ids
    assert len(list((store.root / "snapshots").iterdir())) == len(diff_ids)
    assert len(image_rows(store)) == 5


def test_rmi_keeps_a_shared_base_and_prune_returns_the_store_to_empty(
    registry: Catalogue, berth: Berth, store: Store
) -> None:
    berth("images")
    empty = files_under(store.root)
    a, b = registry["app-a"], registry["app-b"]
    for info in (a, b):
        assert berth("pull", info.reference).returncode == 0
    removed = berth("rmi", a.reference)
    assert removed.returncode == 0, removed.stderr
    assert f"Untagged: {a.reference}" in removed.stdout
    assert f"Deleted: {a.config_digest}" in removed.stdout
    with sqlite3.connect(store.root / "berth.db") as db:
        stored = {row[0] for row in db.execute("SELECT diff_id FROM layers")}
    assert stored == set(b.diff_ids)  # the shared base stays, a's own layer is gone
    assert (store.root / "content/blobs/sha256" / b.layers[0].digest[7:]).exists()

    assert berth("rmi", b.reference).returncode == 0
    pruned = berth("image", "prune", "-a", "-f")
    assert pruned.returncode == 0 and "Total reclaimed space" in pruned.stdout
    assert files_under(store.root) == empty


def test_tag_then_rmi_by_id_needs_force_across_repositories(
    registry: Catalogue, berth: Berth
) -> None:
    info = registry["app-a"]
    assert berth("pull", info.reference).returncode == 0
    assert berth("tag", info.reference, "other/name:1").returncode == 0
    listed = berth("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert "other/name:1" in listed
    conflict = berth("rmi", info.config_digest[7:19])
    assert conflict.returncode == 1
    assert "must be forced" in conflict.stderr
    forced = berth("rmi", "-f", info.config_digest[7:19])
    assert forced.returncode == 0
    assert berth("images", "-q").stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pull", "Upper"], "must be lowercase"),
        (["pull", "a:b:c"], "invalid reference format"),
        (["pull", "127.0.0.1:1/nothing/here"], "127.0.0.1:1"),
        (["pull", "--platform", "bogus", "busybox"], "invalid platform"),
        (["pull", "--max-concurrent-downloads", "0", "busybox"], "at least 1"),
        (["rmi", "nope"], "No such image: nope"),
        (["image", "inspect", "nope"], "No such image: nope"),
        (["tag", "nope", "x"], "No such image: nope"),
        (["images", "--filter", "wat=1"], "invalid filter"),
        (["images", "--format", "{{if .Tag}}"], "template: :1: unexpected EOF"),
    ],
)
def test_bad_input_is_one_clear_line(berth: Berth, args: list[str], message: str) -> None:
    berth("images")
    result = berth(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_repository_and_tag(registry: Catalogue, berth: Berth, store: Store) -> None:
    missing_repo = berth("pull", f"{registry.host}/berth-test/does-not-exist")
    assert missing_repo.returncode == 1
    assert "does-not-exist" in missing_repo.stderr
    missing_tag = berth("pull", f"{registry.host}/berth-test/app-a:nope")
    assert missing_tag.returncode == 1
    assert "manifest unknown" in missing_tag.stderr or "not found" in missing_tag.stderr
    assert image_rows(store) == []


def test_usage_errors_exit_125(berth: Berth) -> None:
    result = berth("pull")
    assert result.returncode == 125
    assert "See 'berth pull --help'." in result.stderr


def test_docker_hub_names_through_a_mirror(registry: Catalogue, berth: Berth, store: Store) -> None:
    """`berth pull berth-test/app-a` means docker.io; the mirror serves it, offline."""
    config = store.root / "registries.toml"
    config.write_text(
        f'[registries."docker.io"]\nmirrors = ["http://{registry.host}"]\nmirrors_only = true\n'
    )
    result = berth("pull", "berth-test/app-a")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "docker.io/berth-test/app-a:latest"
    listed = berth("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert listed == ["berth-test/app-a:latest"]

    config.write_text(
        '[registries."docker.io"]\nmirrors = ["http://127.0.0.1:1"]\nmirrors_only = true\n'
    )
    dead = berth("pull", "berth-test/app-b")
    assert dead.returncode == 1
    assert "127.0.0.1:1" in dead.stderr
    assert "Traceback" not in dead.stderr


def test_pull_all_tags(registry: Catalogue, berth: Berth) -> None:
    result = berth("pull", "-a", f"{registry.host}/berth-test/base")
    assert result.returncode == 0, result.stderr
    tags = berth("images", "--format", "{{.Tag}}").stdout.split()
    assert sorted(tags) == sorted(registry.variants("base"))
    assert result.stdout.strip().splitlines()[-1] == f"{registry.host}/berth-test/base"


@pytest.mark.parametrize("name", ["evil-dotdot", "evil-absolute", "evil-symlink", "evil-hardlink"])
def test_hostile_layers_write_nothing_outside_their_directory(
    registry: Catalogue, berth: Berth, store: Store, name: str
) -> None:
    """Whatever the layer does, no file appears outside the store's layer directories."""
    marker = name  # each hostile entry names its file after the image
    outside = [
        Path("/tmp") / marker,
        Path("/") / marker,
        store.mountpoint / marker,
        store.root / marker,
        store.root / "snapshots" / marker,
    ]
    passwd_before = Path("/etc/passwd").read_bytes()
    result = berth("pull", registry[name].reference)
    assert "Traceback" not in result.stderr
    for path in outside:
        assert not path.exists(), f"{path} was written by a hostile layer"
    assert Path("/etc/passwd").read_bytes() == passwd_before
    host_passwd = Path("/etc/passwd").stat()
    linked = [
        p
        for p in store.root.rglob("*")
        if not p.is_symlink()
        and p.is_file()
        and (p.stat().st_dev, p.stat().st_ino) == (host_passwd.st_dev, host_passwd.st_ino)
    ]
    assert linked == []
    if result.returncode == 0:  # contained rather than refused: the escape landed inside
        inside = [p for p in (store.root / "snapshots").rglob("*") if marker in p.name]
        assert all(str(p).startswith(str(store.root / "snapshots")) for p in inside)


def test_quiet_pull_prints_only_the_reference(registry: Catalogue, berth: Berth) -> None:
    result = berth("pull", "-q", registry["app-a"].reference)
    assert result.returncode == 0, result.stderr
    assert result.stdout == registry["app-a"].reference + "\n"


def _scratch(store: Store) -> tuple[list[str], list[str]]:
    """The unpack directories in tmp/ and the partial downloads (ingests) of a store."""
    tmp, ingests = store.root / "tmp", store.root / "content" / "ingest"
    unpacks = (
        [p.name for p in tmp.iterdir() if p.name.startswith("unpack-")] if tmp.is_dir() else []
    )
    partial = [p.name for p in ingests.iterdir()] if ingests.is_dir() else []
    return unpacks, partial


def test_what_a_killed_pull_left_is_collected_and_counted(
    registry: Catalogue, proxy: CountingProxy, berth: Berth, store: Store
) -> None:
    """kill -9 midway: the unpack directory (no pull can continue it) goes at the next
    command that opens the store; the ingest stays (it is the resume) until prune frees it,
    and prune counts it."""
    info = registry["large"]
    large = max(info.layers, key=lambda layer: layer.size)
    proxy.throttle(large.digest, 8_000_000)
    child = berth.popen("pull", via(proxy, info))
    try:
        deadline = time.monotonic() + 60
        while proxy.blob_bytes(large.digest) < large.size // 3:
            assert time.monotonic() < deadline, "the download never got going"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    unpacks, partial = _scratch(store)
    assert unpacks and partial
    assert berth("images").returncode == 0
    unpacks, partial = _scratch(store)
    assert unpacks == [] and partial  # the ingest is the resume: it stays
    pruned = berth("image", "prune", "-f")
    assert pruned.returncode == 0, pruned.stderr
    assert "Total reclaimed space: 0B" not in pruned.stdout  # the partial download it freed
    assert _scratch(store) == ([], [])


def test_a_registry_answering_a_web_page_leaves_nothing(
    registry: Catalogue, proxy: CountingProxy, berth: Berth, store: Store
) -> None:
    """The page is no part of the blob: nothing of it is kept to resume from (the other
    layers' partial downloads are, as after any interrupted pull)."""
    info = registry["app-a"]
    page = info.layers[-1].digest
    proxy.html(page)
    result = berth("pull", via(proxy, info))
    assert result.returncode == 1
    assert "answered with a web page, not the blob" in result.stderr
    assert "Traceback" not in result.stderr
    unpacks, partial = _scratch(store)
    assert unpacks == [] and page.replace(":", "-") not in partial
    assert berth("images", "-q").stdout == ""
