"""The embedded resolver over real sockets on loopback: its own names answered, the rest
forwarded to fake upstream servers (UDP and TCP on one port), over UDP and TCP."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

import pytest

from berth.network import dns

UPSTREAM_ADDRESS = bytes([192, 0, 2, 99])
NAMES = {"web": ["172.18.0.2"], "many": [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(60)]}


def query(name: str, ident: int = 0x4242, qtype: int = 1) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return (
        struct.pack("!6H", ident, 0x0100, 1, 0, 0, 0)
        + labels
        + b"\0"
        + struct.pack("!HH", qtype, 1)
    )


def addresses(reply: bytes) -> list[bytes]:
    """The rdata of 4-byte answers, read from the end (our replies and the fakes' alike)."""
    count = struct.unpack_from("!H", reply, 6)[0]
    return [reply[len(reply) - 16 * i + 12 : len(reply) - 16 * i + 16] for i in range(count, 0, -1)]


def rcode(reply: bytes) -> int:
    return reply[3] & 0x0F


def _pair_on_one_port() -> tuple[socket.socket, socket.socket]:
    """UDP and TCP sockets on one free loopback port (the port UDP got may be taken for
    TCP by another test running at the same time: then try another)."""
    for _ in range(100):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(udp.getsockname())
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen()
        return udp, tcp
    raise RuntimeError("no loopback port free for both UDP and TCP")


class Upstream:
    """A fake DNS server on UDP and TCP of one loopback port: answers every query with
    192.0.2.99 (or with `rcode` and nothing), or stays silent; records what it was asked."""

    def __init__(self, rcode: int = 0, silent: bool = False) -> None:
        self.rcode, self.silent = rcode, silent
        self.seen: list[tuple[str, bytes]] = []  # (protocol, query)
        self.udp, self.tcp = _pair_on_one_port()
        self.address = self.udp.getsockname()
        for sock in (self.udp, self.tcp):
            sock.settimeout(0.05)
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._serve_udp, daemon=True),
            threading.Thread(target=self._serve_tcp, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def reply(self, protocol: str, message: bytes) -> bytes:
        self.seen.append((protocol, message))
        end = message.index(b"\0", 12) + 5
        flags = 0x8180 | self.rcode
        answers = 0 if self.rcode else 1
        header = message[:2] + struct.pack("!5H", flags, 1, answers, 0, 0)
        record = struct.pack("!HHHIH", 0xC00C, 1, 1, 30, 4) + UPSTREAM_ADDRESS
        return header + message[12:end] + (record if answers else b"")

    def _serve_udp(self) -> None:
        while not self.stop.is_set():
            try:
                message, client = self.udp.recvfrom(4096)
            except TimeoutError:
                continue
            reply = self.reply("udp", message)
            if not self.silent:
                self.udp.sendto(reply, client)

    def _serve_tcp(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                size = struct.unpack("!H", recv_exactly(conn, 2))[0]
                reply = self.reply("tcp", recv_exactly(conn, size))
                if not self.silent:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)
            assert not thread.is_alive()
        self.udp.close()
        self.tcp.close()


def recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


class Responder(NamedTuple):
    address: tuple[str, int]  # UDP
    tcp_address: tuple[str, int]
    stop: threading.Event
    thread: threading.Thread

    def ask(self, message: bytes, timeout: float = 5) -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(timeout)
            client.sendto(message, self.address)
            return client.recv(65535)

    def connect(self) -> socket.socket:
        return socket.create_connection(self.tcp_address, timeout=5)

    def ask_tcp(self, conn: socket.socket, message: bytes) -> bytes:
        conn.sendall(struct.pack("!H", len(message)) + message)
        return recv_exactly(conn, struct.unpack("!H", recv_exactly(conn, 2))[0])


Start = Callable[..., Responder]
MakeUpstream = Callable[..., Upstream]


@pytest.fixture
def upstream() -> Iterator[MakeUpstream]:
    """Make fake upstream servers, closed at teardown."""
    made: list[Upstream] = []

    def make(rcode: int = 0, silent: bool = False) -> Upstream:
        made.append(Upstream(rcode, silent))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def start(upstream: MakeUpstream) -> Iterator[Start]:
    """Start serve() on loopback sockets (forwarding to a fresh fake upstream unless told
    otherwise); at teardown, stop it, check it returned, close its sockets."""
    started: list[tuple[Responder, list[socket.socket]]] = []

    def _start(
        servers: list[tuple[str, int]] | None = None,
        lookup: dns.Lookup = lambda name: NAMES.get(name, []),
    ) -> Responder:
        servers = [upstream().address] if servers is None else servers
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(16)
        stop = threading.Event()
        thread = threading.Thread(
            target=dns.serve, args=(udp, tcp, lookup, servers, stop), daemon=True
        )
        thread.start()
        responder = Responder(udp.getsockname(), tcp.getsockname(), stop, thread)
        started.append((responder, [udp, tcp]))
        return responder

    yield _start
    for responder, sockets in started:
        responder.stop.set()
        responder.thread.join(5)
        assert not responder.thread.is_alive(), "serve() did not return"
        for sock in sockets:
            sock.close()


def test_our_names_over_udp(start: Start) -> None:
    responder = start()
    reply = responder.ask(query("WEB", ident=7))
    assert reply[:2] == b"\0\7"
    assert rcode(reply) == 0
    assert addresses(reply) == [bytes([172, 18, 0, 2])]
    aaaa = responder.ask(query("web", qtype=28))
    assert rcode(aaaa) == 0
    assert struct.unpack_from("!H", aaaa, 6)[0] == 0


def test_other_names_are_forwarded_with_the_clients_id(
    start: Start, upstream: MakeUpstream
) -> None:
    server = upstream()
    responder = start([server.address])
    reply = responder.ask(query("example.com", ident=0x0BAD))
    assert reply[:2] == b"\x0b\xad"
    assert addresses(reply) == [UPSTREAM_ADDRESS]
    [(protocol, forwarded)] = server.seen
    assert protocol == "udp"
    assert forwarded[2:] == query("example.com", ident=0x0BAD)[2:]


def test_tcp_answers_and_forwards_on_one_connection(start: Start, upstream: MakeUpstream) -> None:
    server = upstream()
    responder = start([server.address])
    with responder.connect() as conn:
        ours = responder.ask_tcp(conn, query("web", ident=1))
        theirs = responder.ask_tcp(conn, query("example.com", ident=2))
        many = responder.ask_tcp(conn, query("many", ident=3))
    assert ours[:2] == b"\0\1"
    assert addresses(ours) == [bytes([172, 18, 0, 2])]
    assert theirs[:2] == b"\0\2"
    assert addresses(theirs) == [UPSTREAM_ADDRESS]
    assert [protocol for protocol, _ in server.seen] == ["tcp"]
    assert len(addresses(many)) == 60
    assert not many[2] & 0x02  # no TC over TCP


def test_udp_replies_are_truncated_to_512_bytes(start: Start) -> None:
    reply = start().ask(query("many"))
    assert len(reply) <= 512
    assert reply[2] & 0x02
    assert 0 < len(addresses(reply)) < 60


def test_upstreams_are_tried_in_turn(
    start: Start, upstream: MakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dns, "FORWARD_TIMEOUT", 0.5)
    silent = upstream(silent=True)
    failing = upstream(rcode=2)
    good = upstream()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind(("127.0.0.1", 0))
        refused = closed.getsockname()
    responder = start([refused, silent.address, failing.address, good.address])
    began = time.monotonic()
    reply = responder.ask(query("example.com"))
    assert addresses(reply) == [UPSTREAM_ADDRESS]
    assert 0.4 < time.monotonic() - began < 2
    assert (len(silent.seen), len(failing.seen), len(good.seen)) == (1, 1, 1)


def test_servfail_when_no_upstream_answers(start: Start, upstream: MakeUpstream) -> None:
    failing = upstream(rcode=5)
    for servers in ([], [failing.address]):
        reply = start(servers).ask(query("example.com", ident=9))
        assert reply[:2] == b"\0\x09"
        assert rcode(reply) == 2
        assert struct.unpack_from("!H", reply, 4)[0] == 1  # the question echoed


def test_a_failing_lookup_gets_servfail(start: Start) -> None:
    def broken(name: str) -> list[str]:
        raise OSError("names table unreadable")

    responder = start(lookup=broken)
    assert rcode(responder.ask(query("web"))) == 2
    assert rcode(responder.ask(query("web"))) == 2  # and it still serves


def test_junk_is_dropped_and_serving_goes_on(start: Start) -> None:
    responder = start()
    for junk in (b"\1\2\3", query("web")[:2] + b"\x81\x80" + query("web")[4:]):
        with pytest.raises(TimeoutError):
            responder.ask(junk, timeout=0.3)
    formerr = responder.ask(query("web")[:14])
    assert rcode(formerr) == 1
    assert addresses(responder.ask(query("web"))) == [bytes([172, 18, 0, 2])]


def test_stop_ends_serve_with_a_client_connected(start: Start) -> None:
    responder = start()
    with responder.connect() as conn:
        assert addresses(responder.ask_tcp(conn, query("web"))) == [bytes([172, 18, 0, 2])]
        began = time.monotonic()
        responder.stop.set()
        responder.thread.join(3)
        assert not responder.thread.is_alive()
        assert time.monotonic() - began < 1
        assert conn.recv(1) == b""  # the responder closed its end


def test_serve_returns_when_its_sockets_are_closed() -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(target=dns.serve, args=(udp, None, lambda _: [], [], stop))
    thread.start()
    time.sleep(0.1)
    udp.close()
    thread.join(3)
    assert not thread.is_alive()


def test_a_slow_forward_does_not_hold_up_other_queries(
    start: Start, upstream: MakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dns, "FORWARD_TIMEOUT", 1.5)
    responder = start([upstream(silent=True).address])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waiting:
        waiting.settimeout(3)
        waiting.sendto(query("example.com", ident=5), responder.address)
        time.sleep(0.1)
        began = time.monotonic()
        assert addresses(responder.ask(query("web"))) == [bytes([172, 18, 0, 2])]
        assert time.monotonic() - began < 0.5
        failed = waiting.recv(512)
    assert failed[:2] == b"\0\5"
    assert rcode(failed) == 2
