"""`berth push` to real registries (Debian's docker-registry), proved from the registry's
side: its access log and a counting proxy say what went over the wire, skopeo reads back
what landed."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.peers import Docker, bench_root
from tests.fixtures.images import Catalogue
from tests.fixtures.oci_layout import SKOPEO
from tests.fixtures.proxy import CountingProxy, start_proxy
from tests.fixtures.registry import RunningRegistry
from tests.fixtures.store import Berth
from tests.fixtures.token_server import USERS, TokenRegistry, start_token_registry

CHUNK = 16 << 20  # berth.image.push.CHUNK_SIZE


def skopeo_inspect(reference: str, *extra: str) -> dict[str, object]:
    result = subprocess.run(
        [SKOPEO, "inspect", "--tls-verify=false", *extra, f"docker://{reference}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    document: dict[str, object] = json.loads(result.stdout)
    return document


def raw_manifest(reference: str) -> bytes:
    result = subprocess.run(
        [SKOPEO, "inspect", "--raw", "--tls-verify=false", f"docker://{reference}"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def uploads(registry: RunningRegistry) -> list[str]:
    """Access-log lines of requests that write blobs or manifests."""
    return [
        line
        for line in registry.access_log()
        if any(f'"{method} ' in line for method in ("POST", "PATCH", "PUT"))
    ]


@pytest.fixture
def upload_proxy(empty_registry: RunningRegistry) -> Iterator[CountingProxy]:
    running = start_proxy(empty_registry.url)
    try:
        yield running
    finally:
        running.stop()


def pulled(berth: Berth, reference: str, tag: str) -> None:
    result = berth("pull", "-q", reference)
    assert result.returncode == 0, result.stderr
    assert berth("tag", reference, tag).returncode == 0


def test_push_then_pull_back_keeps_digests(
    registry: Catalogue, berth: Berth, empty_registry: RunningRegistry, busybox: str
) -> None:
    """A pulled image goes up byte for byte: the registry serves the same manifest digest;
    pulled back into an empty store it runs."""
    app = registry["app-a"]
    target = f"{empty_registry.host}/team/app:v1"
    pulled(berth, app.reference, target)

    result = berth("push", target)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"The push refers to repository [{empty_registry.host}/team/app]"
    for diff_id in app.diff_ids:
        assert f"{diff_id[7:19]}: Pushed" in lines
    assert lines[-1] == f"v1: digest: {app.manifest_digest} size: {app.manifest_size}"

    served = raw_manifest(target)
    assert served == raw_manifest(app.reference)
    assert skopeo_inspect(target)["Digest"] == app.manifest_digest
    inspect = json.loads(berth("image", "inspect", target).stdout)[0]
    assert f"{empty_registry.host}/team/app@{app.manifest_digest}" in inspect["RepoDigests"]

    assert berth("rmi", target, app.reference).returncode == 0
    back = berth("pull", target)
    assert back.returncode == 0, back.stderr
    run = berth("run", "--rm", "--network", "none", target, "/app/run.sh")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "hello from app-a"


def test_second_push_uploads_nothing_and_a_shared_base_is_mounted(
    registry: Catalogue, berth: Berth, empty_registry: RunningRegistry
) -> None:
    a, b = registry["app-a"], registry["app-b"]
    first = f"{empty_registry.host}/team/a:v1"
    second = f"{empty_registry.host}/team/b:v1"
    pulled(berth, a.reference, first)
    pulled(berth, b.reference, second)
    assert berth("push", "-q", first).stdout.strip() == first

    before = len(uploads(empty_registry))
    again = berth("push", first)
    assert again.returncode == 0, again.stderr
    for diff_id in a.diff_ids:
        assert f"{diff_id[7:19]}: Layer already exists" in again.stdout
    writes = uploads(empty_registry)[before:]
    assert all("/blobs/" not in line for line in writes), writes  # only the manifest again

    # b shares a's base layer, which the registry holds in team/a: mounted, not uploaded.
    before = len(uploads(empty_registry))
    mounted = berth("push", second)
    assert mounted.returncode == 0, mounted.stderr
    assert f"{b.diff_ids[0][7:19]}: Mounted from team/a" in mounted.stdout
    assert f"{b.diff_ids[1][7:19]}: Pushed" in mounted.stdout
    writes = uploads(empty_registry)[before:]
    assert any(f"mount=sha256%3A{b.layers[0].digest[7:]}" in line for line in writes), writes
    patched = [line for line in writes if '"PATCH ' in line or '"PUT /v2/team/b/blobs' in line]
    assert len(patched) == 2  # b's own layer and its config, nothing of the base
    assert skopeo_inspect(second)["Digest"] == b.manifest_digest


def _new_requests(registry: RunningRegistry, before: int) -> list[str]:
    """The access log's lines after the first `before`, once the registry has written them
    (it logs a request after answering it)."""
    deadline = time.monotonic() + 10
    while len(registry.access_log()) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # any request after the first is logged by now
    return registry.access_log()[before:]


def _said(output: str) -> list[str]:
    """A push's lines, the layers' (answered by threads) in order, the total's time left out."""
    return sorted(
        line.rpartition(" in ")[0] if line.startswith("Total:") else line
        for line in output.splitlines()
    )


def test_a_push_the_registry_holds_is_one_request_and_says_what_a_full_push_says(
    registry: Catalogue, berth: Berth, empty_registry: RunningRegistry
) -> None:
    app, other = registry["app-a"], registry["app-b"]
    target = f"{empty_registry.host}/team/app"  # no tag: latest, as the output says
    pulled(berth, app.reference, target)
    assert berth("push", "-q", target).returncode == 0

    before = len(empty_registry.access_log())
    again = berth("push", target)
    assert again.returncode == 0, again.stderr
    asked = _new_requests(empty_registry, before)
    assert len(asked) == 1 and '"HEAD /v2/team/app/manifests/latest ' in asked[0], asked
    # --log-level keeps the CLI off its quick paths: the pusher asks for every blob
    full = berth("--log-level=error", "push", target)
    assert full.returncode == 0, full.stderr
    assert _said(again.stdout) == _said(full.stdout)
    assert again.stdout.splitlines()[0] == "Using default tag: latest"
    for diff_id in app.diff_ids:
        assert f"{diff_id[7:19]}: Layer already exists" in again.stdout
    pushes = berth(
        "events",
        "--since",
        "0",
        "--until",
        str(time.time() + 1),
        "--filter",
        "event=push",
        "--format",
        "{{.Actor.ID}} {{.Actor.Attributes.name}}",
    ).stdout.splitlines()
    assert pushes == [f"{target}:latest {target}"] * 3  # each push says so, the quick one too
    size = app.manifest_size
    assert again.stdout.splitlines()[-1] == f"latest: digest: {app.manifest_digest} size: {size}"
    quiet = berth("push", "-q", "--max-concurrent-uploads=2", target)
    assert quiet.stdout == f"{target}:latest\n"

    # The registry's tag moved (another tool pushed another image there): a full push.
    subprocess.run(
        [
            SKOPEO,
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{other.reference}",
            f"docker://{target}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert skopeo_inspect(target)["Digest"] == other.manifest_digest
    before = len(empty_registry.access_log())
    moved = berth("push", target)
    assert moved.returncode == 0, moved.stderr
    assert any(
        '"PUT /v2/team/app/manifests/latest ' in line
        for line in _new_requests(empty_registry, before)
    )
    assert skopeo_inspect(target)["Digest"] == app.manifest_digest


def test_push_of_a_missing_tag_is_refused(berth: Berth, empty_registry: RunningRegistry) -> None:
    result = berth("push", f"{empty_registry.host}/nothing:here")
    assert result.returncode == 1
    assert "An image does not exist locally with the tag" in result.stderr
    assert "Traceback" not in result.stderr
    assert uploads(empty_registry) == []


def test_push_through_the_token_flow(registry: Catalogue, berth: Berth, tmp_path: Path) -> None:
    """Anonymous: denied, and nothing reaches the registry; logged in: pushed, with a token
    scoped `pull,push` on the repository."""
    token_registry: TokenRegistry = start_token_registry(tmp_path / "token-registry")
    try:
        env = {"DOCKER_CONFIG": str(tmp_path / "docker-config")}
        app = registry["app-a"]
        target = f"{token_registry.host}/private/app:v1"
        pulled(berth, app.reference, target)

        denied = berth("push", target, env=env)
        assert denied.returncode == 1
        assert "denied: requested access to the resource is denied" in denied.stderr
        assert "Traceback" not in denied.stderr
        assert uploads(token_registry.registry) == [] or all(
            " 401 " in line or '" 401' in line for line in uploads(token_registry.registry)
        )
        inspect = json.loads(berth("image", "inspect", target).stdout)[0]
        assert not any(d.startswith(token_registry.host) for d in inspect["RepoDigests"])

        user, password = next(iter(USERS.items()))
        login = berth(
            "login", "-u", user, "--password-stdin", token_registry.host, input=password, env=env
        )
        assert login.returncode == 0, login.stderr
        token_registry.tokens.requests.clear()
        pushed = berth("push", target, env=env)
        assert pushed.returncode == 0, pushed.stderr
        scopes = {s for r in token_registry.tokens.requests for s in r.scopes}
        assert "repository:private/app:pull,push" in scopes
        assert all(r.account == user for r in token_registry.tokens.requests)
        digest = skopeo_inspect(target, "--creds", f"{user}:{password}")["Digest"]
        assert digest == app.manifest_digest
    finally:
        token_registry.stop()


def test_killed_push_resumes_from_the_last_chunk(
    registry: Catalogue,
    berth: Berth,
    upload_proxy: CountingProxy,
    empty_registry: RunningRegistry,
) -> None:
    """kill -9 in the middle of a large layer's upload, then push again: the second push
    sends the rest from the last chunk the registry acknowledged, not the whole layer.

    The proxy plays nginx, which buffers request bodies: the chunk in flight when berth dies
    never reaches the registry. (Distribution on its own keeps the part of a chunk it got and
    then refuses the session; the next test shows a push still completes then.)
    """
    large = registry["large"]
    target = f"{upload_proxy.host}/big/large:v1"
    pulled(berth, large.reference, target)
    blob = large.layers[1]
    assert blob.size > 2 * CHUNK

    upload_proxy.buffer_uploads = True
    upload_proxy.upload_bytes_per_second = 8 << 20
    notes = berth.store.root / "content" / "uploads"
    push = berth.popen("push", target)
    try:
        deadline = time.monotonic() + 60
        while not (notes.is_dir() and any(notes.iterdir())):
            assert push.poll() is None, push.communicate()
            assert time.monotonic() < deadline, "no chunk was acknowledged"
            time.sleep(0.05)
        push.send_signal(signal.SIGKILL)
    finally:
        push.communicate(timeout=30)
    sent_before = upload_proxy.uploaded_bytes()
    assert sent_before < blob.size + large.layers[0].size

    upload_proxy.reset()
    upload_proxy.buffer_uploads = True
    again = berth("push", target)
    assert again.returncode == 0, again.stderr
    patched = [
        r
        for r in upload_proxy.requests
        if r.method in ("PATCH", "PUT") and "/blobs/uploads/" in r.path
    ]
    assert patched, upload_proxy.requests
    # The large blob: everything after the acknowledged chunk(s), and no more.
    assert upload_proxy.uploaded_bytes() <= blob.size - CHUNK + large.layers[0].size + 4096
    direct = target.replace(upload_proxy.host, empty_registry.host)  # skopeo's Accept headers
    assert skopeo_inspect(direct)["Digest"] == large.manifest_digest
    assert not any(notes.iterdir())


def test_a_session_the_registry_refuses_starts_over(
    registry: Catalogue,
    berth: Berth,
    upload_proxy: CountingProxy,
    empty_registry: RunningRegistry,
) -> None:
    """Straight to distribution, a kill mid-chunk leaves part of the chunk at the registry,
    which then refuses the noted session: the next push starts that blob again and
    completes."""
    large = registry["large"]
    target = f"{upload_proxy.host}/big/again:v1"
    pulled(berth, large.reference, target)
    upload_proxy.upload_bytes_per_second = 8 << 20
    notes = berth.store.root / "content" / "uploads"
    push = berth.popen("push", target)
    try:
        deadline = time.monotonic() + 60
        while not (notes.is_dir() and any(notes.iterdir())):
            assert push.poll() is None, push.communicate()
            assert time.monotonic() < deadline, "no chunk was acknowledged"
            time.sleep(0.05)
        time.sleep(0.5)  # into the next chunk
        push.send_signal(signal.SIGKILL)
    finally:
        push.communicate(timeout=30)
    upload_proxy.reset()
    again = berth("push", target)
    assert again.returncode == 0, again.stderr
    assert upload_proxy.uploaded_bytes() >= large.layers[1].size  # that blob from the start
    direct = target.replace(upload_proxy.host, empty_registry.host)
    assert skopeo_inspect(direct)["Digest"] == large.manifest_digest


def test_a_built_image_pushed_runs_under_docker(
    berth: Berth, busybox: str, empty_registry: RunningRegistry, tmp_path: Path
) -> None:
    """berth build → berth push → docker pull → docker run: the same image id, the same
    output; a second push uploads nothing."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "hello.txt").write_text("hello from the context\n")
    (context / "Dockerfile").write_text(
        "FROM busybox\nCOPY hello.txt /\nRUN echo built by a RUN > /built\n"
        'CMD ["cat", "/hello.txt", "/built"]\n'
    )
    target = f"{empty_registry.host}/built/app:v1"
    build = berth("build", "-q", "--network", "none", "-t", target, str(context))
    assert build.returncode == 0, build.stderr
    image_id = build.stdout.strip()
    pushed = berth("push", target)
    assert pushed.returncode == 0, pushed.stderr
    before = len(uploads(empty_registry))
    assert berth("push", target).returncode == 0
    assert all("/blobs/" not in line for line in uploads(empty_registry)[before:])

    with bench_root("tmpfs", "2g") as root:
        dockerd = Docker(root / "docker")  # no bridge, no iptables: nothing on the host
        dockerd.start()
        try:

            def docker(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run(
                    dockerd.argv(*args),
                    env=dict(dockerd.env),
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )

            pull = docker("pull", "-q", target)
            assert pull.returncode == 0, pull.stderr
            assert docker("image", "inspect", "-f", "{{.Id}}", target).stdout.strip() == image_id
            run = docker("run", "--rm", "--network", "none", target)
            assert run.returncode == 0, run.stderr
            assert run.stdout == "hello from the context\nbuilt by a RUN\n"
        finally:
            dockerd.stop()
