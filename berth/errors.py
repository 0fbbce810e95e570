"""The error kinds of berth, the only exceptions the layers raise to each other.

Every failure a user can meet is one of these kinds, with a one-line message and an
optional hint. The CLI maps kinds to exit codes (`exit_code`) and the API maps them to HTTP
statuses (`http_status`), each in one place. Stdlib only: every package imports this module.
"""

from __future__ import annotations


class BerthError(Exception):
    """Base of every error berth reports to a user."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InvalidArgument(BerthError):
    """The request is malformed: a bad reference, flag, size or file."""


class NotFound(BerthError):
    """The named thing (image, tag, container, blob, registry repository) does not exist."""


class AlreadyExists(BerthError):
    """The name or key is already taken."""


class Conflict(BerthError):
    """The request conflicts with the current state (e.g. removing an image in use)."""


class Unauthorized(BerthError):
    """Authentication failed or credentials are missing."""


class PermissionDenied(BerthError):
    """The caller is authenticated but not allowed to do this."""


class Unavailable(BerthError):
    """A service berth depends on cannot be reached (registry down, network error)."""


class DataLoss(BerthError):
    """Data does not match what was promised: a digest mismatch, a corrupt manifest."""


class SystemFailure(BerthError):
    """The host refused an operation berth needs (a syscall, a helper program)."""


class NoSpace(SystemFailure):
    """The filesystem holding the store is full (or the user's quota is spent)."""


class ContainerFailed(BerthError):
    """A container's process could not be started; `exit_status` is Docker's code for it:
    125 the engine failed, 126 the command can't be invoked, 127 it doesn't exist."""

    def __init__(self, message: str, exit_status: int, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_status = exit_status


_HTTP_STATUSES: dict[type[BerthError], int] = {
    InvalidArgument: 400,
    NotFound: 404,
    AlreadyExists: 409,
    Conflict: 409,
    Unauthorized: 401,
    PermissionDenied: 403,
    Unavailable: 503,
    DataLoss: 500,
    SystemFailure: 500,
}


def from_os_error(error: OSError) -> BerthError:
    """What the host said, as a kind: a full disk, a read-only or forbidden path, or else a
    failure of the host (the message keeps the file's name)."""
    import errno

    where = f": {error.filename}" if error.filename else ""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return NoSpace(f"no space left on device{where}")
    if error.errno == errno.EROFS:
        return PermissionDenied(f"read-only file system{where}")
    if error.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(f"permission denied{where}")
    return SystemFailure(f"{error.strerror or error}{where}")


def exit_code(error: BerthError, *, starting_container: bool = False) -> int:
    """The CLI exit code for an error, as Docker's CLI chooses it.

    Docker exits 1 when a command fails and 125 when `run`/`create`/`start` fail before the
    container's own process could report a code (usage errors exit 125 too; argparse handles
    those in the CLI). An error that carries the container's `exit_status` (126: the command
    can't be invoked, 127: it doesn't exist) exits with it.
    """
    status = getattr(error, "exit_status", None)
    if isinstance(status, int):
        return status
    return 125 if starting_container else 1


def http_status(error: BerthError) -> int:
    """The Engine API status code for an error (moby's: a command that can't be invoked or
    found is the request's fault, 400; any other start failure is the engine's, 500)."""
    if isinstance(error, ContainerFailed):
        return 400 if error.exit_status in (126, 127) else 500
    for kind in type(error).__mro__:
        if kind in _HTTP_STATUSES:
            return _HTTP_STATUSES[kind]
    return 500
