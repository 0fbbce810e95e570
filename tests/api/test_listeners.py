"""Where `berth serve` listens: unix sockets, loopback TCP, and TCP beyond loopback only with
TLS client certificates (as dockerd's --tlsverify)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import stat
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fixtures.api import DOCKER, ApiServer
from tests.fixtures.netns import HostNamespace
from tests.fixtures.store import Berth

PORT = 23760  # inside the test's own network namespace: nothing else listens there


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _certificates(directory: Path, server_address: str) -> dict[str, Path]:
    """A CA, a server certificate for `server_address` and a client certificate, as files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = {"ca": directory / "ca.pem"}
    directory.mkdir(parents=True, exist_ok=True)
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for role, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, role)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if role == "server":
            addresses = [ipaddress.ip_address(server_address), ipaddress.ip_address("127.0.0.1")]
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(a) for a in addresses]),
                critical=False,
            )
        certificate = builder.sign(ca_key, hashes.SHA256())
        files[role] = directory / f"{role}-cert.pem"
        files[role].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        files[f"{role}-key"] = directory / f"{role}-key.pem"
        files[f"{role}-key"].write_bytes(_key_pem(key))
    return files


def _docker_in(prefix: list[str], api: ApiServer, *args: str) -> subprocess.CompletedProcess[str]:
    """The docker CLI run in another network namespace (where the TCP address is)."""
    env = {k: v for k, v in api.env.items() if k != "DOCKER_HOST"}
    return subprocess.run(
        [*prefix, DOCKER, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_tcp_beyond_loopback_is_refused_without_client_verification(berth: Berth) -> None:
    for extra in ([], ["--tls", "--tlscert", "/nonexistent", "--tlskey", "/nonexistent"]):
        result = berth("serve", "-H", f"tcp://0.0.0.0:{PORT}", *extra, timeout=30)
        assert result.returncode != 0
        assert "refusing to listen on tcp://0.0.0.0:23760 without TLS client verification" in (
            result.stderr
        )
        assert "Traceback" not in result.stderr
    for address, words in (
        ("tcp://127.0.0.1", "expected tcp://HOST:PORT"),
        ("udp://127.0.0.1:1", "only unix:// and tcp://"),
        ("unix://relative.sock", "must be absolute"),
        (f"tcp://example.org:{PORT}", "must be an IP address"),
    ):
        result = berth("serve", "-H", address, timeout=30)
        assert result.returncode != 0 and words in result.stderr, result.stderr


def test_unix_and_loopback_tcp_at_once(api: ApiServer, host_ns: HostNamespace) -> None:
    api.stop()
    api.start("-H", f"tcp://127.0.0.1:{PORT}")
    mode = os.stat(api.socket).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
    assert os.stat(api.socket).st_uid == 0
    over_tcp = _docker_in(host_ns.prefix, api, "-H", f"tcp://127.0.0.1:{PORT}", "version")
    assert over_tcp.returncode == 0, over_tcp.stderr
    assert api.docker("version").returncode == 0


def test_tls_with_client_certificates(
    api: ApiServer, host_ns: HostNamespace, tmp_path: Path
) -> None:
    files = _certificates(tmp_path / "tls", host_ns.address)
    api.stop()
    api.start(
        "-H", f"tcp://{host_ns.address}:{PORT}", "--tlsverify",
        "--tlscacert", str(files["ca"]), "--tlscert", str(files["server"]),
        "--tlskey", str(files["server-key"]),
    )  # fmt: skip
    address = f"tcp://{host_ns.address}:{PORT}"
    # From the other machine on the host's LAN: with a client certificate the CA signed...
    trusted = _docker_in(
        host_ns.client_prefix, api, "--tlsverify", "--tlscacert", str(files["ca"]),
        "--tlscert", str(files["client"]), "--tlskey", str(files["client-key"]),
        "-H", address, "ps",
    )  # fmt: skip
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.startswith("CONTAINER ID")
    # ... and without one: the handshake fails, and the server goes on serving.
    anonymous = _docker_in(
        host_ns.client_prefix, api, "--tls", "--tlscacert", str(files["ca"]),
        "-H", address, "ps",
    )  # fmt: skip
    assert anonymous.returncode != 0
    assert api.docker("version").returncode == 0


def test_a_second_server_on_the_same_socket_is_refused_and_a_stale_one_replaced(
    api: ApiServer, berth: Berth
) -> None:
    second = berth("serve", "-H", api.url, timeout=30)
    assert second.returncode != 0
    assert f"another server is listening on {api.socket}" in second.stderr
    assert api.docker("version").returncode == 0  # the first one is untouched
    assert api.process is not None
    api.process.kill()  # no chance to remove its socket
    api.process.wait()
    api.process = None
    assert api.socket.exists()
    api.start()  # the stale socket is taken over
    assert api.docker("version").returncode == 0
