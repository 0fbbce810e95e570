"""HostConfig.LogConfig: the log drivers berth has and their options, checked at create as
dockerd checks them, and what the monitor's json-file writer makes of them.

`json-file` (the default) keeps every record unless `max-size` is given; then the log
rotates over `max-file` files (berth.monitor.files). `local` is Docker's compact driver:
berth accepts it and its options but writes the json-file format, rotated by its defaults
(20 MiB, 5 files); `compress` is accepted and the rotated files are kept uncompressed.
`none` keeps nothing, and `logs` says so.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from berth.errors import InvalidArgument

DEFAULT_DRIVER = "json-file"
DRIVERS = ("json-file", "local", "none")
# Options every driver takes (dockerd's logger factory), then each driver's own.
COMMON_OPTIONS = ("mode", "max-buffer-size")
JSON_FILE_OPTIONS = (
    "max-size",
    "max-file",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
)
LOCAL_OPTIONS = ("max-size", "max-file", "compress")
LOCAL_MAX_SIZE = 20 * 1024 * 1024
LOCAL_MAX_FILES = 5
NO_LIMIT = -1
_HUMAN_SIZE = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_DECIMAL = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class LogSettings(NamedTuple):
    driver: str
    max_size: int  # bytes before the file rotates; NO_LIMIT: it never does
    max_files: int  # files kept, the current one included

    @property
    def readable(self) -> bool:
        return self.driver != "none"


def settle(host_config: dict[str, Any]) -> None:
    """Check LogConfig and store it as dockerd does (`{"Type": "json-file", "Config": {}}`
    when nothing was asked for)."""
    log = host_config.get("LogConfig") or {}
    driver = str(log.get("Type") or DEFAULT_DRIVER)
    options = {str(k): str(v) for k, v in (log.get("Config") or {}).items()}
    if driver not in DRIVERS:
        raise InvalidArgument(
            f'error looking up logging plugin {driver}: plugin "{driver}" not found'
        )
    host_config["LogConfig"] = {"Type": driver, "Config": options}
    settings(host_config)


def settings(host_config: dict[str, Any]) -> LogSettings:
    """What the monitor writes for this container, its options checked."""
    log = host_config.get("LogConfig") or {}
    driver = str(log.get("Type") or DEFAULT_DRIVER)
    options = {str(k): str(v) for k, v in (log.get("Config") or {}).items()}
    if driver == "none":
        return LogSettings(driver, NO_LIMIT, 1)
    _common(options)
    own = {k: v for k, v in options.items() if k not in COMMON_OPTIONS}
    if driver == "local":
        return _local(own)
    return _json_file(own)


def _common(options: dict[str, str]) -> None:
    mode = options.get("mode", "")
    if mode not in ("", "blocking", "non-blocking"):
        raise InvalidArgument(f"logger: logging mode not supported: {mode}")
    if "max-buffer-size" in options and mode != "non-blocking":
        raise InvalidArgument(
            "logger: max-buffer-size option is only supported with 'mode=non-blocking'"
        )


def _json_file(options: dict[str, str]) -> LogSettings:
    for key in options:
        if key not in JSON_FILE_OPTIONS:
            raise InvalidArgument(f"unknown log opt '{key}' for json-file log driver")
    failed = "failed to initialize logging driver: "
    max_size = NO_LIMIT
    if "max-size" in options:
        max_size = human_size(options["max-size"], failed)
        if max_size <= 0:
            raise InvalidArgument(failed + "max-size must be a positive number")
    max_files = 1
    if "max-file" in options:
        max_files = _integer(options["max-file"], failed)
        if max_files < 1:
            raise InvalidArgument(failed + "max-file cannot be less than 1")
    compress = "compress" in options and _boolean(options["compress"], failed)
    if compress and (max_files == 1 or max_size == NO_LIMIT):
        raise InvalidArgument(
            failed + "compress cannot be true when max-file is less than 2 or max-size is not set"
        )
    return LogSettings("json-file", max_size, max_files if max_size != NO_LIMIT else 1)


def _local(options: dict[str, str]) -> LogSettings:
    for key in options:
        if key not in LOCAL_OPTIONS:
            raise InvalidArgument(f"unknown log opt '{key}' for log driver local")
    max_size, max_files, compress = LOCAL_MAX_SIZE, LOCAL_MAX_FILES, True
    if "max-size" in options:
        value = options["max-size"]
        max_size = human_size(value, f"invalid value for max-size: {value}: ")
        if max_size < 0:
            raise InvalidArgument("max-size must not be negative")
    if "max-file" in options:
        value = options["max-file"]
        max_files = _integer(value, f"invalid value for max-file: {value}: ")
        if max_files < 0:
            raise InvalidArgument("max-file must not be negative")
    if "compress" in options:
        compress = _boolean(options["compress"], "invalid boolean value for compress: ")
    if compress and max_files <= 1:
        raise InvalidArgument("compression cannot be enabled when max file count is 1")
    return LogSettings("local", max_size or NO_LIMIT, max(max_files, 1))


def human_size(text: str, context: str = "") -> int:
    """go-units' FromHumanSize: decimal units (`10k` is 10000, `1.5m` 1500000)."""
    match = _HUMAN_SIZE.match(text)
    try:
        number = float(match.group(1)) if match else None
    except ValueError:  # `1.2.3`, which the pattern lets through, as go-units' does
        number = None
    if match is None or number is None:
        raise InvalidArgument(f"{context}invalid size: '{text}'")
    return int(number * _DECIMAL[(match.group(2) or "").lower()])


def _integer(text: str, context: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise InvalidArgument(f'{context}strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def _boolean(text: str, context: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidArgument(f'{context}strconv.ParseBool: parsing "{text}": invalid syntax')
