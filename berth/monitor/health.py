"""Healthchecks, as Docker decides them: a container's Config.Healthcheck parsed
(`HealthConfig`, with Go's spelling of durations) and a pure state machine over probe results
and times (`HealthState`); `probes` runs the probes from the monitor's loop.

Docker's rules (moby daemon/health.go): the first probe runs one interval after the start, the
next one interval after the previous probe ended (the start interval while still starting
within the start period); exit code 0 is a success and makes the container healthy, anything
else a failure; failures of a container still `starting` inside its start period don't count;
`retries` consecutive failures make it unhealthy. Each result keeps at most 4096 bytes of the
probe's combined stdout and stderr; the last 5 results are kept.

Pure: no processes, threads or selectors here. Must not import the engine, container or cli
packages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STARTING = "starting"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
NANO = 1_000_000_000
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_START_PERIOD = 0.0
DEFAULT_START_INTERVAL = 5.0
DEFAULT_RETRIES = 3
MAX_OUTPUT = 4096
MAX_LOG_ENTRIES = 5
DEFAULT_SHELL = ("/bin/sh", "-c")


def _seconds(nanoseconds: Any, default: float) -> float:
    value = int(nanoseconds or 0)
    return value / NANO if value > 0 else default


@dataclass(frozen=True, slots=True)
class HealthConfig:
    argv: tuple[str, ...]
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    start_period: float = DEFAULT_START_PERIOD
    start_interval: float = DEFAULT_START_INTERVAL
    retries: int = DEFAULT_RETRIES
    timeout_text: str = "30s"  # Go's spelling of the timeout, for the timeout message

    @classmethod
    def parse(
        cls, healthcheck: Mapping[str, Any] | None, shell: Sequence[str] = ()
    ) -> HealthConfig | None:
        """A container's Config.Healthcheck; None when there is no probe to run (no
        healthcheck, an empty test, `NONE`, or a kind Docker does not know)."""
        if not healthcheck:
            return None
        test = [str(word) for word in healthcheck.get("Test") or []]
        if not test:
            return None
        if test[0] == "CMD":
            argv = tuple(test[1:])
        elif test[0] == "CMD-SHELL":
            argv = (*(tuple(shell) or DEFAULT_SHELL), *test[1:])
        else:  # NONE, or unknown
            return None
        if not argv:
            return None
        timeout_ns = int(healthcheck.get("Timeout") or 0)
        return cls(
            argv=argv,
            interval=_seconds(healthcheck.get("Interval"), DEFAULT_INTERVAL),
            timeout=_seconds(timeout_ns, DEFAULT_TIMEOUT),
            start_period=_seconds(healthcheck.get("StartPeriod"), DEFAULT_START_PERIOD),
            start_interval=_seconds(healthcheck.get("StartInterval"), DEFAULT_START_INTERVAL),
            retries=int(healthcheck.get("Retries") or 0) or DEFAULT_RETRIES,
            timeout_text=go_duration(timeout_ns if timeout_ns > 0 else int(DEFAULT_TIMEOUT * NANO)),
        )


def go_duration(nanoseconds: int) -> str:
    """Go's `time.Duration.String()`: 200ms, 1.5s, 1m30s, 2h0m0s."""
    if nanoseconds == 0:
        return "0s"
    sign, value = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)

    def decimal(whole: int, fraction: int, digits: int) -> str:
        tail = f"{fraction:0{digits}d}".rstrip("0")
        return f"{whole}.{tail}" if tail else str(whole)

    if value < NANO:
        for unit, size, digits in (("ms", 1_000_000, 6), ("µs", 1_000, 3), ("ns", 1, 0)):
            if value >= size:
                whole, fraction = divmod(value, size)
                return sign + decimal(whole, fraction, digits) + unit
    whole_seconds, fraction = divmod(value, NANO)
    hours, rest = divmod(whole_seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = decimal(seconds, fraction, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


@dataclass(frozen=True, slots=True)
class Result:
    """One probe's outcome; start and end are wall-clock seconds."""

    start: float
    end: float
    exit_code: int
    output: str


def output_text(data: bytes, truncated: bool) -> str:
    """Docker's limited buffer: the first 4096 bytes, `...` when more were dropped."""
    text = data[:MAX_OUTPUT].decode("utf-8", errors="replace")
    return text + "..." if truncated or len(data) > MAX_OUTPUT else text


@dataclass
class HealthState:
    """Status, failing streak and the last results; pure: every time is passed in."""

    config: HealthConfig
    status: str = STARTING
    failing_streak: int = 0
    log: list[Result] = field(default_factory=list)

    def restart(self) -> None:
        """A (re)started container: starting again, no failures; the log is kept."""
        self.status = STARTING
        self.failing_streak = 0

    def record(self, result: Result, since_start: float) -> bool:
        """Apply one result; `since_start` is from the container's start to the probe's start.
        Returns whether the status changed."""
        before = self.status
        self.log = [*self.log, result][-MAX_LOG_ENTRIES:]
        if result.exit_code == 0:
            self.failing_streak = 0
            self.status = HEALTHY
        elif not (self.status == STARTING and since_start < self.config.start_period):
            self.failing_streak += 1
            if self.failing_streak >= self.config.retries:
                self.status = UNHEALTHY
        return self.status != before

    def next_interval(self, since_start: float) -> float:
        """How long to wait before the next probe, `since_start` seconds after the start."""
        config = self.config
        if since_start >= config.start_period:
            return config.interval
        remaining = config.start_period - since_start
        if remaining < config.interval:
            return remaining
        return config.start_interval if self.status == STARTING else config.interval

    def document(self) -> dict[str, Any]:
        """State.Health as Docker's inspect shows it."""
        from berth.monitor.files import rfc3339_nano

        return {
            "Status": self.status,
            "FailingStreak": self.failing_streak,
            "Log": [
                {
                    "Start": rfc3339_nano(entry.start),
                    "End": rfc3339_nano(entry.end),
                    "ExitCode": entry.exit_code,
                    "Output": entry.output,
                }
                for entry in self.log
            ],
        }
