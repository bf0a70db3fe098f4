"""Fixtures for the mail: a real SMTP server (aiosmtpd) on loopback, whose inbox a test reads
back, and the app pointed at it."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from flask import Flask

from tests.ticketing.conftest import device, shop  # noqa: F401 - shared fixtures

USER, PASSWORD = "tickets@hoian.test", "smtp password for tests"


@dataclass
class Inbox:
    """What the SMTP server received; `refuse` makes it answer DATA with that reply."""

    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    refuse: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse
        self.envelopes.append(envelope)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        return "250 2.0.0 queued"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int

    def config(self) -> dict[str, Any]:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_TLS": "none"}


@pytest.fixture
def smtp(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback, and the app sending to it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    server = SmtpServer(inbox=inbox, port=controller.port)
    for key, value in server.config().items():
        monkeypatch.setitem(app.config, key, value)
    try:
        yield server
    finally:
        controller.stop()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made here (the client trusts it as its CA)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@pytest.fixture
def tls_smtp(
    app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[SmtpServer]:
    """An SMTP server that takes mail only from an authenticated client over TLS: STARTTLS or
    implicit TLS (the test's parameter), with a certificate the client checks."""
    mode = request.param
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    options: dict[str, Any] = {"authenticator": authenticate, "auth_required": True}
    if mode == "ssl":
        # aiosmtpd does not count implicit TLS as TLS when it decides to offer AUTH; the whole
        # connection is TLS here, so it may offer it anyway.
        options.update(ssl_context=context, auth_require_tls=False)
    else:
        options.update(tls_context=context, require_starttls=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), **options)
    controller.start()
    server = SmtpServer(inbox=inbox, port=controller.port)
    settings = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": server.port,
        "SMTP_TLS": mode,
        "SMTP_USERNAME": USER,
        "SMTP_PASSWORD": PASSWORD,
        "SMTP_CA_FILE": str(cert),
    }
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)
    try:
        yield server
    finally:
        controller.stop()


def qr_codes(message: EmailMessage, workdir: Path) -> list[str]:
    """The text of every QR image in the message, read by zbarimg (zbar-tools)."""
    codes = []
    for index, part in enumerate(message.walk()):
        if part.get_content_type() != "image/png":
            continue
        path = workdir / f"qr-{index}.png"
        path.write_bytes(part.get_payload(decode=True))
        found = subprocess.run(
            ["zbarimg", "--quiet", "--raw", str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        codes.append(found.stdout.strip())
    return codes
