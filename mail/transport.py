"""Handing a composed message over: to the SMTP server when one is configured, otherwise to an
.eml file under MAIL_DIR (which any mail program opens, and which the pay page points out)."""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from mail.models import Transport


class DeliveryError(Exception):
    """The message did not go out; `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason[:500]
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Delivered:
    transport: Transport
    stored_path: str | None = None


def transport_for(config: Mapping[str, Any]) -> Transport:
    """SMTP when a host is configured, else files."""
    return Transport.SMTP if config.get("SMTP_HOST") else Transport.FILE


def deliver(message: EmailMessage, *, config: Mapping[str, Any], filename: str) -> Delivered:
    """Send the message, or write it as `filename` under MAIL_DIR; DeliveryError when neither
    worked."""
    if transport_for(config) is Transport.FILE:
        return Delivered(Transport.FILE, stored_path=str(_write_eml(message, config, filename)))
    _send_smtp(message, config)
    return Delivered(Transport.SMTP)


def _write_eml(message: EmailMessage, config: Mapping[str, Any], filename: str) -> Path:
    directory = Path(config["MAIL_DIR"])
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a message.
        fd, temporary = tempfile.mkstemp(dir=directory, suffix=".part")
        with os.fdopen(fd, "wb") as out:
            out.write(message.as_bytes())
        target = directory / filename
        os.replace(temporary, target)
    except OSError as exc:
        raise DeliveryError(f"cannot write {directory}: {exc}", permanent=False) from exc
    return target


def _tls_context(config: Mapping[str, Any]) -> ssl.SSLContext:
    # Certificates are always checked; a private relay's CA can be named instead of the system's.
    return ssl.create_default_context(cafile=config.get("SMTP_CA_FILE") or None)


def _send_smtp(message: EmailMessage, config: Mapping[str, Any]) -> None:
    host, port = str(config["SMTP_HOST"]), int(config["SMTP_PORT"])
    timeout = float(config["SMTP_TIMEOUT_S"])
    mode = config["SMTP_TLS"]
    try:
        smtp: smtplib.SMTP
        if mode == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context(config))
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if mode == "starttls":
                smtp.starttls(context=_tls_context(config))
            if config.get("SMTP_USERNAME"):
                smtp.login(str(config["SMTP_USERNAME"]), str(config["SMTP_PASSWORD"]))
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values()
        )
        raise DeliveryError(
            f"recipient refused: {detail}", permanent=all(code >= 500 for code in codes)
        ) from exc
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        # 5xx is the server's final word (a bad address, a message it will never take); 4xx,
        # and a wrong password an operator may still fix, are worth another try later.
        permanent = exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError)
        raise DeliveryError(f"SMTP {exc.smtp_code}: {text}", permanent=permanent) from exc
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise DeliveryError(
            f"{type(exc).__name__} talking to {host}:{port}: {exc}", permanent=False
        ) from exc
