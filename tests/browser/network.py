"""The phone's network: a forwarder between the browser and the `fieldapp demo` server.

The demo server stays plain http on loopback. In front of it the suite puts a `Network`: a
TCP forwarder on 127.0.0.1:<free port>, optionally terminating TLS with a certificate the suite
makes at run time (`TestCertificate`), so WebKit gets the secure context it insists on.
`offline()` drops every open connection at once (a reset, so a fetch fails fast, as on a lost
signal) and resets every new one until `online()`; the browser itself never knows.

The forwarder is an asyncio loop in one background thread: it carries many parallel keep-alive
connections without a thread each, and `stop()` ends them all and joins the thread.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import struct
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TestCertificate:
    """A self-signed certificate for IP 127.0.0.1 and DNS localhost, and its key (PEM files)."""

    __test__ = False  # not a pytest test class

    cert_file: Path
    key_file: Path

    @classmethod
    def make(cls, folder: Path) -> TestCertificate:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256())
        )
        cert_file, key_file = folder / "cert.pem", folder / "key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cls(cert_file, key_file)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        context.set_alpn_protocols(["http/1.1"])
        return context


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Network:
    """Forward 127.0.0.1:<port> to 127.0.0.1:<target_port>, over TLS when given a certificate."""

    def __init__(self, target_port: int, certificate: TestCertificate | None = None):
        self.target_port = target_port
        self.certificate = certificate
        self._tls = certificate.server_context() if certificate else None
        self._online = True
        self._canned: bytes | None = None  # answer every request with this, when set
        self._transports: set[asyncio.BaseTransport] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._run, name="phone-network", daemon=True)
        self.port = 0
        self.connections_made = 0

    # The test's side -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def is_online(self) -> bool:
        return self._online

    def start(self) -> Network:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    def offline(self) -> None:
        """Refuse traffic now: reset every open connection, and every new one until online()."""
        self._online = False
        asyncio.run_coroutine_threadsafe(self._drop_all(), self._loop).result(timeout=10)

    def online(self) -> None:
        self._online = True
        self._canned = None

    def answer_everything(self, status: int, content_type: str, body: str) -> None:
        """Answer every request with this instead of the server's answer: a server in trouble
        (a 503 from the proxy) or a captive portal (a Wi-Fi login page answering 200)."""
        payload = body.encode()
        head = (
            f"HTTP/1.1 {status} Canned\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        self._online = True
        self._canned = head.encode() + payload
        asyncio.run_coroutine_threadsafe(self._drop_all(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def shut() -> None:
            if self._server is not None:
                self._server.close()
            await self._drop_all()
            if self._server is not None:
                await self._server.wait_closed()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> Network:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # The loop's side -------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    async def _listen(self) -> int:
        self._server = await self._loop.create_server(
            lambda: _Gate(self), "127.0.0.1", 0, reuse_address=True, backlog=256
        )
        return self._server.sockets[0].getsockname()[1]

    async def _drop_all(self) -> None:
        for transport in list(self._transports):
            _reset(transport)
        self._transports.clear()

    async def _accept(self, transport: asyncio.Transport) -> None:
        """A new connection, its reading paused: reset it, or start TLS and link it upstream."""
        self.connections_made += 1
        if not self._online:
            _reset(transport)
            return
        canned = self._canned
        client = _Canned(self, canned) if canned is not None else _Pipe(self)
        upstream = _Pipe(self)
        self._transports.add(transport)
        try:
            if self._tls is not None:
                # TLS only now, after the online check: an offline phone gets a reset at once.
                plain = transport
                transport = await self._loop.start_tls(
                    plain, client, self._tls, server_side=True, ssl_handshake_timeout=10
                )
                if transport is None:  # the phone hung up during the handshake
                    self._transports.discard(plain)
                    return
                self._transports.add(transport)
            else:
                transport.set_protocol(client)
            client.connection_made(transport)
            if canned is not None:
                if self._tls is None:
                    transport.resume_reading()
                return
            upstream_transport, _ = await self._loop.create_connection(
                lambda: upstream, "127.0.0.1", self.target_port
            )
        except (OSError, ssl.SSLError, ConnectionError, TimeoutError):
            self._transports.discard(transport)
            _reset(transport)
            return
        if not self._online:  # went offline meanwhile
            _reset(transport)
            _reset(upstream_transport)
            return
        client.link(upstream_transport)
        upstream.link(transport)
        if self._tls is None:
            transport.resume_reading()


class _Gate(asyncio.Protocol):
    """Holds a new connection still (no byte read) until the network has decided on it."""

    def __init__(self, network: Network):
        self.network = network

    def connection_made(self, transport) -> None:
        transport.pause_reading()
        self.network._loop.create_task(self.network._accept(transport))


class _Pipe(asyncio.Protocol):
    """One side of a forwarded connection: what it receives goes to the peer transport, with
    back-pressure both ways; bytes that come before the peer is linked wait in a buffer."""

    def __init__(self, network: Network):
        self.network = network
        self.transport: asyncio.Transport | None = None
        self.peer: asyncio.Transport | None = None
        self.early: list[bytes] = []
        self.early_eof = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.network._transports.add(transport)

    def link(self, peer: asyncio.Transport) -> None:
        self.peer = peer
        for data in self.early:
            peer.write(data)
        self.early.clear()
        if self.early_eof:
            self.eof_received()

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.early.append(data)
        else:
            self.peer.write(data)

    def eof_received(self) -> bool:
        if self.peer is None:
            self.early_eof = True
            return True
        if self.peer.can_write_eof():
            self.peer.write_eof()
        else:
            self.peer.close()
        # Plain TCP: keep our side open for the answer (TLS cannot half-close).
        return self.transport is not None and self.transport.get_extra_info("sslcontext") is None

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.resume_reading()

    def connection_lost(self, exc) -> None:
        if self.transport is not None:
            self.network._transports.discard(self.transport)
        if self.peer is not None:
            if self.network.is_online:
                self.peer.close()
            else:
                _reset(self.peer)


class _Canned(asyncio.Protocol):
    """Reads one request's head and answers it with the canned bytes, then closes."""

    def __init__(self, network: Network, answer: bytes):
        self.network = network
        self.answer = answer
        self.transport: asyncio.Transport | None = None
        self.received = b""

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.network._transports.add(transport)

    def data_received(self, data: bytes) -> None:
        # Answer once the whole request is in (its head and Content-Length bytes of body):
        # closing while the phone still sends would look like a lost connection instead.
        self.received += data
        head, found, body = self.received.partition(b"\r\n\r\n")
        if not found or self.transport is None:
            return
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = int(value.strip())
        if len(body) >= length:
            self.transport.write(self.answer)
            self.transport.close()

    def connection_lost(self, exc) -> None:
        if self.transport is not None:
            self.network._transports.discard(self.transport)


def _reset(transport: asyncio.BaseTransport) -> None:
    """Close with a TCP reset (SO_LINGER 0): the peer's next read or write fails at once."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    transport.abort()
