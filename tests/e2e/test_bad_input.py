"""Bad input gets one clear line and a non-zero exit, never a traceback, and what Docker
refuses at create is refused at create (not accepted, to fail at every start after)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.store import Berth, Store


def _clean_failure(result: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert words in result.stderr, result.stderr


def test_a_bogus_log_level_is_a_usage_error(berth: Berth) -> None:
    _clean_failure(berth("--log-level", "bogus", "ps"), 125, 'invalid log level "bogus"')


def test_an_env_file_that_is_not_utf8(berth: Berth, busybox: str, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_bytes(b"GOOD=1\nBAD=\xff\xfe\n")
    result = berth("run", "--rm", "--env-file", str(env_file), busybox, "true")
    _clean_failure(result, 125, "invalid UTF-8")


@pytest.mark.parametrize("sig", ["99", "0", "BOGUS"])
def test_kill_with_a_signal_the_kernel_lacks(berth: Berth, busybox: str, sig: str) -> None:
    assert berth("run", "-d", "--name", "target", busybox, "sleep", "60").returncode == 0
    _clean_failure(berth("kill", "-s", sig, "target"), 1, f"Invalid signal: {sig}")
    assert berth("inspect", "-f", "{{.State.Running}}", "target").stdout.strip() == "true"
    assert berth("rm", "-f", "target").returncode == 0


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--stop-signal", "BOGUS"], "Invalid signal: BOGUS"),
        (["-m", "99999999999999g"], "larger than 8 EiB"),
        (["--cpus", "1000"], "Range of CPUs is from 0.01 to"),
        (["-w", "relative"], "it needs to be an absolute path"),
        (["--tmpfs", "relative"], "must be absolute"),
        (["--add-host", "bad"], 'bad format for add-host: "bad"'),
        (["--add-host", "name:not-an-address"], "bad format for add-host"),
        (["--platform", "bogus"], 'invalid platform "bogus"'),
        (["--ulimit", "nofile=4294967295:4294967295"], "above what this host allows"),
    ],
)
def test_create_refuses_what_docker_refuses(
    berth: Berth, busybox: str, flags: list[str], words: str
) -> None:
    _clean_failure(berth("create", *flags, busybox, "true"), 125, words)
    assert berth("ps", "-aq").stdout == ""  # nothing was created


def test_create_accepts_the_valid_forms(berth: Berth, busybox: str) -> None:
    created = berth(
        "create", "--stop-signal", "SIGUSR1", "-w", "/tmp", "--tmpfs", "/scratch",
        "--add-host", "db:10.0.0.5", "--add-host", "v6:fe80::1", "--cpus", "0.5",
        "--ulimit", "nofile=1024:2048", busybox, "true",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert berth("rm", created.stdout.strip()).returncode == 0


@pytest.mark.parametrize("network", ["none", "bridge"])
def test_a_runroot_with_a_space_runs_containers(
    berth: Berth, store: Store, busybox: str, network: str
) -> None:
    spaced = Berth(
        Store(store.mountpoint, store.root, store.mountpoint / "run dir"), prefix=berth.prefix
    )
    spaced.store.runroot.mkdir(exist_ok=True)
    result = spaced("run", "--rm", "--network", network, busybox, "echo", "spaced")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "spaced\n"


def _sigint_caught(pid: int) -> bool | None:
    """Whether the process catches SIGINT now (its SigCgt mask); None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    mask = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask.split()[1], 16) & (1 << (signal.SIGINT - 1)))


def _wait_for_berths_own_code(pid: int) -> bool:
    """Until berth's first code has run: the interpreter catches SIGINT while it starts (a
    Ctrl-C then is Python's own `init_import_site` failure, before any berth code exists),
    and berth.cli.start hands it back to the default action. False if that never showed."""
    seen_caught = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        caught = _sigint_caught(pid)
        if caught is None:
            return False
        if seen_caught and not caught:
            return True
        seen_caught = seen_caught or caught
    return False


def test_ctrl_c_early_ends_quietly(berth: Berth) -> None:
    """A Ctrl-C while the CLI still imports (the first tens of ms of berth's own code) ends
    it without a traceback, as SIGINT's default action."""
    for delay in (0.0, 0.005, 0.02, 0.05):
        for _ in range(5):  # the interpreter's own handler lasts a few ms: a loaded poller
            process = berth.popen("images")  # may see none of it, and then tries again
            if _wait_for_berths_own_code(process.pid):
                break
            process.communicate(timeout=30)
        else:
            raise AssertionError("berth never took SIGINT's default, in 5 tries")
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert "Traceback" not in stderr, (delay, stderr)
        assert process.returncode in (0, 130, -signal.SIGINT), (delay, process.returncode)


def test_logs_tail_reads_the_end(berth: Berth, busybox: str, store: Store) -> None:
    script = "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done; printf unterminated"
    assert berth("run", "--name", "chatty", busybox, "sh", "-c", script).returncode == 0
    assert berth("logs", "--tail", "3", "chatty").stdout == "line 2998\nline 2999\nunterminated"
    assert berth("logs", "--tail", "0", "chatty").stdout == ""
    assert berth("logs", "-n", "5000", "chatty").stdout.count("\n") == 3000
    container_id = berth("inspect", "-f", "{{.Id}}", "chatty").stdout.strip()
    log = store.root / "containers" / container_id / f"{container_id}-json.log"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[-1]["log"] == "unterminated"
    assert berth("rm", "chatty").returncode == 0
    assert not os.path.exists(log)
