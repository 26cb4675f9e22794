"""Real notification receivers on 127.0.0.1 for the tests: an HTTP server and an SMTP server."""

from __future__ import annotations

import email
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass(frozen=True)
class Post:
    """One HTTP POST the receiver got, and when (time.time())."""

    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    """Records every POST; answers 200 (or `status` for paths in `failing`)."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.failing: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.posts.append(
                    Post(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                         time.time())
                )  # fmt: skip
                status = receiver.failing.get(self.path, 200)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Post]:
        return [p for p in self.posts if p.path == path]


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_receiver(
    tls: ssl.SSLContext | None = None, logins: dict[str, str] | None = None
) -> Iterator[tuple[int, _Mailbox]]:
    """An SMTP server; with tls it offers STARTTLS and requires it; with logins, AUTH PLAIN/LOGIN
    (over TLS only when tls is given) and records who logged in."""
    mailbox = _Mailbox()
    port = free_port()
    options: dict[str, Any] = {}
    if tls is not None:
        options.update(tls_context=tls, require_starttls=True)
    if logins is not None:

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, auth: Any
        ) -> Any:
            ok = logins.get(auth.login.decode()) == auth.password.decode()
            if ok:
                mailbox.logins.append(auth.login.decode())
            return AuthResult(success=ok)

        options.update(authenticator=authenticate, auth_require_tls=tls is not None)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


def self_signed(folder: Path, host: str = "127.0.0.1") -> tuple[ssl.SSLContext, Path]:
    """A server TLS context with a new self-signed certificate for host, and the certificate's
    PEM file (what a client trusts as its CA file)."""
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sluice test smtp")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


def attachment(message: Message, filename: str = "incident.json") -> Any:
    """The JSON of a mail's named attachment."""
    for part in message.walk():
        if part.get_filename() == filename:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return json.loads(payload)
    raise AssertionError(f"no {filename} in the message {message['Subject']!r}")
