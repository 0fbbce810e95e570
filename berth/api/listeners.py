"""Where `berth serve` listens: `-H unix:///path` and `-H tcp://HOST:PORT`, as dockerd's.

A unix socket is mode 0660, owned by root and the `berth` group when that group exists (who
may use the socket is root on this host, as with docker's). A TCP address that is not
loopback is refused unless clients must show a certificate signed by the configured CA.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from berth.errors import AlreadyExists, InvalidArgument, PermissionDenied, from_os_error

if TYPE_CHECKING:
    import ssl

SOCKET_GROUP = "berth"
BACKLOG = 128


class Address(NamedTuple):
    scheme: str  # "unix" or "tcp"
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


class TlsFiles(NamedTuple):
    """dockerd's `--tlsverify --tlscacert --tlscert --tlskey`."""

    cert: str
    key: str
    ca: str | None = None
    verify: bool = False


def parse(text: str) -> Address:
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise InvalidArgument(f"invalid address {text!r}: expected unix://PATH or tcp://HOST:PORT")
    if scheme == "unix":
        if not rest.startswith("/"):
            raise InvalidArgument(f"invalid address {text!r}: the socket's path must be absolute")
        return Address("unix", path=rest)
    if scheme == "tcp":
        host, colon, port_text = rest.rstrip("/").rpartition(":")
        host = host.strip("[]")
        if not colon or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InvalidArgument(f"invalid address {text!r}: expected tcp://HOST:PORT")
        if host in ("", "localhost"):
            host = "127.0.0.1" if host == "localhost" else "0.0.0.0"
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InvalidArgument(
                f"invalid address {text!r}: the host must be an IP address"
            ) from None
        return Address("tcp", host=host, port=int(port_text))
    raise InvalidArgument(f"invalid address {text!r}: only unix:// and tcp:// are served")


def check_exposure(address: Address, tls: TlsFiles | None) -> None:
    """A TCP port beyond loopback without client certificates would give root on this host
    to anyone who can reach it: refused, as the issue of every exposed docker port shows."""
    if address.scheme != "tcp" or ipaddress.ip_address(address.host).is_loopback:
        return
    if tls is None or not tls.verify or not tls.ca:
        raise InvalidArgument(
            f"refusing to listen on {address} without TLS client verification: anyone who "
            "can reach it would be root on this host",
            hint="give --tlsverify --tlscacert CA --tlscert CERT --tlskey KEY, or listen on "
            "127.0.0.1",
        )


def tls_context(tls: TlsFiles) -> ssl.SSLContext:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert, tls.key)
        if tls.ca:
            context.load_verify_locations(tls.ca)
    except (OSError, ssl.SSLError) as error:
        raise InvalidArgument(f"cannot load the TLS files: {error}") from None
    if tls.verify:
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def open_listener(address: Address) -> socket.socket:
    if address.scheme == "unix":
        return _unix(Path(address.path))
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address.host, address.port))
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        raise _bind_error(address, error) from None
    return sock


def _unix(path: Path) -> socket.socket:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path)
    except OSError as error:
        raise from_os_error(error) from None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o660)
        if os.geteuid() == 0:
            os.chown(path, 0, _socket_group())
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        raise _bind_error(Address("unix", path=str(path)), error) from None
    return sock


def _remove_stale(path: Path) -> None:
    """A socket file left by a server that is gone is removed; one with a server behind it,
    or a file that is not a socket, is not ours to take."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise AlreadyExists(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise AlreadyExists(f"another server is listening on {path}")


def _socket_group() -> int:
    import grp

    try:
        return grp.getgrnam(SOCKET_GROUP).gr_gid
    except KeyError:
        return 0


def _bind_error(address: Address, error: OSError) -> Exception:
    import errno

    if error.errno == errno.EADDRINUSE:
        return AlreadyExists(f"cannot listen on {address}: address already in use")
    if error.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(f"cannot listen on {address}: permission denied")
    return from_os_error(error)
