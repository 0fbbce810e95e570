"""`run`/`create` flags, parsed into the Config and HostConfig documents of Docker's API, so
the CLI and the API hand the container service the same thing."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from berth.errors import InvalidArgument

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmgtp]?)b?$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
INT64_MAX = 2**63 - 1
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
PULL_POLICIES = ("missing", "always", "never")


def parse_size(text: str, what: str) -> int:
    """Docker's RAMInBytes: `512m`, `1g`, `1048576` (binary units)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise InvalidArgument(f"invalid size: '{text}' for {what}")
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size > INT64_MAX:
        raise InvalidArgument(f"invalid size: '{text}' for {what}: larger than 8 EiB")
    return size


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    add("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    add("--name", help="Assign a name to the container")
    add("-e", "--env", action="append", default=[], help="Set environment variables")
    add("--env-file", action="append", default=[], help="Read in a file of environment variables")
    add("-w", "--workdir", help="Working directory inside the container")
    add("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])")
    add("--entrypoint", help="Overwrite the default ENTRYPOINT of the image")
    add("-h", "--hostname", help="Container host name")
    add("--add-host", action="append", default=[], help="Add a custom host-to-IP mapping")
    add("-l", "--label", action="append", default=[], help="Set meta data on a container")
    add("-v", "--volume", action="append", default=[], help="Bind mount a volume")
    add("--mount", action="append", default=[], help="Attach a filesystem mount")
    add("--tmpfs", action="append", default=[], help="Mount a tmpfs directory")
    add("--read-only", action="store_true", help="Mount the container's root as read only")
    add("-m", "--memory", help="Memory limit")
    add("--memory-swap", help="Swap limit equal to memory plus swap: '-1' for unlimited")
    add("--memory-reservation", help="Memory soft limit")
    add("--cpus", help="Number of CPUs")
    add("-c", "--cpu-shares", type=int, help="CPU shares (relative weight)")
    add("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    add("--pids-limit", type=int, help="Tune container pids limit (-1 for unlimited)")
    add("--ulimit", action="append", default=[], help="Ulimit options")
    add("--cap-add", action="append", default=[], help="Add Linux capabilities")
    add("--cap-drop", action="append", default=[], help="Drop Linux capabilities")
    add("--privileged", action="store_true", help="Give extended privileges to this container")
    add("--security-opt", action="append", default=[], help="Security Options")
    add("--restart", default="no", help="Restart policy to apply when a container exits")
    add("--rm", action="store_true", help="Automatically remove the container when it exits")
    add("--stop-signal", help="Signal to stop the container")
    add("--stop-timeout", type=int, help="Timeout (in seconds) to stop a container")
    add("--init", action="store_true", help="Run an init inside the container")
    add(
        "--pull", default="missing", help='Pull image before running ("always", "missing", "never")'
    )
    add("--platform", help="Set platform if server is multi-platform capable")
    add("--network", "--net", default="default", help="Connect a container to a network")
    add("-p", "--publish", action="append", default=[], help="Publish a container's port(s)")
    add("-P", "--publish-all", action="store_true", help="Publish all exposed ports")
    add("--expose", action="append", default=[], help="Expose a port or a range of ports")
    add(
        "--network-alias",
        "--alias",
        action="append",
        default=[],
        help="Add network-scoped alias for the container",
    )
    add("--health-cmd", help="Command to run to check health")
    add("--health-interval", help="Time between running the check")
    add("--health-timeout", help="Maximum time to allow one check to run")
    add("--health-retries", type=int, help="Consecutive failures needed to report unhealthy")
    add("--health-start-period", help="Start period for the container to initialize")
    add("--health-start-interval", help="Time between running the check during the start period")
    add("--no-healthcheck", action="store_true", help="Disable any container-specified HEALTHCHECK")
    from berth.cli import run_extra_options, run_isolation

    run_extra_options.add_flags(parser)
    run_isolation.add_flags(parser)
    add("image", metavar="IMAGE")
    add("command", nargs=argparse.REMAINDER, metavar="[COMMAND] [ARG...]")


def environment(args: argparse.Namespace) -> list[str]:
    """`--env-file` lines, then `-e` entries (`-e NAME` takes the caller's value): what
    `run`, `create` and `exec` send as Env."""
    import os

    entries: list[str] = []
    for path in args.env_file:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise InvalidArgument(f"open {path}: {error.strerror}") from None
        except UnicodeDecodeError as error:
            raise InvalidArgument(
                f"{path}: invalid UTF-8 at byte {error.start}: an env file is text"
            ) from None
        for raw in lines:  # as docker/cli: leading blanks go, the value is kept as written
            line = raw.lstrip()
            if not line or line.startswith("#"):
                continue
            name = line.partition("=")[0]
            if any(c.isspace() for c in name):
                raise InvalidArgument(f"variable '{name}' contains whitespaces")
            entries.append(line)
    entries += args.env
    resolved = []
    for item in entries:
        key, eq, _ = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid environment variable: {item}")
        if not eq:  # `-e NAME` passes the caller's value, or nothing if unset
            if key in os.environ:
                resolved.append(f"{key}={os.environ[key]}")
            continue
        resolved.append(item)
    return resolved


def _labels(items: list[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid label: {item}")
        labels[key] = value
    return labels


def _restart(text: str) -> dict[str, Any]:
    name, _, count = text.partition(":")
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy: {text}")
    if count and (name != "on-failure" or not count.isdigit()):
        raise InvalidArgument(f"invalid restart policy format: {text}")
    return {"Name": "" if name == "no" else name, "MaximumRetryCount": int(count or 0)}


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def _duration_ns(text: str | None) -> int:
    """A Go duration (`300ms`, `1m30s`, `-2s`) in nanoseconds."""
    if not text:
        return 0
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    if body == "0":
        return 0
    parts = _DURATION_PART.findall(body)
    if not parts or "".join(number + unit for number, unit in parts) != body:
        raise InvalidArgument(f'invalid duration "{text}"')
    return sign * int(sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts))


def _healthcheck(args: argparse.Namespace) -> dict[str, Any] | None:
    """Docker's CLI: any --health-* option makes a Healthcheck (an empty Test keeps the
    image's); --no-healthcheck is Test ["NONE"]."""
    durations = {
        "Interval": _duration_ns(args.health_interval),
        "Timeout": _duration_ns(args.health_timeout),
        "StartPeriod": _duration_ns(args.health_start_period),
        "StartInterval": _duration_ns(args.health_start_interval),
    }
    retries = args.health_retries or 0
    wanted = bool(args.health_cmd) or retries != 0 or any(durations.values())
    if args.no_healthcheck:
        if wanted:
            raise InvalidArgument("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not wanted:
        return None
    flags = {
        "Interval": "interval",
        "Timeout": "timeout",
        "StartPeriod": "start-period",
        "StartInterval": "start-interval",
    }
    for key, value in durations.items():
        if value < 0:
            raise InvalidArgument(f"--health-{flags[key]} cannot be negative")
        if 0 < value < 1_000_000:
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
    if retries < 0:
        raise InvalidArgument("--health-retries cannot be negative")
    return {
        "Test": ["CMD-SHELL", args.health_cmd] if args.health_cmd else [],
        **durations,
        "Retries": retries,
    }


def _security_option(option: str) -> str:
    """A checked --security-opt; `seccomp=FILE` becomes `seccomp=<the file's JSON>`, read
    now, relative to the caller's directory, as the docker CLI sends it to the daemon."""
    key = re.split("[=:]", option, maxsplit=1)[0]
    value = option[len(key) + 1 :]
    if key not in ("no-new-privileges", "seccomp", "apparmor", "label"):
        raise InvalidArgument(f"Invalid --security-opt: {option!r}")
    if key != "seccomp" or value in ("unconfined", "builtin"):
        return option
    try:
        text = Path(value).read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InvalidArgument(f"opening seccomp profile ({value}) failed: {reason}") from None
    try:
        profile = json.loads(text)
    except ValueError as error:
        raise InvalidArgument(f"decoding seccomp profile ({value}) failed: {error}") from None
    return "seccomp=" + json.dumps(profile, separators=(",", ":"))


def build_documents(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Config and HostConfig from the parsed flags, validated as Docker validates them."""
    from berth.container.mounts import parse_mount, parse_volume
    from berth.container.spec import capability_name, parse_ulimit
    from berth.network.ports import parse_publish

    network = args.network
    if not network:
        raise InvalidArgument("--network needs a network name")
    bindings: dict[str, list[dict[str, str]]] = {}
    exposed: dict[str, dict[str, Any]] = {}
    for spec in args.publish:
        for key, host_ip, host_port in parse_publish(spec):
            bindings.setdefault(key, []).append({"HostIp": host_ip, "HostPort": host_port})
            exposed[key] = {}
    for spec in args.expose:
        for key, _, _ in parse_publish(spec):
            exposed[key] = {}
    if (bindings or args.publish_all) and (network == "none" or network.startswith("container:")):
        raise InvalidArgument(
            "conflicting options: port publishing and the container type network mode"
        )
    if network == "host":
        bindings = {}  # Docker: "Published ports are discarded when using host network mode"
    if args.pull not in PULL_POLICIES:
        raise InvalidArgument(
            f'invalid pull option: "{args.pull}": must be one of "always", "missing" or "never"'
        )
    if args.rm and args.restart not in ("no", ""):
        raise InvalidArgument("Conflicting options: --restart and --rm")
    if args.platform:
        from berth.oci import parse_platform

        parse_platform(args.platform)
    if args.hostname and network.startswith("container:"):
        raise InvalidArgument("Conflicting options: hostname and the network mode")
    for name in [*args.cap_add, *args.cap_drop]:
        capability_name(name)
    ulimits = []
    for text in args.ulimit:
        limit = parse_ulimit(text)
        ulimits.append(
            {"Name": text.partition("=")[0], "Soft": limit["soft"], "Hard": limit["hard"]}
        )
    security = [_security_option(option) for option in args.security_opt]
    config: dict[str, Any] = {
        "Hostname": args.hostname or "",
        "User": args.user or "",
        "AttachStdin": args.interactive,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": args.tty,
        "OpenStdin": args.interactive,
        "StdinOnce": args.interactive,
        "Env": environment(args),
        "Cmd": args.command or None,
        "Image": args.image,
        "WorkingDir": args.workdir or "",
        # One word, as Docker's: `--entrypoint "sh -c"` names a program called "sh -c".
        "Entrypoint": ([] if args.entrypoint == "" else [args.entrypoint])
        if args.entrypoint is not None
        else None,
        "Labels": _labels(args.label),
        "ExposedPorts": exposed or None,
    }
    if args.stop_signal:
        config["StopSignal"] = args.stop_signal
    if args.stop_timeout is not None:
        config["StopTimeout"] = args.stop_timeout
    health = _healthcheck(args)
    if health is not None:
        config["Healthcheck"] = health
    memory = parse_size(args.memory, "--memory") if args.memory else 0
    swap = 0
    if args.memory_swap:
        swap = -1 if args.memory_swap == "-1" else parse_size(args.memory_swap, "--memory-swap")
    nano_cpus = 0
    if args.cpus:
        try:
            nano_cpus = int(float(args.cpus) * 1e9)
        except ValueError:
            raise InvalidArgument(f'invalid argument "{args.cpus}" for "--cpus"') from None
        if nano_cpus <= 0:
            raise InvalidArgument("Range of CPUs is from 0.01 to the number of CPUs")
    mounts = [parse_volume(v) for v in args.volume] + [parse_mount(m) for m in args.mount]
    tmpfs = {}
    for item in args.tmpfs:
        target, _, options = item.partition(":")
        tmpfs[target] = options
    host_config: dict[str, Any] = {
        "NetworkMode": network,
        "PortBindings": bindings or None,
        "PublishAllPorts": args.publish_all,
        "RestartPolicy": _restart(args.restart),
        "AutoRemove": args.rm,
        "Mounts": mounts,
        "Tmpfs": tmpfs,
        "CapAdd": args.cap_add or None,
        "CapDrop": args.cap_drop or None,
        "Privileged": args.privileged,
        "Init": args.init or None,
        "ReadonlyRootfs": args.read_only,
        "SecurityOpt": security or None,
        "ExtraHosts": args.add_host or None,
        "Memory": memory,
        "MemorySwap": swap,
        "MemoryReservation": parse_size(args.memory_reservation, "--memory-reservation")
        if args.memory_reservation
        else 0,
        "NanoCpus": nano_cpus,
        "CpuShares": args.cpu_shares or 0,
        "CpusetCpus": args.cpuset_cpus or "",
        "PidsLimit": args.pids_limit,
        "Ulimits": ulimits or None,
    }
    from berth.cli import run_extra_options, run_isolation

    run_extra_options.apply(args, config, host_config)
    run_isolation.apply(args, host_config)
    return config, host_config
