"""`GET /events` through `berth serve`: what any berth process did, as Docker's events."""

from __future__ import annotations

import json
import os
import threading
import time

from tests.fixtures.api import ApiServer
from tests.fixtures.store import Berth


def _threads(api: ApiServer) -> int:
    assert api.process is not None
    return len(os.listdir(f"/proc/{api.process.pid}/task"))


def test_docker_events_shows_what_the_berth_cli_did(
    api: ApiServer, berth: Berth, busybox: str
) -> None:
    since = time.time()
    berth("run", "--name", "from-cli", busybox, "true", check=True)
    berth("rm", "from-cli", check=True)
    result = api.docker(
        "events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
        "--filter", "type=container", "--format", "{{json .}}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["Action"] for e in events] == ["create", "start", "die", "destroy"]
    assert {e["Actor"]["Attributes"]["name"] for e in events} == {"from-cli"}
    assert events[2]["Actor"]["Attributes"]["exitCode"] == "0"
    assert all(e["scope"] == "local" and e["id"] == e["Actor"]["ID"] for e in events)


def test_docker_py_streams_live_events_and_a_closed_stream_frees_its_thread(
    api: ApiServer, berth: Berth, busybox: str
) -> None:
    client = api.client()
    try:
        idle = _threads(api)
        stream = client.events(decode=True, filters={"type": "volume"})
        seen: list[dict[str, object]] = []

        def read() -> None:
            for event in stream:
                seen.append(event)
                return

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.5)
        berth("volume", "create", "live", check=True)
        reader.join(20)
        assert seen and seen[0]["Action"] == "create"
        assert seen[0]["Actor"] == {"ID": "live", "Attributes": {"driver": "local"}}
        stream.close()
        deadline = time.monotonic() + 10
        while _threads(api) > idle and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _threads(api) <= idle
    finally:
        client.close()


def test_an_open_events_stream_does_not_hold_up_the_servers_stop(
    api: ApiServer, busybox: str
) -> None:
    follower = api.docker_popen("events")
    try:
        time.sleep(1.0)
        started = time.monotonic()
        assert api.stop() == 0
        assert time.monotonic() - started < 5
        follower.wait(10)  # the server ended the stream
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        api.start()  # the fixture stops it again


def test_bad_event_filters_are_a_400(api: ApiServer) -> None:
    result = api.docker("events", "--filter", "colour=red", "--until", "1")
    assert result.returncode != 0
    assert "invalid filter 'colour'" in result.stderr
