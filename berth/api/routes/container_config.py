"""The body of `POST /containers/create` as the engine's documents (not a route module).

Clients send Docker's ContainerConfigWrapper: the Config fields at the top level, then
`HostConfig` and `NetworkingConfig`. Here the JSON types are checked (Docker's decoder refuses
a string where a list belongs, with a 400); the spellings clients use for a default are
stored as dockerd stores them (`NetworkMode: "default"` is "bridge", an empty restart policy
"no", `LogConfig.Type: ""` "json-file", `PidsLimit: 0` no limit); `Binds` and
`Config.Volumes` become HostConfig.Mounts entries as the CLI's `-v` does; and fields asking
for what berth cannot do are refused rather than ignored. What the values mean (limits,
mounts, ports, names) the engine checks at create (berth.container.creating).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from berth.errors import InvalidArgument


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


class Kind(NamedTuple):
    """A JSON type as Go names it (for the message) and its test."""

    name: str
    test: Callable[[Any], bool]


STRING = Kind("string", lambda v: isinstance(v, str))
BOOL = Kind("bool", lambda v: isinstance(v, bool))
INT = Kind("int64", _integer)
STRINGS = Kind("[]string", _strings)
COMMAND = Kind("strslice.StrSlice", lambda v: isinstance(v, str) or _strings(v))
STRING_MAP = Kind("map[string]string", _string_map)
OBJECT = Kind("object", lambda v: isinstance(v, dict))
OBJECTS = Kind("[]object", _objects)
INTS = Kind("[]uint", lambda v: isinstance(v, list) and all(_integer(i) for i in v))

CONFIG_FIELDS = {
    "Hostname": STRING,
    "Domainname": STRING,
    "User": STRING,
    "AttachStdin": BOOL,
    "AttachStdout": BOOL,
    "AttachStderr": BOOL,
    "ExposedPorts": OBJECT,
    "Tty": BOOL,
    "OpenStdin": BOOL,
    "StdinOnce": BOOL,
    "Env": STRINGS,
    "Cmd": COMMAND,
    "Healthcheck": OBJECT,
    "ArgsEscaped": BOOL,
    "Image": STRING,
    "Volumes": OBJECT,
    "WorkingDir": STRING,
    "Entrypoint": COMMAND,
    "NetworkDisabled": BOOL,
    "OnBuild": STRINGS,
    "Labels": STRING_MAP,
    "StopSignal": STRING,
    "StopTimeout": INT,
    "Shell": STRINGS,
}
HOST_CONFIG_FIELDS = {
    "Binds": STRINGS,
    "ContainerIDFile": STRING,
    "LogConfig": OBJECT,
    "NetworkMode": STRING,
    "PortBindings": OBJECT,
    "RestartPolicy": OBJECT,
    "AutoRemove": BOOL,
    "VolumeDriver": STRING,
    "VolumesFrom": STRINGS,
    "ConsoleSize": INTS,
    "Annotations": STRING_MAP,
    "CapAdd": STRINGS,
    "CapDrop": STRINGS,
    "CgroupnsMode": STRING,
    "Dns": STRINGS,
    "DnsOptions": STRINGS,
    "DnsSearch": STRINGS,
    "ExtraHosts": STRINGS,
    "GroupAdd": STRINGS,
    "IpcMode": STRING,
    "Cgroup": STRING,
    "Links": STRINGS,
    "OomScoreAdj": INT,
    "PidMode": STRING,
    "Privileged": BOOL,
    "PublishAllPorts": BOOL,
    "ReadonlyRootfs": BOOL,
    "SecurityOpt": STRINGS,
    "StorageOpt": STRING_MAP,
    "Tmpfs": STRING_MAP,
    "UTSMode": STRING,
    "UsernsMode": STRING,
    "ShmSize": INT,
    "Sysctls": STRING_MAP,
    "Runtime": STRING,
    "Isolation": STRING,
    "CpuShares": INT,
    "Memory": INT,
    "NanoCpus": INT,
    "CgroupParent": STRING,
    "BlkioWeight": INT,
    "CpuPeriod": INT,
    "CpuQuota": INT,
    "CpuRealtimePeriod": INT,
    "CpuRealtimeRuntime": INT,
    "CpusetCpus": STRING,
    "CpusetMems": STRING,
    "Devices": OBJECTS,
    "DeviceCgroupRules": STRINGS,
    "DeviceRequests": OBJECTS,
    "MemoryReservation": INT,
    "MemorySwap": INT,
    "MemorySwappiness": INT,
    "OomKillDisable": BOOL,
    "PidsLimit": INT,
    "Ulimits": OBJECTS,
    "Mounts": OBJECTS,
    "MaskedPaths": STRINGS,
    "ReadonlyPaths": STRINGS,
    "Init": BOOL,
}
# Fields that change what a container is isolated from or joined to: berth cannot honour
# them (yet), and a container that silently lacks them would be a different container.
UNSUPPORTED = (
    "DeviceRequests",
    "DeviceCgroupRules",
    "CgroupParent",
    "MaskedPaths",
    "ReadonlyPaths",
)
ALLOWED_VALUES = {
    "Runtime": ("", "runc", "berth"),
    "Isolation": ("", "default"),
    "VolumeDriver": ("", "local"),
}
IPAM_FIELDS = {"IPv4Address": STRING, "IPv6Address": STRING, "LinkLocalIPs": STRINGS}
LOG_DRIVERS = ("", "json-file", "local", "none")


class CreateRequest(NamedTuple):
    config: dict[str, Any]
    host_config: dict[str, Any]
    aliases: list[str]  # on the network NetworkMode names
    address: str | None  # the IPv4 address asked for there (IPAMConfig.IPv4Address)
    other_networks: dict[str, list[str]]  # more networks to connect at create, with aliases


def checked(document: dict[str, Any], fields: dict[str, Kind], where: str) -> dict[str, Any]:
    """The known fields of `document` whose values have their JSON types (null is unset);
    unknown fields are dropped, as Go's decoder ignores them."""
    result: dict[str, Any] = {}
    for key, value in document.items():
        kind = fields.get(key)
        if kind is None:
            continue
        if value is not None and not kind.test(value):
            raise InvalidArgument(
                f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                f"{where}.{key} of type {kind.name}"
            )
        result[key] = value
    return result


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def parse(body: dict[str, Any]) -> CreateRequest:
    host = body.get("HostConfig")
    networking = body.get("NetworkingConfig")
    for key, value in (("HostConfig", host), ("NetworkingConfig", networking)):
        if value is not None and not isinstance(value, dict):
            raise InvalidArgument(
                f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                f"ContainerConfigWrapper.{key} of type object"
            )
    config = checked(body, CONFIG_FIELDS, "ContainerConfigWrapper")
    host_config = checked(host or {}, HOST_CONFIG_FIELDS, "HostConfig")
    _refuse_unsupported(host_config)
    _normalise_config(config)
    _normalise_host_config(host_config, config)
    aliases, address, others = _endpoints(networking or {}, host_config)
    return CreateRequest(config, host_config, aliases, address, others)


def _refuse_unsupported(host_config: dict[str, Any]) -> None:
    for key in UNSUPPORTED:
        if host_config.get(key):
            raise InvalidArgument(f"HostConfig.{key} is not supported by berth")
    for key, allowed in ALLOWED_VALUES.items():
        value = host_config.get(key) or ""
        if value not in allowed:
            raise InvalidArgument(f"HostConfig.{key} {value!r} is not supported by berth")


def _normalise_config(config: dict[str, Any]) -> None:
    for key in ("Cmd", "Entrypoint"):  # Docker's StrSlice: a string is a one-word command
        if isinstance(config.get(key), str):
            config[key] = [config[key]]
    for key in ("ExposedPorts", "Volumes"):
        value = config.get(key)
        if value is not None and not all(isinstance(v, dict) or v is None for v in value.values()):
            raise InvalidArgument(f"invalid {key}: each value must be an object")
        if value is not None:
            config[key] = {_port_key(k) if key == "ExposedPorts" else k: {} for k in value}


def _port_key(key: str) -> str:
    """`80` is `80/tcp`, as Docker's nat.Port reads it."""
    return key if "/" in key else f"{key}/tcp"


def _normalise_host_config(host_config: dict[str, Any], config: dict[str, Any]) -> None:
    mode = str(host_config.get("NetworkMode") or "")
    host_config["NetworkMode"] = "bridge" if mode in ("", "default") else mode
    policy = host_config.get("RestartPolicy") or {}
    name = policy.get("Name") or ""
    retries = policy.get("MaximumRetryCount") or 0
    if not isinstance(name, str) or not _integer(retries):
        raise InvalidArgument(
            "invalid restart policy: Name is a string, MaximumRetryCount a number"
        )
    host_config["RestartPolicy"] = {
        "Name": name or "no",  # as dockerd stores "no policy"
        "MaximumRetryCount": retries,
    }
    log_config = host_config.get("LogConfig") or {}
    driver = log_config.get("Type") or ""
    if driver not in LOG_DRIVERS:
        raise InvalidArgument(f"logger: no log driver named '{driver}' is registered")
    options = log_config.get("Config") or {}
    host_config["LogConfig"] = {"Type": driver or "json-file", "Config": options}
    if (host_config.get("PidsLimit") or 0) <= 0:
        host_config["PidsLimit"] = None  # Docker's: 0 and -1 are both "no limit"
    host_config["Mounts"] = _mounts(host_config, config)
    bindings = host_config.get("PortBindings") or {}
    for key, entries in bindings.items():
        if entries is not None and not _objects(entries):
            raise InvalidArgument(f"invalid PortBindings for {key}: expected a list of objects")
    if bindings:
        host_config["PortBindings"] = {_port_key(k): v for k, v in bindings.items()}
        exposed = dict(config.get("ExposedPorts") or {})
        exposed.update({key: {} for key in host_config["PortBindings"]})
        config["ExposedPorts"] = exposed
    for ulimit in host_config.get("Ulimits") or []:
        checked(ulimit, {"Name": STRING, "Soft": INT, "Hard": INT}, "Ulimit")


def _mounts(host_config: dict[str, Any], config: dict[str, Any]) -> list[dict[str, Any]]:
    """HostConfig.Mounts, then each of Binds as `-v` reads it, then an anonymous volume for
    each of Config.Volumes nothing else is mounted on."""
    from berth.container.mounts import parse_volume

    mounts = []
    for entry in host_config.get("Mounts") or []:
        fields = {
            "Type": STRING,
            "Source": STRING,
            "Target": STRING,
            "ReadOnly": BOOL,
            "Consistency": STRING,
            "BindOptions": OBJECT,
            "VolumeOptions": OBJECT,
            "TmpfsOptions": OBJECT,
        }
        mount = {k: v for k, v in checked(entry, fields, "Mount").items() if v is not None}
        mount.setdefault("Source", "")
        mount["ReadOnly"] = bool(mount.get("ReadOnly"))
        mounts.append(mount)
    for text in host_config.get("Binds") or []:
        bind = parse_volume(text)
        if bind["Type"] == "bind" and not bind["Source"].startswith("/"):
            raise InvalidArgument(  # the docker CLI makes `-v ./dir:/x` absolute; others must
                f"invalid volume specification: '{text}': the source must be an absolute path"
            )
        mounts.append(bind)
    taken = {str(m.get("Target")) for m in mounts}
    for path in config.get("Volumes") or {}:
        if path not in taken:
            mounts.append({"Type": "volume", "Source": "", "Target": path, "ReadOnly": False})
    return mounts


def _endpoints(
    networking: dict[str, Any], host_config: dict[str, Any]
) -> tuple[list[str], str | None, dict[str, list[str]]]:
    """The aliases and the address asked for on the network NetworkMode names (`default` is
    that network too), and the other networks asked for, each with its aliases. Links given
    for that network are HostConfig.Links (the docker CLI sends `--link` in both)."""
    mode = str(host_config["NetworkMode"])
    endpoints = networking.get("EndpointsConfig") or {}
    if not isinstance(endpoints, dict):
        raise InvalidArgument("invalid NetworkingConfig: EndpointsConfig must be an object")
    aliases: list[str] = []
    address: str | None = None
    others: dict[str, list[str]] = {}
    for name, settings in endpoints.items():
        if settings is not None and not isinstance(settings, dict):
            raise InvalidArgument(f"invalid EndpointsConfig for {name}: expected an object")
        fields = {"Aliases": STRINGS, "IPAMConfig": OBJECT, "Links": STRINGS}
        endpoint = checked(settings or {}, fields, "EndpointSettings")
        ipam = checked(endpoint.get("IPAMConfig") or {}, IPAM_FIELDS, "EndpointIPAMConfig")
        if ipam.get("IPv6Address") or ipam.get("LinkLocalIPs"):
            raise InvalidArgument("IPv6 and link-local addresses are not supported by berth")
        wanted = list(endpoint.get("Aliases") or [])
        if name in ("default", mode) or (mode == "bridge" and name == "bridge"):
            aliases += wanted
            address = ipam.get("IPv4Address") or None
            host_config["Links"] = host_config.get("Links") or endpoint.get("Links") or None
        elif ipam.get("IPv4Address") or endpoint.get("Links"):
            raise InvalidArgument(
                f"an address or links on {name}, a second network, are not supported by berth"
            )
        else:
            others[name] = wanted
    return aliases, address, others
