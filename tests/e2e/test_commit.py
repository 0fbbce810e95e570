"""`berth commit`: a container's changes become a layer on its image; the new image runs with
them, says who made it, and keeps nothing of the container's mounts."""

from __future__ import annotations

import json
import time

from tests.fixtures.store import Berth

CHANGES = (
    "echo hello > /greeting; rm /bin/ls; rm -rf /etc/network; "
    "rm -rf /home; mkdir /home; echo only > /home/only; echo kept > /data/v"
)


def _inspect(berth: Berth, name: str) -> dict[str, object]:
    result = berth("image", "inspect", name)
    assert result.returncode == 0, result.stderr
    document: dict[str, object] = json.loads(result.stdout)[0]
    return document


def busybox_id(berth: Berth) -> str:
    return berth("images", "-q", "busybox").stdout.strip()


def test_commit_makes_an_image_of_the_containers_changes(berth: Berth, busybox: str) -> None:
    run = berth("run", "--name", "box", "-v", "vol:/data", "-e", "MODE=made", busybox,
                "sh", "-c", CHANGES)  # fmt: skip
    assert run.returncode == 0, run.stderr
    committed = berth("commit", "-a", "Ada <ada@example.com>", "-m", "first cut", "box", "mine:1")
    assert committed.returncode == 0, committed.stderr
    image_id = committed.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71

    document = _inspect(berth, "mine:1")
    assert document["Id"] == image_id
    assert document["Author"] == "Ada <ada@example.com>"
    assert document["Comment"] == "first cut"
    config = document["Config"]
    assert isinstance(config, dict)
    assert "MODE=made" in config["Env"] and config["Cmd"] == ["sh", "-c", CHANGES]
    base = _inspect(berth, busybox)
    base_layers = base["RootFS"]["Layers"]  # type: ignore[index]
    layers = document["RootFS"]["Layers"]  # type: ignore[index]
    assert layers[:-1] == base_layers and len(layers) == len(base_layers) + 1
    history = berth("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "mine:1")
    assert history.stdout.splitlines()[0] == f"sh -c {CHANGES}|first cut"

    # The new image has the changes: a file added, files and a directory deleted (whiteouts),
    # a directory replaced (opaque); the volume's file is not in it.
    script = "cat /greeting /home/only; ls /home; ls /bin/ls /etc/network /data/v 2>&1"
    seen = berth("run", "--rm", "mine:1", "sh", "-c", script)
    assert seen.stdout.splitlines()[:3] == ["hello", "only", "only"]
    assert seen.stdout.count("No such file or directory") == 3, seen.stdout

    # The container is as it was, and can be committed again under another name.
    assert berth("start", "-a", "box").returncode == 0
    again = berth("commit", "box", "mine:2")
    assert again.returncode == 0, again.stderr
    changed = berth("commit", "-c", 'CMD ["sh", "-c", "echo $MODE"]', "-c", "ENV MODE=changed",
                    "-c", "EXPOSE 8080/udp", "box", "mine:3")  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert berth("run", "--rm", "mine:3").stdout == "changed\n"
    exposed = berth("image", "inspect", "-f", "{{json .Config.ExposedPorts}}", "mine:3")
    assert json.loads(exposed.stdout) == {"8080/udp": {}}
    refused = berth("commit", "-c", "RUN rm -rf /", "box", "mine:4")
    assert refused.returncode == 1 and "RUN is not a valid change command" in refused.stderr
    check = berth("system", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_commit_pauses_a_running_container_and_leaves_it_running(
    berth: Berth, busybox: str
) -> None:
    script = "echo ready > /state; while true; do date +%s%N > /tick; sleep 0.01; done"
    assert berth("run", "-d", "--name", "busy", busybox, "sh", "-c", script).returncode == 0
    deadline = time.monotonic() + 10
    while berth("exec", "busy", "cat", "/state").stdout != "ready\n":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    since = time.time()
    committed = berth("commit", "busy", "snapshot:1")
    assert committed.returncode == 0, committed.stderr
    state = berth("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "busy")
    assert state.stdout.strip() == "running false"
    actions = berth("events", "--since", f"{since:.9f}", "--until", f"{time.time():.9f}",
                    "--filter", "container=busy", "--format", "{{.Action}}")  # fmt: skip
    assert actions.stdout.split() == ["pause", "unpause", "commit"]
    seen = berth("run", "--rm", "snapshot:1", "cat", "/state")
    assert seen.stdout == "ready\n"
    assert berth("rm", "-f", "busy").returncode == 0


def test_bad_commits_are_refused(berth: Berth, busybox: str) -> None:
    assert berth("create", "--name", "made", busybox, "true").returncode == 0
    missing = berth("commit", "nope", "x:1")
    assert missing.returncode == 1 and "No such container: nope" in missing.stderr
    digest = berth("commit", "made", "x@sha256:" + "a" * 64)
    assert digest.returncode == 1 and "digest" in digest.stderr
    bad = berth("commit", "made", "UPPER:case")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ")
    images = berth("images", "-q")
    assert set(images.stdout.split()) == {busybox_id(berth)}  # nothing half-made
