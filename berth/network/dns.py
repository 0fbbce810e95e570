"""The DNS responder of user-defined networks (Docker's 127.0.0.11): the network's names
answered from a lookup, the rest forwarded. It runs in every container's monitor, so it stays
light: the wire format (RFC 1035) is written by hand; only `serve` imports socket and threading.
"""

from __future__ import annotations

import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    import threading
    from collections.abc import Callable, Sequence

    Lookup = Callable[[str], list[str]]  # a lowercased name, no trailing dot -> IPv4 addresses

A, PTR, ANY, IN = 1, 12, 255, 1
NOERROR, FORMERR, SERVFAIL, NOTIMP, REFUSED = 0, 1, 2, 4, 5
TTL = 600  # Docker's
UDP_SIZE = 512  # our replies carry no EDNS OPT record, so over UDP they keep to RFC 1035's
FORWARD_TIMEOUT = 2.0  # per upstream server
IDLE_TIMEOUT = 10.0  # a TCP client's connection, between queries
POLL = 0.2  # how often the loops look at `stop`
MAX_WORKERS = 64  # forwarded queries and TCP connections in flight at once


def __getattr__(name: str) -> object:  # `Lookup` at run time, importing collections.abc then
    if name != "Lookup":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from collections.abc import Callable

    return Callable[[str], list[str]]


def answer(
    query: bytes, lookup: Lookup, reverse: Lookup | None = None, *, limit: int = 0xFFFF
) -> bytes | None:
    """Our reply to one DNS query message, or None when the name is not ours.

    Class IN or ANY, a name `lookup` knows: type A or ANY gets its A records (TTL 600, random
    order), other types (AAAA...) NOERROR with no answers. With `reverse` (address -> names),
    the same for PTR under in-addr.arpa. Past `limit` bytes the last records go and TC is set.
    Opcodes but QUERY get NOTIMP; a malformed question or QDCOUNT != 1, FORMERR.

    None means "forward it", except for a message that is no query (shorter than a header, or
    QR set): nothing to answer, and answering replies could loop, so callers drop those.
    """
    if not _is_query(query):
        return None
    if query[2] & 0x78:
        return _reply(query, b"", NOTIMP)
    question = _question(query)
    if question is None:
        return _reply(query, b"", FORMERR)
    echoed, name, qtype, qclass = question
    if qclass not in (IN, ANY) or not name:
        return None
    if reverse is not None and name.endswith(".in-addr.arpa"):
        address = _reversed_address(name)
        found, rtype = (reverse(address) if address else []), PTR
        rdata = [_encode_name(n) for n in found]
    else:
        found, rtype = lookup(name), A
        rdata = [_ipv4(a) for a in found]
    if not found:
        return None
    records = [_record(rtype, r) for r in rdata if r] if qtype in (rtype, ANY) else []
    records.sort(key=lambda _: os.urandom(4))  # a shuffle, like Docker's
    return _reply(query, echoed, NOERROR, records, limit)


def upstream_servers(resolv_conf_text: str) -> list[tuple[str, int]]:
    """The nameservers of a resolv.conf, in order, as (address, 53): IPv4 or IPv6 (with its
    %zone if link-local)."""
    servers: list[tuple[str, int]] = []
    for line in resolv_conf_text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        server = (words[1], 53) if words[:1] == ["nameserver"] and len(words) > 1 else None
        if server and (_ipv4(server[0]) or ":" in server[0]) and server not in servers:
            servers.append(server)
    return servers


def serve(
    udp: socket.socket,
    tcp: socket.socket | None,
    lookup: Lookup,
    upstreams: Sequence[tuple[str, int]],
    stop: threading.Event,
    reverse: Lookup | None = None,
) -> None:
    """Answer queries until `stop` is set: ours from `lookup` (and `reverse`), the others
    forwarded to `upstreams` in turn, FORWARD_TIMEOUT each, the reply relayed with the client's
    id (upstreams see a fresh one); SERVFAIL when none answers but with SERVFAIL or REFUSED.
    TCP: 2-byte length-prefixed messages, several a connection, forwarded over TCP (Docker's way).

    A thread per forwarded query and TCP connection, MAX_WORKERS at most (then SERVFAIL, or the
    connection closed); sockets to upstreams are made in this thread's network namespace.
    Returns soon after `stop` (or a socket closed under it), once its threads have ended.
    """
    import select
    import socket
    import threading
    import time

    halt = threading.Event()  # set as serve returns: its threads end too
    workers: list[threading.Thread] = []

    def respond(query: bytes, limit: int) -> bytes | None:
        try:
            return answer(query, lookup, reverse, limit=limit)
        except Exception:  # a failing lookup: this client hears SERVFAIL, the others go on
            return _servfail(query)

    def read(sock: socket.socket, size: int | None, deadline: float) -> bytes | None:
        """`size` bytes of a stream, or a datagram (size None); None at EOF, past `deadline`
        or on `halt`. `sock` has a timeout of POLL; other errors propagate."""
        data = b""
        while size is None or len(data) < size:
            if halt.is_set() or time.monotonic() > deadline:
                return None
            try:
                chunk = sock.recv(0xFFFF if size is None else size - len(data))
            except TimeoutError:
                continue
            if size is None:
                return chunk
            if not chunk:
                return None
            data += chunk
        return data

    def receive(sock: socket.socket, stream: bool, deadline: float) -> bytes | None:
        if not stream:
            return read(sock, None, deadline)
        head = read(sock, 2, deadline)
        return read(sock, struct.unpack("!H", head)[0], deadline) if head else None

    def exchange(message: bytes, server: tuple[str, int], stream: bool) -> bytes | None:
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        deadline = time.monotonic() + FORWARD_TIMEOUT
        try:
            with socket.socket(family, socket.SOCK_STREAM if stream else socket.SOCK_DGRAM) as s:
                s.settimeout(FORWARD_TIMEOUT)
                s.connect(server)  # a connected UDP socket hears only that server
                s.sendall(_frame(message) if stream else message)
                s.settimeout(POLL)
                while (reply := receive(s, stream, deadline)) is not None:
                    if _is_reply_to(reply, message):
                        break
                return reply
        except OSError:  # refused, unreachable, no connection in time
            return None

    def ask(query: bytes, stream: bool) -> bytes | None:
        message = os.urandom(2) + query[2:]
        for server in upstreams:
            reply = None if halt.is_set() else exchange(message, server, stream)
            if reply is not None and reply[3] & 0x0F not in (SERVFAIL, REFUSED):
                return query[:2] + reply[2:]
        return None if halt.is_set() else _servfail(query)

    def forward(query: bytes, client: tuple[str, int]) -> None:
        reply = ask(query, stream=False)
        try:
            if reply is not None:
                udp.sendto(reply, client)
        except OSError:  # the client is gone
            return

    def converse(conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(POLL)
                while True:
                    query = receive(conn, True, time.monotonic() + IDLE_TIMEOUT)
                    if query is None or not _is_query(query):
                        return
                    reply = respond(query, 0xFFFF) or ask(query, True)
                    if reply is None:
                        return
                    conn.sendall(_frame(reply))
        except OSError:  # the client is gone
            return

    def spawn(target: Callable[..., None], *args: object) -> bool:
        workers[:] = [w for w in workers if w.is_alive()]
        if len(workers) >= MAX_WORKERS:
            return False
        workers.append(threading.Thread(target=target, args=args, daemon=True))
        workers[-1].start()
        return True

    poller = select.poll()
    for sock in filter(None, (udp, tcp)):
        sock.setblocking(False)
        poller.register(sock, select.POLLIN)
    try:
        while not stop.is_set():
            for fd, events in poller.poll(int(POLL * 1000)):
                if events & select.POLLNVAL:
                    return
                try:
                    if fd == udp.fileno():
                        query, client = udp.recvfrom(0xFFFF)
                        if not _is_query(query):
                            continue
                        reply = respond(query, UDP_SIZE)
                        if reply is None and not spawn(forward, query, client):
                            reply = _servfail(query)
                        if reply is not None:
                            udp.sendto(reply, client)
                    elif tcp is not None:
                        conn, _ = tcp.accept()
                        if not spawn(converse, conn):
                            conn.close()
                except OSError:  # a client gone, a spurious wake-up: on to the next
                    continue
    finally:
        halt.set()
        for worker in workers:
            worker.join()


def _is_query(message: bytes) -> bool:
    return len(message) >= 12 and not message[2] & 0x80


def _is_reply_to(reply: bytes, query: bytes) -> bool:
    return len(reply) >= 12 and reply[:2] == query[:2] and bool(reply[2] & 0x80)


def _frame(message: bytes) -> bytes:
    return struct.pack("!H", len(message)) + message


def _question(message: bytes) -> tuple[bytes, str, int, int] | None:
    """The one question: (its section to echo, lowercased name, qtype, qclass), or None.
    Compression pointers must point past the header and before all that was read yet, so
    they cannot loop (in a first question, no pointer can)."""
    labels: list[bytes] = []
    offset, floor, size, end = 12, 12, 1, 0
    if struct.unpack_from("!H", message, 4)[0] != 1:
        return None
    while offset < len(message) and message[offset]:
        length = message[offset]
        if length & 0xC0 == 0xC0 and offset + 1 < len(message):
            target = (length & 0x3F) << 8 | message[offset + 1]
            if not 12 <= target < floor:
                return None
            end, offset, floor = end or offset + 2, target, target
            continue
        size += length + 1
        if length & 0xC0 or size > 255 or offset + 1 + length > len(message):
            return None
        labels.append(message[offset + 1 : offset + 1 + length])
        offset += 1 + length
    end = end or offset + 1
    if offset >= len(message) or end + 4 > len(message):
        return None
    qtype, qclass = struct.unpack_from("!HH", message, end)
    echoed = b"".join(bytes([len(x)]) + x for x in labels) + b"\0" + message[end : end + 4]
    return echoed, b".".join(labels).lower().decode("latin-1"), qtype, qclass


def _servfail(query: bytes) -> bytes:
    question = _question(query)
    return _reply(query, question[0] if question else b"", SERVFAIL)


def _encode_name(name: str) -> bytes | None:
    labels = [x.encode() for x in name.rstrip(".").split(".")]
    if not all(0 < len(x) < 64 for x in labels) or sum(len(x) + 1 for x in labels) > 254:
        return None
    return b"".join(bytes([len(x)]) + x for x in labels) + b"\0"


def _ipv4(text: str) -> bytes | None:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() and int(p) < 256 for p in parts):
        return None
    return bytes(int(p) for p in parts)


def _reversed_address(name: str) -> str | None:
    """The address of a name like 4.3.2.1.in-addr.arpa (1.2.3.4), or None."""
    parts = name.split(".")[-3::-1]
    address = ".".join(parts)
    return address if _ipv4(address) and all(str(int(p)) == p for p in parts) else None


def _record(rtype: int, rdata: bytes) -> bytes:
    """A resource record of class IN for the question's name (a pointer to offset 12)."""
    return struct.pack("!HHHIH", 0xC00C, rtype, IN, TTL, len(rdata)) + rdata


def _reply(
    query: bytes, question: bytes, rcode: int, records: Sequence[bytes] = (), limit: int = 0xFFFF
) -> bytes:
    """Header (id, opcode, RD and CD of the query; QR and RA set), question, answers."""
    ident, flags = struct.unpack_from("!HH", query)
    flags = 0x8000 | (flags & 0x7910) | 0x0080 | rcode
    kept, size = list(records), 12 + len(question) + sum(map(len, records))
    while kept and size > limit:
        size -= len(kept.pop())
    if len(kept) < len(records):
        flags |= 0x0200  # TC: the client may ask again over TCP
    header = struct.pack("!HHHHHH", ident, flags, 1 if question else 0, len(kept), 0, 0)
    return header + question + b"".join(kept)
