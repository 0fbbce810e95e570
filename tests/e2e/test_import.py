"""`berth export` and `berth import`: a container's filesystem out as a tar (whiteouts applied,
owners, modes and capabilities kept) and back in as a one-layer image that runs, from a file,
stdin or an http(s) URL, plain or compressed; hostile or broken archives are refused (or, for
`../` names, contained) and leave the store as it was. A private dockerd (Debian's 20.10)
imports the same tar into the same layer and the same config and history.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import hashlib
import http.server
import io
import json
import lzma
import os
import struct
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from bench.peers import Docker, bench_root
from tests.fixtures.store import Berth

CHANGES = (
    "rm /bin/ls; rm -rf /home; mkdir /home; echo only > /home/only; echo hi > /greeting; "
    "chown 1234:5678 /greeting; chmod 4750 /greeting; mkdir -m 1777 /shared; "
    "ln -s /greeting /link"
)
# security.capability (VFS v2) granting cap_net_raw, effective: what `ping` carries
CAP_NET_RAW = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "tar.gz": gzip.compress,
    "tar.bz2": bz2.compress,
    "tar.xz": lzma.compress,
    "tar.zst": zstandard.ZstdCompressor().compress,
}


def _inspect(berth: Berth, name: str) -> dict[str, Any]:
    result = berth("image", "inspect", name)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)[0]
    return document


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _imported(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    image_id = result.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71, result.stdout
    return image_id


def _export(berth: Berth, tmp_path: Path, container: str) -> bytes:
    out = tmp_path / f"{container}.tar"
    exported = berth("export", "-o", str(out), container)
    assert exported.returncode == 0, exported.stderr
    return out.read_bytes()


def _store_state(berth: Berth) -> dict[str, list[str]]:
    """What an import adds (DESIGN §5's layout): blobs, layers, scratch files, images."""
    root = berth.store.root

    def listing(path: Path) -> list[str]:
        return sorted(os.listdir(path)) if path.is_dir() else []

    return {
        "blobs": listing(root / "content" / "blobs" / "sha256"),
        "snapshots": listing(root / "snapshots"),
        "tmp": listing(root / "tmp"),
        "images": berth("images", "-aq", "--no-trunc").stdout.split(),
    }


def make_tar(entries: list[dict[str, Any]]) -> bytes:
    """A tar of TarInfo fields (`data` for a regular file's content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in entries:
            fields = dict(entry)
            data = fields.pop("data", None)
            info = tarfile.TarInfo(fields.pop("name"))
            for key, value in fields.items():
                setattr(info, key, value)
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _docker(dockerd: Docker, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Debian's 20.10 client on the private dockerd."""
    argv = dockerd.argv(*args)
    return subprocess.run(argv, env=dockerd.env, capture_output=True, timeout=120, check=False)


def _through_link(target: str) -> bytes:
    """A symlink pointing out of the layer, then a file written through it."""
    link = {"name": "link", "type": tarfile.SYMTYPE, "linkname": target}
    return make_tar([link, {"name": "link/pwned", "data": b"owned"}])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving a directory: (its base URL, the directory);
    stopped when the test ends."""
    directory = tmp_path / "served"
    directory.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", directory
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_exported_container_imports_as_an_image_that_runs(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    run = berth("run", "--name", "box", busybox, "sh", "-c", CHANGES)
    assert run.returncode == 0, run.stderr
    exported = _export(berth, tmp_path, "box")

    # Export: one flat tree, whiteouts applied (no .wh. entries, deleted files absent, the
    # replaced directory holds only its new file), owners and modes as the container had them.
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        members = {member.name: member for member in archive.getmembers()}
    assert not [name for name in members if ".wh." in name]
    assert "bin/ls" not in members and "bin/sh" in members
    assert [name for name in members if name.startswith("home/")] == ["home/only"]
    greeting = members["greeting"]
    assert (greeting.uid, greeting.gid, greeting.mode) == (1234, 5678, 0o4750)
    assert members["shared"].isdir() and members["shared"].mode == 0o1777
    assert members["link"].issym() and members["link"].linkname == "/greeting"

    imported = berth("import", "-c", 'CMD ["cat", "/greeting"]', "-c", "ENV MODE=imported",
                     "-c", "WORKDIR /home", "-c", "EXPOSE 8080/udp", "-c", "LABEL made=here",
                     "-m", "from a box", str(tmp_path / "box.tar"), "imported:1")  # fmt: skip
    image_id = _imported(imported)
    assert berth("run", "--rm", "imported:1").stdout == "hi\n"
    script = "stat -c '%u:%g %a' /greeting /shared; pwd; echo $MODE; ls /bin/ls 2>&1"
    seen = berth("run", "--rm", "imported:1", "sh", "-c", script).stdout.splitlines()
    assert seen[:4] == ["1234:5678 4750", "0:0 1777", "/home", "imported"]
    assert "No such file or directory" in seen[4]

    document = _inspect(berth, "imported:1")
    assert document["Id"] == image_id and document["RepoTags"] == ["imported:1"]
    assert document["Comment"] == "from a box" and document["Author"] == ""
    assert document["RootFS"]["Layers"] == [_digest(exported)]  # the tar as given
    host = _inspect(berth, busybox)["Architecture"]
    assert (document["Os"], document["Architecture"]) == ("linux", host)
    config = document["Config"]
    assert config["Cmd"] == ["cat", "/greeting"] and config["Env"] == ["MODE=imported"]
    assert config["WorkingDir"] == "/home" and config["Labels"] == {"made": "here"}
    assert config["ExposedPorts"] == {"8080/udp": {}} and config["Entrypoint"] is None
    history = berth("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Comment}}",
                    "imported:1")  # fmt: skip
    assert history.stdout == f"{image_id}||from a box\n"

    # Without -m the comment says where the tar came from, as dockerd's; `image import` too.
    again = _imported(berth("image", "import", str(tmp_path / "box.tar")))
    assert again != image_id and _inspect(berth, again)["Comment"] == "Imported from -"
    assert _inspect(berth, again)["RootFS"]["Layers"] == [_digest(exported)]
    assert berth("rm", "box").returncode == 0
    check = berth("system", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_file_capabilities_survive_import_and_export(berth: Berth, tmp_path: Path) -> None:
    capability = CAP_NET_RAW.decode("utf-8", "surrogateescape")
    tar = make_tar([{"name": "ping", "data": b"#!", "mode": 0o755,
                     "pax_headers": {"SCHILY.xattr.security.capability": capability}}])  # fmt: skip
    (tmp_path / "cap.tar").write_bytes(tar)
    _imported(berth("import", str(tmp_path / "cap.tar"), "cap"))
    assert berth("create", "--name", "capbox", "cap", "/ping").returncode == 0
    try:
        exported = _export(berth, tmp_path, "capbox")
    finally:
        assert berth("rm", "capbox").returncode == 0
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        headers = archive.getmember("ping").pax_headers
    value = headers["SCHILY.xattr.security.capability"]
    assert value.encode("utf-8", "surrogateescape") == CAP_NET_RAW


def test_compressed_archives_and_stdin_import_the_same_layer(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    assert berth("create", "--name", "plain", busybox).returncode == 0
    tar = _export(berth, tmp_path, "plain")
    assert berth("rm", "plain").returncode == 0
    layers = [_digest(tar)]
    for suffix, compress in COMPRESSORS.items():
        path = tmp_path / f"plain.{suffix}"
        path.write_bytes(compress(tar))
        name = f"packed:{suffix.rpartition('.')[2]}"
        _imported(berth("import", "-c", f'CMD ["echo", "{suffix}"]', str(path), name))
        assert _inspect(berth, name)["RootFS"]["Layers"] == layers, suffix
        assert berth("run", "--rm", name).stdout == f"{suffix}\n"

    # `-` reads stdin, compressed too (here zstd).
    with open(tmp_path / "plain.tar.zst", "rb") as stdin:
        piped = subprocess.run(berth.argv("import", "-", "piped"), stdin=stdin, text=True,
                               capture_output=True, env=berth.env, check=False)  # fmt: skip
    _imported(piped)
    assert _inspect(berth, "piped")["RootFS"]["Layers"] == layers
    assert berth("run", "--rm", "piped", "echo", "from stdin").stdout == "from stdin\n"
    # The same layer was stored once, however it came.
    layers_stored = [name for name in _store_state(berth)["snapshots"] if name.isdigit()]
    assert len(layers_stored) == 2  # busybox's and this one


def test_import_downloads_an_http_url(
    berth: Berth, busybox: str, tmp_path: Path, served: tuple[str, Path]
) -> None:
    base, directory = served
    assert berth("create", "--name", "fetched", busybox).returncode == 0
    tar = _export(berth, tmp_path, "fetched")
    assert berth("rm", "fetched").returncode == 0
    (directory / "box.tar.gz").write_bytes(gzip.compress(tar))
    # The server listens on this machine's loopback: run the CLI outside the namespace that
    # plays the host (an import starts no container).
    outside = Berth(berth.store)

    url = f"{base}/box.tar.gz"
    _imported(outside("import", "-c", 'ENTRYPOINT ["echo"]', url, "fetched:1"))
    document = _inspect(berth, "fetched:1")
    assert document["Comment"] == f"Imported from {url}"
    assert document["RootFS"]["Layers"] == [_digest(tar)]
    assert berth("run", "--rm", "fetched:1", "downloaded").stdout == "downloaded\n"

    before = _store_state(berth)
    missing = outside("import", f"{base}/nothing.tar", "nothing")
    assert missing.returncode == 1
    assert f"failed to GET {base}/nothing.tar with status 404" in missing.stderr
    assert _store_state(berth) == before


def test_broken_and_hostile_archives_are_refused_and_leave_the_store_as_it_was(
    berth: Berth, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    good = make_tar([{"name": "file", "data": b"x" * 5000}])
    cases = {
        "garbage": (os.urandom(4096), "the archive is not a valid tar"),
        "text": (b"just some words\n" * 64, "the archive is not a valid tar"),
        "empty": (b"", "the archive is empty"),
        "cut.tar": (good[:1024], "the archive is not a valid tar"),
        "cut.tar.gz": (gzip.compress(good)[:60], "invalid gzip data"),
        "cut.tar.zst": (zstandard.ZstdCompressor().compress(good)[:30], "invalid zstd data"),
        "bad.tar.bz2": (bz2.compress(good)[:20] + b"\0" * 64, "invalid bzip2 data"),
        "cut.tar.xz": (lzma.compress(good)[:40], "invalid xz data"),
        # a symlink out of the layer, then a file through it
        "absolute-link": (_through_link(str(outside)), "the archive could not be unpacked"),
        "relative-link": (
            _through_link("../" * 30 + str(outside)),
            "the archive could not be unpacked",
        ),
        "host-hardlink": (
            make_tar([{"name": "passwd", "type": tarfile.LNKTYPE, "linkname": "/etc/passwd"}]),
            "hardlink to missing",
        ),
    }
    before = _store_state(berth)
    for name, (data, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        refused = berth("import", str(path), f"refused:{name.replace('.', '-')}")
        assert refused.returncode == 1, (name, refused.stdout)
        assert words in refused.stderr, (name, refused.stderr)
        assert "Traceback" not in refused.stderr
        assert _store_state(berth) == before, name
    assert list(outside.iterdir()) == []
    assert berth("import", str(tmp_path / "no-such.tar")).stderr == (
        f"Error: open {tmp_path / 'no-such.tar'}: no such file or directory\n"
    )
    refused = berth("import", "-c", "RUN rm -rf /", str(tmp_path / "garbage"))
    assert "RUN is not a valid change command" in refused.stderr
    refused = berth("import", "--platform", "windows/amd64", str(tmp_path / "garbage"))
    assert 'image operating system "windows" cannot be used' in refused.stderr
    assert _store_state(berth) == before

    # `../` names are clamped at the layer's root, as a layer's are: nothing lands outside.
    escaping = make_tar([{"name": "../" * 30 + str(outside / "escaped"), "data": b"contained"}])
    (tmp_path / "escaping.tar").write_bytes(escaping)
    _imported(berth("import", "-c", 'CMD ["/bin/true"]', str(tmp_path / "escaping.tar"), "clamped"))
    assert list(outside.iterdir()) == []
    assert berth("create", "--name", "clamped", "clamped").returncode == 0
    try:
        inside = _export(berth, tmp_path, "clamped")
    finally:
        assert berth("rm", "clamped").returncode == 0
    with tarfile.open(fileobj=io.BytesIO(inside)) as archive:
        escaped = archive.extractfile(str(outside / "escaped").lstrip("/"))
        assert escaped is not None and escaped.read() == b"contained"


def test_dockerd_imports_the_same_tar_into_the_same_layer_config_and_history(
    berth: Berth, tmp_path: Path
) -> None:
    tar = make_tar(
        [
            {"name": "etc", "type": tarfile.DIRTYPE, "mode": 0o755},
            {"name": "etc/motd", "data": b"welcome\n", "uid": 1000, "gid": 100},
            {"name": "run.sh", "data": b"#!/bin/sh\necho hi\n", "mode": 0o4755},
        ]
    )
    (tmp_path / "some.tar.gz").write_bytes(gzip.compress(tar))
    changes = ["-c", 'CMD ["/run.sh"]', "-c", "ENV A=1 B=2", "-c", "EXPOSE 8080/udp",
               "-c", "USER 1000", "-c", "WORKDIR /etc", "-c", "LABEL k=v",
               "-c", "VOLUME /data", "-c", "ONBUILD RUN echo later",
               "-c", "HEALTHCHECK --interval=5s CMD true", "-m", "same tar"]  # fmt: skip
    # (STOPSIGNAL too, as dockerd takes it since 23: 20.10 refused it)
    image_id = _imported(berth("import", *changes, str(tmp_path / "some.tar.gz"), "same:1"))
    blob = berth.store.root / "content" / "blobs" / "sha256" / image_id.partition(":")[2]
    ours = json.loads(blob.read_bytes())

    with bench_root("tmpfs", "2g") as root:
        dockerd = Docker(root / "docker")  # no bridge, no iptables: nothing on the host
        dockerd.start()
        try:
            imported = _docker(dockerd, "import", *changes, str(tmp_path / "some.tar.gz"), "same:1")
            assert imported.returncode == 0, imported.stderr
            saved = _docker(dockerd, "save", "same:1")
            assert saved.returncode == 0, saved.stderr
        finally:
            dockerd.stop()
    with tarfile.open(fileobj=io.BytesIO(saved.stdout)) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        theirs = json.load(archive.extractfile(manifest[0]["Config"]))  # type: ignore[arg-type]

    assert theirs["rootfs"] == ours["rootfs"] == {"type": "layers", "diff_ids": [_digest(tar)]}
    # 20.10 also wrote its version and an empty container_config (Docker 25 dropped both)
    assert set(theirs) - {"docker_version", "container_config"} == set(ours)
    for document in (theirs, ours):
        assert [entry.pop("created") for entry in document["history"]] == [document["created"]]
    assert theirs["history"] == ours["history"] == [{"comment": "same tar"}]
    assert (theirs["comment"], theirs["os"], theirs["architecture"]) == (
        ours["comment"],
        ours["os"],
        ours["architecture"],
    )
    # dockerd writes every field of the config, at its zero value when unset
    assert {key: value for key, value in theirs["config"].items() if value} == ours["config"]
