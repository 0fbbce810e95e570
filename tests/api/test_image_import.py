"""`POST /images/create?fromSrc=` through real clients: the docker CLI (28.x) imports a file,
stdin, `docker export | docker import -` and a URL served on this machine's loopback (forwarded
into the server's namespace); docker-py's low-level `import_image*` (7.2 has no
`images.import_image`) imports a path, bytes, a chunked stream and a URL. Refusals are
Docker's: a plain JSON error before anything was written, the stream's last line after a
download started; a refused import leaves the image list as it was.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import http.server
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import docker.errors
import pytest

from tests.fixtures.api import DOCKER, ApiServer
from tests.fixtures.forward import LoopbackForward
from tests.fixtures.netns import HostNamespace
from tests.fixtures.store import Berth


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=120)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(self.unix_path)


def post_import(
    api: ApiServer, query: list[tuple[str, str]], body: bytes = b""
) -> tuple[int, str, list[dict[str, Any]]]:
    """POST /images/create with `query` and `body`: the status, content type and the JSON
    documents of the answer (one per line)."""
    connection = _UnixConnection(str(api.socket))
    try:
        connection.request("POST", f"/images/create?{urlencode(query)}", body=body)
        answer = connection.getresponse()
        text = answer.read().decode()
        kind = answer.getheader("Content-Type") or ""
        return answer.status, kind, [json.loads(line) for line in text.splitlines() if line]
    finally:
        connection.close()


def docker_ok(api: ApiServer, *args: str) -> str:
    result = api.docker(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def inspect(api: ApiServer, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(docker_ok(api, "image", "inspect", name))[0]
    return document


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def exported(api: ApiServer, berth: Berth, busybox: str, tmp_path: Path) -> bytes:
    """A container of busybox exported through the API (`docker export`), as a file."""
    assert berth("create", "--name", "src", busybox).returncode == 0
    docker_ok(api, "export", "-o", str(tmp_path / "src.tar"), "src")
    return (tmp_path / "src.tar").read_bytes()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path, host_ns: HostNamespace) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving a directory, reachable at the same address in
    the server's namespace: (its base URL, the directory); stopped when the test ends."""
    directory = tmp_path / "served"
    directory.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    forward = LoopbackForward(host_ns.path, server.server_port)
    try:
        yield f"http://127.0.0.1:{server.server_port}", directory
    finally:
        forward.close()
        server.shutdown()
        server.server_close()
        thread.join()


def test_docker_imports_a_file_stdin_and_an_export_pipe(
    api: ApiServer, berth: Berth, busybox: str, tmp_path: Path
) -> None:
    tar = exported(api, berth, busybox, tmp_path)
    (tmp_path / "src.tar.gz").write_bytes(gzip.compress(tar))
    output = docker_ok(api, "import", "-c", 'CMD ["echo", "imported"]', "-c", "ENV WHERE=api",
                       "-m", "through the api", str(tmp_path / "src.tar.gz"), "imp:1")  # fmt: skip
    image_id = output.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71, output
    document = inspect(api, "imp:1")
    assert document["Id"] == image_id and document["Comment"] == "through the api"
    assert document["RootFS"]["Layers"] == [digest(tar)]
    assert document["Config"]["Cmd"] == ["echo", "imported"]
    assert document["Config"]["Env"] == ["WHERE=api"]
    assert docker_ok(api, "run", "--rm", "imp:1") == "imported\n"
    history = docker_ok(api, "history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}",
                        "imp:1")  # fmt: skip
    assert history == "|through the api\n"

    # `docker export | docker import -`: the body streams in; the same container's tar.
    export = subprocess.Popen([DOCKER, "export", "src"], stdout=subprocess.PIPE, env=api.env)
    assert export.stdout is not None
    try:
        piped = subprocess.run([DOCKER, "import", "-", "piped"], stdin=export.stdout,
                               capture_output=True, text=True, env=api.env, timeout=120,
                               check=False)  # fmt: skip
    finally:
        export.stdout.close()
        assert export.wait(timeout=60) == 0
    assert piped.returncode == 0, piped.stderr
    document = inspect(api, "piped")
    assert document["Id"] == piped.stdout.strip() and document["Comment"] == "Imported from -"
    assert document["RootFS"]["Layers"] == [digest(tar)]
    assert docker_ok(api, "run", "--rm", "piped", "echo", "piped") == "piped\n"

    # Refused: not a tar, a change import doesn't take, a digest reference; nothing added.
    images = docker_ok(api, "images", "-q", "--no-trunc")
    (tmp_path / "garbage.tar").write_bytes(b"not a tar at all\n" * 100)
    source = str(tmp_path / "src.tar")
    refusals = {
        (str(tmp_path / "garbage.tar"),): "the archive is not a valid tar",
        ("-c", "RUN true", source): "RUN is not a valid change command",
        ("--platform", "windows/amd64", source): 'image operating system "windows"',
        (source, f"x@{digest(b'x')}"): "cannot import digest reference",
    }
    for args, words in refusals.items():
        result = api.docker("import", *args)
        assert result.returncode == 1, (args, result.stdout)
        assert f"Error response from daemon: {words}" in result.stderr, (args, result.stderr)
    assert docker_ok(api, "images", "-q", "--no-trunc") == images


def test_docker_imports_a_url_and_reports_a_refused_download(
    api: ApiServer, berth: Berth, busybox: str, tmp_path: Path, served: tuple[str, Path]
) -> None:
    base, directory = served
    tar = exported(api, berth, busybox, tmp_path)
    (directory / "src.tar.gz").write_bytes(gzip.compress(tar))
    (directory / "garbage.tar").write_bytes(b"not a tar\n" * 100)
    url = f"{base}/src.tar.gz"
    output = docker_ok(api, "import", "-c", 'ENTRYPOINT ["echo"]', url, "fetched:1")
    lines = output.splitlines()
    assert lines[0] == f"Downloading from {url}" and lines[-1].startswith("sha256:"), output
    document = inspect(api, "fetched:1")
    assert document["Id"] == lines[-1] and document["Comment"] == f"Imported from {url}"
    assert document["RootFS"]["Layers"] == [digest(tar)]
    assert docker_ok(api, "run", "--rm", "fetched:1", "from", "afar") == "from afar\n"

    images = docker_ok(api, "images", "-q", "--no-trunc")
    missing = api.docker("import", f"{base}/nothing.tar")
    assert missing.returncode == 1
    assert f"failed to GET {base}/nothing.tar with status 404" in missing.stderr
    # Once the download started, a failure is the stream's last line (status 200).
    status, _, documents = post_import(api, [("fromSrc", f"{base}/garbage.tar")])
    assert status == 200
    assert documents[0] == {"status": f"Downloading from {base}/garbage.tar"}
    assert "the archive is not a valid tar" in documents[-1]["error"]
    assert documents[-1]["errorDetail"]["message"] == documents[-1]["error"]
    # Without a scheme the source is an http URL, as dockerd reads it; the comment keeps it.
    bare = url.removeprefix("http://")
    status, _, documents = post_import(api, [("fromSrc", bare), ("repo", "bare")])
    assert status == 200 and documents[0] == {"status": f"Downloading from {url}"}
    assert inspect(api, "bare")["Comment"] == f"Imported from {bare}"
    assert docker_ok(api, "images", "-q", "--no-trunc").split() == [
        inspect(api, "bare")["Id"],
        *images.split(),
    ]


def test_the_api_takes_dockers_query_and_answers_its_stream(
    api: ApiServer, berth: Berth, busybox: str, tmp_path: Path
) -> None:
    tar = exported(api, berth, busybox, tmp_path)
    since = int(time.time())
    query = [("fromSrc", "-"), ("repo", "team/app:v1"), ("tag", "v2"), ("message", "raw"),
             ("changes", "CMD /bin/sh"), ("changes", "USER nobody"),
             ("platform", "linux/arm64")]  # fmt: skip
    status, kind, documents = post_import(api, query, tar)
    assert (status, kind) == (200, "application/json")
    assert len(documents) == 1 and documents[0]["status"].startswith("sha256:")
    image_id = documents[0]["status"]
    document = inspect(api, image_id)
    assert document["RepoTags"] == ["team/app:v2"]  # `tag` replaces the one in `repo`
    assert (document["Os"], document["Architecture"]) == ("linux", "arm64")
    assert document["Config"]["Cmd"] == ["/bin/sh", "-c", "/bin/sh"]
    assert document["Config"]["User"] == "nobody" and document["Comment"] == "raw"
    until = int(time.time()) + 1
    window = ("--since", str(since), "--until", str(until), "--filter", "type=image")
    events = docker_ok(api, "events", *window, "--format", "{{.Action}} {{.Actor.ID}}")
    ours = [line for line in events.splitlines() if line.endswith(image_id)]  # not busybox's
    assert ours == [f"tag {image_id}", f"import {image_id}"]

    images = docker_ok(api, "images", "-q", "--no-trunc")
    # (a refusal of the query comes before the body is read: the body here is small, as a
    # client that sends it all before reading the answer would meet a closed connection)
    refused = {
        "the archive is empty": ([("fromSrc", "-")], b""),
        "not a valid tar": ([("fromSrc", "-")], b"\0" * 100),
        "invalid gzip data": ([("fromSrc", "-")], gzip.compress(tar)[:1000]),
        "invalid platform": ([("fromSrc", "-"), ("platform", "linux/amd64/v1/x")], b"x"),
        "invalid reference format": ([("fromSrc", "-"), ("repo", "Team/App")], b"x"),
        "FROM is not a valid change command": ([("fromSrc", "-"), ("changes", "FROM x")], b"x"),
    }
    for words, (query, body) in refused.items():
        status, _, documents = post_import(api, query, body)
        assert status == 400, (words, documents)
        assert words in documents[0]["message"], (words, documents)
    assert docker_ok(api, "images", "-q", "--no-trunc") == images


def test_docker_py_imports_a_path_bytes_a_stream_and_a_url(
    api: ApiServer, berth: Berth, busybox: str, tmp_path: Path, served: tuple[str, Path]
) -> None:
    base, directory = served
    tar = exported(api, berth, busybox, tmp_path)
    (directory / "src.tar").write_bytes(tar)
    client = api.client()
    try:
        low = client.api
        answers = {
            "py:path": low.import_image(
                str(tmp_path / "src.tar"), "py", "path", changes=['CMD ["echo", "path"]']
            ),
            "py:bytes": low.import_image_from_data(gzip.compress(tar), "py", "bytes"),
            "py:stream": low.import_image_from_stream(_pieces(tar), "py", "stream"),
            "py:url": low.import_image_from_url(f"{base}/src.tar", "py", "url"),
        }
        for name, answer in answers.items():
            last = json.loads(answer.splitlines()[-1])
            image = client.images.get(name)
            assert image.id == last["status"], (name, answer)
            assert image.attrs["RootFS"]["Layers"] == [digest(tar)], name
        assert json.loads(answers["py:url"].splitlines()[0]) == {
            "status": f"Downloading from {base}/src.tar"
        }
        assert client.images.get("py:path").attrs["Config"]["Cmd"] == ["echo", "path"]
        assert client.images.get("py:url").attrs["Comment"] == f"Imported from {base}/src.tar"
        assert client.containers.run("py:path", remove=True) == b"path\n"
        with pytest.raises(docker.errors.APIError) as refused:
            low.import_image_from_data(b"garbage" * 200, repository="py", tag="bad")
        assert refused.value.status_code == 400
        assert "the archive is not a valid tar" in str(refused.value.explanation)
        # A file as a "stream": docker-py sends it whole, yet says it is chunked (dockerd
        # fails to read such a body as chunks, 500); refused at once, not waited for.
        with (
            open(tmp_path / "src.tar", "rb") as stream,
            pytest.raises(docker.errors.APIError) as both,
        ):
            low.import_image_from_stream(stream, "py", "file")
        assert both.value.status_code == 400
        assert "both Transfer-Encoding and Content-Length" in str(both.value.explanation)
    finally:
        client.close()


def _pieces(data: bytes, size: int = 65536) -> Iterator[bytes]:
    """`data` as a generator: what docker-py sends with chunked transfer encoding."""
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]
