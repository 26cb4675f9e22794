"""The notifier: sends an incident to every configured sink, retrying each with backoff.

Sinks: the log (always), a generic webhook (the incident as JSON, signed with HMAC-SHA256: of
the timestamp and the body in `X-Sluice-Signature-V1: t=<unix seconds>,v1=<hex>`, and of the
body alone in the older `X-Sluice-Signature: sha256=<hex>`), a Slack-compatible incoming webhook
and SMTP email (the server's certificate verified; no login without TLS unless allowed). Sinks
get incidents without row values unless `notify.include_values` (flows/alerts/redaction.py). A
sink that keeps failing is logged and given up on: delivery never breaks the pipeline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from flows.alerts.incidents import Incident, Severity, Status
from flows.alerts.redaction import without_values
from flows.errors import InvalidParameter, SluiceError
from flows.settings import EmailSink, NotifySettings, Secrets

log = logging.getLogger("sluice.incidents")
SIGNATURE_HEADER = "X-Sluice-Signature"  # of the body alone: kept for existing receivers
SIGNATURE_V1_HEADER = "X-Sluice-Signature-V1"  # of "<timestamp>.<body>": refuse stale ones
EVENT_HEADER = "X-Sluice-Event"  # opened|resolved, the same as the signed body's status


class Sink(Protocol):
    @property
    def name(self) -> str: ...

    def send(self, incident: Incident) -> None: ...


def payload(incident: Incident) -> bytes:
    """The JSON body every machine sink receives (schemas/incident.v1.json)."""
    return json.dumps(incident.model_dump(mode="json"), sort_keys=True).encode()


def signature(secret: str, body: bytes) -> str:
    """The value of the signature header: sha256=<hex HMAC of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_v1(secret: str, body: bytes, timestamp: int) -> str:
    """The value of the versioned header: t=<timestamp>,v1=<hex HMAC of "<timestamp>.<body>">."""
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def _hidden(text: str, url: str) -> str:
    """Text without the secret URL or any part of its path and query."""
    parts = urllib.parse.urlsplit(url)
    pieces = [url, parts.path, parts.query, *parts.path.split("/"), *parts.query.split("&")]
    for piece in sorted((p for p in pieces if len(p) >= 4), key=len, reverse=True):
        text = text.replace(piece, "…")
    return text


def _post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, *, what: str, secret: bool
) -> None:
    """POST body; a secret URL (it holds a token) is never shown, whatever fails."""
    if not url.startswith(("http://", "https://")):
        shown = what if secret else f"{what} {url!r}"
        raise InvalidParameter(f"{shown} must start with http:// or https://")
    try:
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            answer.read()  # urlopen raises HTTPError for a 4xx/5xx answer
    except Exception as exc:
        if not secret:
            raise
        failure = f"{type(exc).__name__}: {_hidden(str(exc), url)}"
        raise SluiceError(f"{what}: {failure}") from None  # the cause would show the URL


@dataclass(frozen=True)
class WebhookSink:
    """A JSON POST of the incident with an HMAC-SHA256 signature of the body."""

    url: str
    secret: str
    timeout: float
    name: str = "webhook"
    clock: Callable[[], float] = time.time

    def send(self, incident: Incident) -> None:
        body = payload(incident)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "sluice-notifier",
            SIGNATURE_HEADER: signature(self.secret, body),
            SIGNATURE_V1_HEADER: signature_v1(self.secret, body, int(self.clock())),
            EVENT_HEADER: "resolved" if incident.status == Status.RESOLVED else "opened",
        }
        _post(self.url, body, headers, self.timeout, what="webhook URL", secret=False)


def chat_text(incident: Incident) -> str:
    """The human message: title, error, count and links."""
    lines = [incident.title]
    if incident.status == Status.OPEN and incident.error_message:
        lines.append(incident.error_line)
    lines.append(
        f"seen {incident.count}x, first {incident.first_seen:%Y-%m-%d %H:%M:%S} UTC, "
        f"incident {incident.id}"
    )
    lines += [url for url in (incident.links.flow_run, incident.links.data_docs) if url]
    return "\n".join(lines)


@dataclass(frozen=True)
class SlackSink:
    """A Slack-compatible incoming webhook: {"text": ...}."""

    url: str
    timeout: float
    name: str = "slack"

    def send(self, incident: Incident) -> None:
        body = json.dumps({"text": chat_text(incident)}).encode()
        headers = {"Content-Type": "application/json"}
        _post(self.url, body, headers, self.timeout, what="SLUICE_SLACK_WEBHOOK_URL", secret=True)


@dataclass(frozen=True)
class MailSink:
    """One email per notification: the message as text, the incident as an incident.json part."""

    config: EmailSink
    password: str | None
    timeout: float
    name: str = "email"

    def send(self, incident: Incident) -> None:
        message = EmailMessage()
        message["Subject"] = f"sluice: {incident.title}"[:200]
        message["From"] = self.config.sender
        message["To"] = ", ".join(self.config.recipients)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(idstring=incident.status.value, domain="sluice.local")
        message.set_content(chat_text(incident))
        message.add_attachment(
            payload(incident), maintype="application", subtype="json", filename="incident.json"
        )
        check_login(self.config, self.password)
        with smtplib.SMTP(self.config.host, self.config.port, timeout=self.timeout) as smtp:
            if self.config.starttls:
                smtp.starttls(context=tls_context(self.config))
            if self.config.username and self.password:
                smtp.login(self.config.username, self.password)
            smtp.send_message(message)


def tls_context(config: EmailSink) -> ssl.SSLContext:
    """Verifies the server's certificate and host name, against ca_file or the system's CAs."""
    return ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)


def check_login(config: EmailSink, password: str | None) -> None:
    """Refuse to send a password over a connection without TLS, unless explicitly allowed."""
    if config.username and password and not config.starttls and not config.allow_plain_login:
        raise InvalidParameter(
            f"notify.email: the SMTP login to {config.host}:{config.port} would send "
            "SLUICE_SMTP_PASSWORD without TLS: set starttls = true (or allow_plain_login = true "
            "for a relay you trust)"
        )


def log_incident(incident: Incident) -> None:
    """The log sink: every change of every incident, whatever the sinks' severity filter."""
    level = logging.INFO if incident.status == Status.RESOLVED else logging.WARNING
    log.log(level, "incident %s (seen %dx): %s", incident.id, incident.count, incident.title)


class Notifier:
    """Delivers incidents to the sinks; bounded retries with exponential backoff per sink."""

    def __init__(
        self,
        sinks: list[Sink],
        *,
        attempts: int = 4,
        backoff_seconds: float = 1.0,
        min_severity: str = Severity.WARNING,
        sleep: Callable[[float], None] = time.sleep,
        include_values: bool = False,
    ) -> None:
        self.sinks = sinks
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.min_severity = Severity(min_severity)
        self.sleep = sleep
        self.include_values = include_values

    @classmethod
    def from_settings(
        cls,
        notify: NotifySettings,
        secrets: Secrets | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Notifier:
        """The sinks the config names; a webhook without its secret is a configuration error."""
        secrets = secrets or Secrets()
        sinks: list[Sink] = []
        if notify.webhook_url:
            if not secrets.webhook_secret:
                raise InvalidParameter(
                    "notify.webhook_url is set but SLUICE_WEBHOOK_SECRET is not: the webhook "
                    "signs every notification with it"
                )
            sinks.append(
                WebhookSink(notify.webhook_url, secrets.webhook_secret, notify.timeout_seconds)
            )
        if secrets.slack_webhook_url:
            sinks.append(SlackSink(secrets.slack_webhook_url, notify.timeout_seconds))
        if notify.email:
            check_login(notify.email, secrets.smtp_password)
            sinks.append(MailSink(notify.email, secrets.smtp_password, notify.timeout_seconds))
        return cls(
            sinks,
            attempts=notify.attempts,
            backoff_seconds=notify.backoff_seconds,
            min_severity=notify.min_severity,
            sleep=sleep,
            include_values=notify.include_values,
        )

    def notify(self, incident: Incident) -> dict[str, bool]:
        """Send to every sink; which sinks took it. Never raises."""
        log_incident(incident)
        if incident.severity == Severity.WARNING and self.min_severity == Severity.CRITICAL:
            return {}
        sent = incident if self.include_values else without_values(incident)
        return {sink.name: self._deliver(sink, sent) for sink in self.sinks}

    def _deliver(self, sink: Sink, incident: Incident) -> bool:
        for attempt in range(1, self.attempts + 1):
            try:
                sink.send(incident)
                return True
            except Exception as exc:  # any failure of a sink is logged, never raised
                if attempt == self.attempts:
                    log.error(
                        "notification sink %s gave up on incident %s after %d tries: %s",
                        sink.name,
                        incident.id,
                        attempt,
                        exc,
                    )
                    return False
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                log.warning(
                    "notification sink %s failed (try %d of %d, next in %.1f s): %s",
                    sink.name,
                    attempt,
                    self.attempts,
                    delay,
                    exc,
                )
                self.sleep(delay)
        return False
