"""`berth serve` as a service: addresses, versions, errors, and what stopping it leaves."""

from __future__ import annotations

import json
import socket

from tests.fixtures.api import ApiServer
from tests.fixtures.store import Berth


def _raw(api: ApiServer, request: bytes) -> bytes:
    """One request on a fresh connection, and everything the server answers before closing."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(api.socket))
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_docker_version_negotiates_down_to_the_served_api(api: ApiServer) -> None:
    result = api.docker("version", "--format", "{{json .}}")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["Server"]["ApiVersion"] == "1.47"
    assert document["Server"]["MinAPIVersion"] == "1.24"
    assert document["Client"]["ApiVersion"] == "1.47"  # the 28.x client speaks 1.50


def test_ping_answers_get_and_head_with_the_version_headers(api: ApiServer) -> None:
    answer = _raw(api, b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Api-Version: 1.47" in head and b"Ostype: linux" in head
    assert b"Docker-Experimental: false" in head
    assert body == b"OK"
    answer = _raw(api, b"HEAD /v1.24/_ping HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b""


def test_versions_outside_the_range_are_refused_in_dockers_words(api: ApiServer) -> None:
    for version, words in (("1.99", b"too new"), ("1.12", b"too old")):
        answer = _raw(api, f"GET /v{version}/info HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), answer
        assert words in json.loads(body)["message"].encode()


def test_unknown_paths_and_malformed_requests_get_answers_not_dropped_connections(
    api: ApiServer,
) -> None:
    answer = _raw(api, b"GET /no/such/thing HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404")
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"message": "page not found"}
    answer = _raw(api, b"DELETE /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 405")
    answer = _raw(api, b"GARBAGE\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    huge = b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 400_000 + b"\r\n\r\n"
    assert _raw(api, huge).startswith(b"HTTP/1.1 431")
    # and the server still serves
    assert api.docker("version").returncode == 0


def test_info_counts_what_the_cli_made(api: ApiServer, busybox: str, berth: Berth) -> None:
    berth("create", "--name", "made-by-cli", busybox, "true", check=True)
    result = api.docker("info", "--format", "{{json .}}")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["Containers"] == 1 and info["ContainersStopped"] == 1
    assert info["Images"] == 1
    assert info["Driver"] == "overlay2" and info["OSType"] == "linux"


def test_disk_usage_through_docker_system_df_and_docker_py(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    berth("run", "--name", "writer", "-v", "kept:/data", busybox, "sh", "-c",
          "head -c 100000 /dev/zero > /data/blob; head -c 50000 /dev/zero > /written",
          check=True)  # fmt: skip
    rows = api.docker("system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}")
    assert rows.returncode == 0, rows.stderr
    assert rows.stdout.splitlines() == [
        "Images|1|1",
        "Containers|1|0",
        "Local Volumes|1|1",
        "Build Cache|0|0",
    ]
    client = api.client()
    try:
        assert client.ping() is True
        usage = client.df()
    finally:
        client.close()
    [image] = usage["Images"]
    assert image["Containers"] == 1 and image["Size"] > 0
    [container] = usage["Containers"]
    assert container["Names"] == ["/writer"] and container["SizeRw"] >= 50000
    [volume] = usage["Volumes"]
    assert volume["Name"] == "kept" and volume["UsageData"]["Size"] >= 100000
    assert volume["UsageData"]["RefCount"] == 1


def test_a_bad_request_sweep_leaves_the_server_serving_and_the_store_intact(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    berth("create", "--name", "victim", busybox, "true", check=True)
    json_head = "Content-Type: application/json\r\n"
    requests = [
        ("POST", "/containers/create", json_head, b"{not json"),
        ("POST", "/containers/create", json_head, b'{"Image": 5}'),
        ("POST", "/containers/create", json_head, b'{"Image": "busybox", "Cmd": {"a": 1}}'),
        ("POST", "/containers/create", json_head, b'{"Image": "busybox", "StopTimeout": 1e999}'),
        ("POST", "/containers/create", json_head, b'{"Image": "busybox", "Memory": NaN}'),
        (
            "POST",
            "/containers/create",
            json_head,
            b'{"Image": "busybox", "StopTimeout": 2' + b"0" * 30 + b"}",
        ),
        (
            "POST",
            "/containers/create",
            json_head,
            b'{"Labels": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        ),
        ("POST", "/containers/create?name=../../etc", json_head, b'{"Image": "busybox"}'),
        ("POST", "/containers/victim/rename?name=", "", b""),
        ("POST", "/containers/victim/kill?signal=SIGBOGUS", "", b""),
        ("GET", "/containers/victim/archive?path=../../../../etc/shadow", "", b""),
        ("POST", "/networks/create", json_head, b'{"Name": "n", "IPAM": "x"}'),
        ("POST", "/volumes/create", json_head, b'["a", "list"]'),
        ("GET", "/containers/json?filters=%7Bbroken", "", b""),
        ("GET", "/containers/json?limit=many", "", b""),
        ("DELETE", "/images/%2e%2e%2f%2e%2e", "", b""),
        ("POST", "/images/create?fromImage=UPPER/Case", "", b""),
        ("GET", "/containers/nonexistent/json", "", b""),
        ("POST", "/exec/nonexistent/start", json_head, b"{}"),
    ]
    for method, path, headers, body in requests:
        raw = (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        answer = _raw(api, raw)
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, (method, path, answer[:300])
        assert "message" in json.loads(answer.partition(b"\r\n\r\n")[2]), (method, path)
    huge = b'{"Image": "busybox", "Env": ["' + b"x" * (17 * 1024 * 1024) + b'"]}'
    head = (
        "POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(huge)}\r\n\r\n"
    ).encode()
    assert _raw(api, head + huge).startswith(b"HTTP/1.1 413")
    # Still serving, nothing half-made, and the store is sound.
    assert api.docker("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["victim"]
    assert berth("volume", "ls", "-q").stdout == ""
    check = berth("system", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_large_body_refused_before_it_is_read_still_gets_its_answer(api: ApiServer) -> None:
    """An import whose change is refused is answered before its body is read; the client,
    still sending, must be let finish and then read the refusal (`docker import` sends the
    whole file before it reads the answer)."""
    body = b"\0" * (8 * 1024 * 1024)
    head = (
        "POST /v1.47/images/create?fromSrc=-&changes=RUN%20true HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/x-tar\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    answer = _raw(api, head + body)
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 400"), answer[:500]
    assert b"RUN is not a valid change command" in rest
