"""Pull progress rendering: Docker's bar, and plain lines that skip byte counters."""

import io

from berth.cli.progress_view import PlainView, bar
from berth.image.progress import ProgressEvent


def test_bar_matches_docker_shape() -> None:
    assert bar(0, 100, 10) == "[>         ]  0B/100B"
    assert bar(50, 100, 10) == "[====>     ]  50B/100B"
    assert bar(100, 100, 10) == "[==========]  100B/100B"
    assert bar(5_000_000, None) == "5MB"


def test_plain_view_prints_status_changes_only() -> None:
    out = io.StringIO()
    view = PlainView(out)
    for event in [
        ProgressEvent("", "latest: Pulling from library/busybox"),
        ProgressEvent("abc", "Pulling fs layer"),
        ProgressEvent("abc", "Downloading", 10, 100),
        ProgressEvent("abc", "Downloading", 100, 100),
        ProgressEvent("abc", "Download complete"),
        ProgressEvent("abc", "Download complete"),
        ProgressEvent("def", "Already exists"),
        ProgressEvent("abc", "Pull complete"),
    ]:
        view(event)
    view.close()
    lines = out.getvalue().splitlines()
    assert lines[:5] == [
        "latest: Pulling from library/busybox",
        "abc: Pulling fs layer",
        "abc: Download complete",
        "def: Already exists",
        "abc: Pull complete",
    ]
    assert lines[5].startswith("Total: 2/2 layers, 100B downloaded in ")


def test_a_push_that_moves_no_byte_says_pushed() -> None:
    out = io.StringIO()
    view = PlainView(out)
    for event in [
        ProgressEvent("", "The push refers to repository [127.0.0.1:5000/app]"),
        ProgressEvent("abc", "Preparing"),
        ProgressEvent("def", "Preparing"),
        ProgressEvent("abc", "Layer already exists"),
        ProgressEvent("def", "Mounted from team/base"),
    ]:
        view(event)
    view.close()
    assert out.getvalue().splitlines()[-1].startswith("Total: 2/2 layers, 0B pushed in ")
