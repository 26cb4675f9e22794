"""The notifier: sends an incident to every configured sink, retrying each with backoff.

Sinks: the log (always), a generic webhook (the incident as JSON, signed with HMAC-SHA256 in
`X-Sluice-Signature: sha256=<hex>`), a Slack-compatible incoming webhook and SMTP email. A sink
that keeps failing is logged and given up on: delivery never breaks the pipeline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from flows.alerts.incidents import Incident, Severity, Status
from flows.errors import InvalidParameter
from flows.settings import EmailSink, NotifySettings, Secrets

log = logging.getLogger("sluice.incidents")
SIGNATURE_HEADER = "X-Sluice-Signature"
EVENT_HEADER = "X-Sluice-Event"


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


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    if not url.startswith(("http://", "https://")):
        raise InvalidParameter(f"webhook URL {url!r} must start with http:// or https://")
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
        answer.read()  # urlopen raises HTTPError for a 4xx/5xx answer


@dataclass(frozen=True)
class WebhookSink:
    """A JSON POST of the incident with an HMAC-SHA256 signature of the body."""

    url: str
    secret: str
    timeout: float
    name: str = "webhook"

    def send(self, incident: Incident) -> None:
        body = payload(incident)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "sluice-notifier",
            SIGNATURE_HEADER: signature(self.secret, body),
            EVENT_HEADER: "resolved" if incident.status == Status.RESOLVED else "opened",
        }
        _post(self.url, body, headers, self.timeout)


def chat_text(incident: Incident) -> str:
    """The human message: title, error, count and links."""
    lines = [incident.title]
    if incident.status == Status.OPEN and incident.error_message:
        lines.append(f"{incident.error_class or 'error'}: {incident.error_message[:500]}")
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
        _post(self.url, body, {"Content-Type": "application/json"}, self.timeout)


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
        with smtplib.SMTP(self.config.host, self.config.port, timeout=self.timeout) as smtp:
            if self.config.starttls:
                smtp.starttls()
            if self.config.username and self.password:
                smtp.login(self.config.username, self.password)
            smtp.send_message(message)


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
    ) -> None:
        self.sinks = sinks
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.min_severity = Severity(min_severity)
        self.sleep = sleep

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
            sinks.append(MailSink(notify.email, secrets.smtp_password, notify.timeout_seconds))
        return cls(
            sinks,
            attempts=notify.attempts,
            backoff_seconds=notify.backoff_seconds,
            min_severity=notify.min_severity,
            sleep=sleep,
        )

    def notify(self, incident: Incident) -> dict[str, bool]:
        """Send to every sink; which sinks took it. Never raises."""
        log_incident(incident)
        if incident.severity == Severity.WARNING and self.min_severity == Severity.CRITICAL:
            return {}
        return {sink.name: self._deliver(sink, incident) for sink in self.sinks}

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
