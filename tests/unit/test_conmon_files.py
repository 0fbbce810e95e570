"""What berth reads of a container held by conmon (`berth.monitor.conmon`): its log in
Kubernetes' format (the lines as conmon 2.1.6 writes them, recorded in
docs/conmon-monitor-plan.md), its exit file, the runtime's error on conmon's sync pipe; and
which containers conmon may hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berth.container import logs
from berth.monitor import conmon
from berth.monitor.config import MonitorConfig

# A 20,000-byte line comes in reads of 8192 bytes: P, P, P, then its end alone (F).
LONG = (
    b"2026-12-05T18:17:56.437893520+00:00 stdout P " + b"a" * 8192 + b"\n"
    b"2026-12-05T18:17:56.437893520+00:00 stdout P " + b"a" * 8192 + b"\n"
    b"2026-12-05T18:17:56.437893520+00:00 stdout P " + b"a" * 3616 + b"\n"
    b"2026-12-05T18:17:56.437893520+00:00 stdout F \n"
)


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "ctr.log"
    path.write_bytes(data)
    return path


def test_k8s_records_read_as_docker_records(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        b"2026-12-05T18:17:56.437893520+00:00 stdout F hello\n"
        b"2026-12-05T18:17:56.500000001+00:00 stderr F err r\n"
        b"2026-12-05T18:17:57.000000000+00:00 stdout P partial\n",
    )
    records, offset = logs.read(path)
    assert records == [
        {"log": "hello\n", "stream": "stdout", "time": "2026-12-05T18:17:56.437893520Z"},
        {"log": "err r\n", "stream": "stderr", "time": "2026-12-05T18:17:56.500000001Z"},
        {"log": "partial", "stream": "stdout", "time": "2026-12-05T18:17:57.000000000Z"},
    ]
    assert offset == path.stat().st_size


def test_a_long_line_reads_back_whole(tmp_path: Path) -> None:
    records, _ = logs.read(_write(tmp_path, LONG))
    assert "".join(record["log"] for record in records) == "a" * 20000 + "\n"
    assert [record["log"].endswith("\n") for record in records] == [False] * 3 + [True]


def test_an_empty_line_and_a_carriage_return(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        b"2026-12-05T18:17:56.437893520+00:00 stdout F \n"
        b"2026-12-05T18:17:56.437893520+00:00 stdout F 10%\r20%\n",
    )
    records, _ = logs.read(path)
    assert [record["log"] for record in records] == ["\n", "10%\r20%\n"]


def test_local_times_become_utc_keeping_nanoseconds(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        b"2026-12-05T19:17:56.437893520+01:00 stdout F east\n"
        b"2026-12-05T13:47:56.000000009-04:30 stdout F west\n",
    )
    records, _ = logs.read(path)
    assert [record["time"] for record in records] == [
        "2026-12-05T18:17:56.437893520Z",
        "2026-12-05T18:17:56.000000009Z",
    ]


def test_a_torn_record_costs_that_line_only(tmp_path: Path) -> None:
    """A full disk stops conmon's log mid-record; the next record may follow it on the same
    line, or the torn one may be the last: neither is a record, the others still are."""
    path = _write(
        tmp_path,
        b"2026-12-05T18:17:56.437893520+00:00 stdout F one\n"
        b"2026-12-05T18:17:5\n"
        b"2026-12-05T18:17:56.437893520+00:00 stdbad F two\n"
        b"2026-12-05T18:17:56.437893520+00:00 stdout F three\n",
    )
    records, _ = logs.read(path)
    assert [record["log"] for record in records] == ["one\n", "three\n"]


def test_a_record_being_written_waits_for_its_end(tmp_path: Path) -> None:
    path = _write(tmp_path, b"2026-12-05T18:17:56.437893520+00:00 stdout F done\n2026-12-0")
    records, offset = logs.read(path)
    assert [record["log"] for record in records] == ["done\n"]
    with path.open("ab") as stream:
        stream.write(b"5T18:17:56.437893520+00:00 stdout F next\n")
    records, _ = logs.read(path, offset)
    assert [record["log"] for record in records] == ["next\n"]


def test_a_log_begun_again_is_read_from_its_start(tmp_path: Path) -> None:
    """conmon's --log-size-max replaces the file with a new one: a reader past its end
    (`logs -f`) goes on from the new file's start."""
    path = _write(tmp_path, LONG)
    _, offset = logs.read(path)
    path.write_bytes(b"2026-12-05T18:17:58.000000000+00:00 stdout F after\n")
    records, _ = logs.read(path, offset)
    assert [record["log"] for record in records] == ["after\n"]


def test_tail_counts_k8s_records(tmp_path: Path) -> None:
    path = _write(tmp_path, LONG + b"2026-12-05T18:17:58.000000000+00:00 stdout F last\n")
    records, _ = logs.read(path, logs.tail_offset(path, 2))
    assert [record["log"] for record in records] == ["\n", "last\n"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("7", 7),
        ("137\n", 137),
        ("0", 0),
        ("-1", conmon.ENGINE_FAILURE),  # conmon could not tell
        ("", None),
        ("seven", None),
        (None, None),  # no file: conmon recorded nothing
    ],
)
def test_exit_file(tmp_path: Path, text: str | None, code: int | None) -> None:
    if text is not None:
        (tmp_path / conmon.EXIT_FILE).write_text(text)
    assert conmon.exit_code(tmp_path) == code


def test_the_runtime_error_is_the_json_log_message() -> None:
    line = json.dumps(
        {
            "level": "error",
            "msg": 'berth-runtime create failed: exec: "nope": executable file not found in $PATH',
            "time": "2026-12-06T02:10:25Z",
        }
    )
    text = conmon.runtime_error(f"some warning\n{line}\n")
    assert text == 'exec: "nope": executable file not found in $PATH'
    assert conmon.failure_code(text) == 127
    assert conmon.runtime_error("plain words\n") == "plain words"
    assert conmon.runtime_error("") == "conmon failed to create the container"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ('exec: "nope": executable file not found in $PATH', 127),
        ("exec: /bin/x: no such file or directory", 127),
        ('exec: "/etc": is a directory', 126),
        ("exec: /bin/x: permission denied", 126),
        ("mount: invalid argument", 125),
    ],
)
def test_failure_codes(message: str, code: int) -> None:
    assert conmon.failure_code(message) == code


BASE = MonitorConfig(
    id="c", bundle="/b", run_dir="/r", runtime_root="/rt", log_path="/l", rootfs="/f"
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, True),
        ({"held_fds": [7], "cleanup_argv": ["berth"], "auto_remove_argv": ["berth"]}, True),
        ({"log_path": ""}, True),  # the none driver
        ({"wait_for_attach": True}, False),  # a foreground `run`: berth's monitor, quicker
        ({"wait_for_attach": True, "open_stdin": True}, False),  # `run -i`: piped, quicker
        ({"wait_for_attach": True, "open_stdin": True, "tty": True}, True),  # `run -it`
        ({"tty": True, "open_stdin": True}, True),  # `run -dit`: attach to it later
        ({"healthcheck": {"Test": ["CMD", "true"]}}, True),  # probed by the supervisor
        ({"dns_fds": [5, 6]}, True),  # served by the store's DNS supervisor
        ({"restart_policy": "always", "restart_max": 3}, True),
        ({"log_max_size": 1024}, True),  # conmon begins its log again (max-file 1)
        ({"log_max_size": 1024, "log_max_files": 3}, True),  # the supervisor rotates it
    ],
)
def test_which_containers_conmon_holds(changes: dict[str, object], expected: bool) -> None:
    assert conmon.eligible(BASE._replace(**changes)) is expected


@pytest.mark.parametrize(
    ("policy", "maximum", "code", "count", "stopped", "expected"),
    [
        ("no", 0, 1, 0, False, False),
        ("always", 0, 0, 7, False, True),
        ("unless-stopped", 0, 1, 0, False, True),
        ("always", 0, 1, 0, True, False),  # a stop or rm -f came first
        ("on-failure", 0, 0, 0, False, False),
        ("on-failure", 0, 3, 99, False, True),  # no maximum
        ("on-failure", 2, 3, 1, False, True),
        ("on-failure", 2, 3, 2, False, False),
    ],
)
def test_restart_policies_as_both_monitors_apply_them(
    tmp_path: Path,
    policy: str,
    maximum: int,
    code: int,
    count: int,
    stopped: bool,
    expected: bool,
) -> None:
    if stopped:
        (tmp_path / "stop-requested").touch()
    config = BASE._replace(run_dir=str(tmp_path), restart_policy=policy, restart_max=maximum)
    assert config.restarts(code, count) is expected
