"""A push the registry already holds, answered without the pusher: `berth push`'s quick
path (berth.cli.commands.push).

When the tag in the registry already names the manifest this store would push (the digest
the registry gives in its answer to a HEAD of the tag), the registry holds every blob that
manifest names: a registry takes a manifest only once the repository has its blobs. The
pusher would find each layer there ("Layer already exists") and put the same manifest under
the same tag again. One request does instead of the pusher's `GET /v2/`, a HEAD per blob and
the PUT; the interpreter's start and that request are the whole command, as they are for
`docker push`'s client asking its running daemon.

Only where that one request needs nothing else: a registry on this machine (plain HTTP, as
Docker speaks to one), answering without credentials; an image whose repo digest for that
repository the store has noted already (a push from here, or a pull from there), so the store
has nothing to note. Anything else is the pusher's: a registry elsewhere (TLS and its
handshake), a challenge, another digest or none, any error, a name the table of tags doesn't
hold as written, a store not in its steady state (berth.db.direct), a manifest or config
whose bytes don't match their digests.

Light: sqlite3 (which reads the manifest's and config's JSON too) and a socket; not
berth.reference, json, http.client or typing (re, email, ssl: ~10 ms of a command whose
whole budget is docker's ~30).
"""

from __future__ import annotations

from berth import __version__
from berth.hosts import is_loopback, strip_port
from berth.journal_append import append
from berth.media_types import FOREIGN_LAYER_TYPES, MANIFEST_TYPES
from berth.small_hash import sha256

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

BLOBS = "content/blobs/sha256"  # berth.layout.Layout.blob, under the root
EVENTS = "events.log"  # berth.layout.Layout.events, in the runroot
ANSWER_SECONDS = 5.0  # a registry on this machine that takes longer is the pusher's
SHORT_ID = 12  # berth.oci.short_id's
MAX_HEAD = 1 << 16  # the bytes of an answer's head read at most
_TAG_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_PATH_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-/")


class Repeated:
    __slots__ = ("digest", "idents", "repository", "size", "tag")

    def __init__(self, repository: str, tag: str, digest: str, size: int, idents: list[str]):
        self.repository = repository  # the full name, without the tag
        self.tag = tag
        self.digest = digest  # the manifest's
        self.size = size  # the manifest's bytes
        self.idents = idents  # the layers' short diff_ids, top first (as the pusher says them)


def named(name: str) -> tuple[str, str, str] | None:
    """`host[:port]/path[:tag]` of a registry on this machine, as (host, path, tag); None
    for anything else. No check of Docker's rules: a name that breaks them is in no table
    of tags, and the pusher then says what is wrong with it."""
    domain, slash, rest = name.partition("/")
    if not slash or not is_loopback(domain):
        return None
    path, _, tag = rest.partition(":")
    # Only what Docker's rules let through goes into the request line (no space, no CR/LF).
    if not (path and set(path) <= _PATH_CHARACTERS and set(tag) <= _TAG_CHARACTERS):
        return None
    return domain, path, tag or "latest"


def repeated(root: str, runroot: str, name: str) -> Repeated | None:
    """What the push of `name` would say, when the registry holds it already; None when the
    pusher must see (see the module's docstring)."""
    parts = named(name)
    if parts is None:
        return None
    domain, path, tag = parts
    asked = _Head(domain, f"/v2/{path}/manifests/{tag}")
    try:
        found = _from_store(root, runroot, f"{domain}/{path}", tag)
        if found is None or asked.digest() != found[0]:
            return None
    finally:
        asked.close()
    digest, size, idents = found
    repository = f"{domain}/{path}"
    # Docker's `push` event, as the pusher records it (berth.image.service)
    append(f"{runroot}/{EVENTS}", "image", "push", f"{repository}:{tag}", {"name": repository})
    return Repeated(repository, tag, digest, size, idents)


def _from_store(
    root: str, runroot: str, repository: str, tag: str
) -> tuple[str, int, list[str]] | None:
    """The tag's manifest digest, its size and the layers' idents (sqlite3 imported while
    the registry answers)."""
    import _sqlite3

    from berth.db import direct

    connection = direct.connect(root, runroot)
    if connection is None:
        return None
    try:
        return _stored(connection, root, repository, tag)
    except _sqlite3.Error:
        return None
    finally:
        connection.close()


def _stored(
    connection: sqlite3.Connection, root: str, repository: str, tag: str
) -> tuple[str, int, list[str]] | None:
    from berth.image import push_repeat_records

    pushed = push_repeat_records.pushed(connection, repository, tag)
    if pushed is None:
        return None
    image_id, digest = pushed
    manifest, config = _blob(root, digest), _blob(root, image_id)
    if manifest is None or config is None:
        return None
    described = push_repeat_records.layers(connection, manifest, config)
    if described is None or (described[0] and described[0] not in MANIFEST_TYPES):
        return None
    layers = described[1]
    idents = [
        diff_id.partition(":")[2][:SHORT_ID]
        for layer_type, diff_id in layers
        if layer_type not in FOREIGN_LAYER_TYPES
    ]
    return digest, len(manifest), idents


def _blob(root: str, digest: str) -> bytes | None:
    """A small blob of the content store, if its bytes match its digest."""
    algorithm, _, hex_part = digest.partition(":")
    if algorithm != "sha256" or len(hex_part) != 64 or not hex_part.isalnum():
        return None
    try:
        with open(f"{root}/{BLOBS}/{hex_part}", "rb") as stream:
            data = stream.read()
    except OSError:
        return None
    return data if sha256(data).hexdigest() == hex_part else None


class _Head:
    """A HEAD of the tag without credentials, sent at once and its answer read later: the
    registry answers while this process reads the store. HTTP/1.1 by hand over `_socket`
    (one request whose answer has no body, to a registry on this machine): http.client
    imports email and ssl, socket imports enum (~12 ms of the command)."""

    def __init__(self, domain: str, target: str) -> None:
        import _socket

        accepted = ", ".join(sorted(MANIFEST_TYPES))
        request = (
            f"HEAD {target} HTTP/1.1\r\nHost: {domain}\r\nAccept: {accepted}\r\n"
            f"User-Agent: berth/{__version__}\r\nConnection: close\r\n\r\n"
        ).encode()
        self.connection: _socket.socket | None = None
        try:
            port = 80
            if domain.rpartition("]")[2].count(":") == 1:  # host:port, [v6]:port
                port = int(domain.rpartition(":")[2])
            host = strip_port(domain).encode("ascii")  # bytes: a str would load the idna codec
            found = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
            family, kind, protocol, _, address = found[0]
            self.connection = _socket.socket(family, kind, protocol)
            self.connection.settimeout(ANSWER_SECONDS)
            self.connection.connect(address)
            self.connection.sendall(request)
        except (OSError, ValueError, IndexError, UnicodeError):
            self.close()

    def digest(self) -> str | None:
        """The digest the registry answered with; None for any other answer (a challenge,
        no such manifest, an error)."""
        if self.connection is None:
            return None
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
                data = self.connection.recv(MAX_HEAD)
                if not data:
                    break
                head += data
        except OSError:
            return None
        lines = head.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or not status[0].startswith("HTTP/1.") or status[1] != "200":
            return None
        for line in lines[1:]:
            field, _, value = line.partition(":")
            if field.strip().lower() == "docker-content-digest":
                return value.strip()
        return None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
