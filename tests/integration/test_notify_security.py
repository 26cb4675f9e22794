"""What the notifier sends, and how, on real receivers on 127.0.0.1: SMTP over STARTTLS with a
self-signed certificate is refused unless trusted (ca_file) and a password never goes out in
the clear; webhooks carry a timestamped signature a receiver can check against replays; the
sinks get no row values by default while the incident store keeps them."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from flows.alerts.incidents import Incident, Incidents, Kind, Problem, Severity
from flows.alerts.notifier import Notifier
from flows.errors import InvalidParameter
from flows.settings import PROJECT_DIR, EmailSink, NotifySettings, Secrets
from flows.state.store import StateStore
from tests.integration.receivers import Post, http_receiver, self_signed, smtp_receiver

SCHEMA = json.loads((PROJECT_DIR / "schemas" / "incident.v1.json").read_text())
KEY = "test-hmac-key"
NOW = datetime(2026, 11, 4, 1, 31, 7, tzinfo=UTC)
EMAIL = "alice@example.com"


def _incident(**changes: Any) -> Incident:
    values: dict[str, Any] = {
        "id": "5f0c2f6a9b1e4d7c8a3b2e1f0d9c8b7a",
        "kind": Kind.STEP_FAILED,
        "severity": Severity.CRITICAL,
        "status": "open",
        "partition": date(2026, 11, 3),
        "layer": "dwh",
        "what": "fct_applications",
        "first_seen": NOW,
        "last_seen": NOW,
        "count": 1,
        **changes,
    }
    return Incident(**values)


def _mail(port: int, **options: Any) -> NotifySettings:
    email = EmailSink(
        host="127.0.0.1",
        port=port,
        sender="sluice@example.com",
        recipients=("oncall@example.com",),
        **options,
    )
    return NotifySettings(email=email, attempts=1, backoff_seconds=0, timeout_seconds=5)


# ---- point 3: SMTP over verified TLS ----------------------------------------------------------


def test_starttls_to_an_untrusted_certificate_is_refused_and_a_trusted_one_delivers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tls, certificate = self_signed(tmp_path)
    secrets = Secrets(smtp_password="s3cret-pw")
    with smtp_receiver(tls=tls, logins={"sluice": "s3cret-pw"}) as (port, mailbox):
        untrusted = _mail(port, starttls=True, username="sluice")
        with caplog.at_level(logging.ERROR, logger="sluice.incidents"):
            sent = Notifier.from_settings(untrusted, secrets).notify(_incident())
        assert sent == {"email": False}
        assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
        assert mailbox.messages == [] and mailbox.logins == []

        trusted = _mail(port, starttls=True, username="sluice", ca_file=certificate)
        assert Notifier.from_settings(trusted, secrets).notify(_incident()) == {"email": True}
        assert len(mailbox.messages) == 1 and mailbox.logins == ["sluice"]
    assert "s3cret-pw" not in caplog.text


def test_a_password_is_never_sent_without_tls_unless_explicitly_allowed(tmp_path: Path) -> None:
    secrets = Secrets(smtp_password="s3cret-pw")
    with smtp_receiver(logins={"sluice": "s3cret-pw"}) as (port, mailbox):
        plain = _mail(port, username="sluice")
        with pytest.raises(InvalidParameter, match="would send SLUICE_SMTP_PASSWORD without TLS"):
            Notifier.from_settings(plain, secrets)
        assert mailbox.logins == []
        allowed = _mail(port, username="sluice", allow_plain_login=True)
        assert Notifier.from_settings(allowed, secrets).notify(_incident()) == {"email": True}
        assert mailbox.logins == ["sluice"]


# ---- point 6: a timestamped, versioned webhook signature --------------------------------------


def verify(post: Post, key: str, now: float, tolerance: int = 300) -> dict[str, Any]:
    """What a receiver does (README, Notifications): check X-Sluice-Signature-V1 and its age."""
    fields = dict(part.split("=", 1) for part in post.headers["x-sluice-signature-v1"].split(","))
    timestamp = int(fields["t"])
    signed = f"{timestamp}.".encode() + post.body
    expected = hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["v1"]):
        raise ValueError("bad signature")
    if abs(now - timestamp) > tolerance:
        raise ValueError("stale: a replay")
    return dict(json.loads(post.body))


def test_the_webhook_signs_a_timestamp_with_the_body_so_receivers_refuse_replays() -> None:
    with http_receiver() as http:
        notify = NotifySettings(webhook_url=http.url("/hook"), attempts=1, backoff_seconds=0)
        notifier = Notifier.from_settings(notify, Secrets(webhook_secret=KEY))
        assert notifier.notify(_incident()) == {"webhook": True}
        (post,) = http.at("/hook")
    sent_at = int(post.headers["x-sluice-signature-v1"].split(",")[0].removeprefix("t="))
    assert verify(post, KEY, now=sent_at + 10)["id"] == _incident().id
    with pytest.raises(ValueError, match="stale"):
        verify(post, KEY, now=sent_at + 301)  # the same request replayed five minutes later
    tampered = Post(post.path, post.headers, post.body.replace(b'"open"', b'"resolved"'), 0)
    with pytest.raises(ValueError, match="bad signature"):
        verify(tampered, KEY, now=sent_at)
    fresh = dict(post.headers)
    fresh["x-sluice-signature-v1"] = fresh["x-sluice-signature-v1"].replace(
        f"t={sent_at}", f"t={sent_at + 600}"
    )
    with pytest.raises(ValueError, match="bad signature"):  # a new timestamp on an old request
        verify(Post(post.path, fresh, post.body, 0), KEY, now=sent_at + 600)
    # existing receivers still check the body's signature in X-Sluice-Signature
    legacy = hmac.new(KEY.encode(), post.body, hashlib.sha256).hexdigest()
    assert post.headers["x-sluice-signature"] == f"sha256={legacy}"
    assert post.headers["x-sluice-event"] == "opened"


# ---- point 7: no row values in notifications by default ---------------------------------------

DB_ERROR = (
    "dwh failed for partition 2026-11-03: fct_applications: Conversion Error: Could not convert "
    f"string '{EMAIL}' to INT32 when casting from source column \"user_id\""
)
GATE_ERROR = (
    f"dwh.dim_users.email expect_column_values_to_match_regex (observed ['{EMAIL}'], 2 bad rows)"
    "; dwh.dim_users expect_table_row_count_to_be_between (observed 0, 0 bad rows)"
)


def _sent(store: StateStore, include_values: bool) -> list[Any]:
    """Open a failed step and a blocked gate; everything each sink received."""
    with http_receiver() as http, smtp_receiver() as (port, mailbox):
        notify = _mail(port).model_copy(
            update={"webhook_url": http.url("/hook"), "include_values": include_values}
        )
        secrets = Secrets(webhook_secret=KEY, slack_webhook_url=http.url("/slack"))
        incidents = Incidents(store, Notifier.from_settings(notify, secrets), clock=lambda: NOW)
        day = date(2026, 11, 3)
        incidents.open(
            Problem(Kind.STEP_FAILED, Severity.CRITICAL, day, "dwh", "fct_applications",
                    "StepFailed", DB_ERROR, "run-1")
        )  # fmt: skip
        incidents.open(
            Problem(Kind.GATE_BLOCKED, Severity.CRITICAL, day, "dwh",
                    "dwh.dim_users expect_table_row_count_to_be_between; dwh.dim_users.email "
                    "expect_column_values_to_match_regex", "GateFailed", GATE_ERROR, "run-1")
        )  # fmt: skip
        hooks = [post.json() for post in http.at("/hook")]
        for body in hooks:
            jsonschema.validate(body, SCHEMA)
        chats = [post.json()["text"] for post in http.at("/slack")]
        mails = [str(message) for message in mailbox.messages]
    return [*hooks, *chats, *mails]


def test_notifications_carry_counts_and_columns_not_row_values(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.sqlite")
    sent = _sent(store, include_values=False)
    assert len(sent) == 6  # two incidents, three sinks
    assert all(EMAIL not in json.dumps(item) for item in sent)
    failed, blocked = sent[0], sent[1]
    assert failed["error_message"] == (
        "dwh failed for partition 2026-11-03: fct_applications: Conversion Error: Could not "
        "convert string '…' to INT32 when casting from source column \"…\""
    )
    assert blocked["error_message"] == (
        "dwh.dim_users expect_table_row_count_to_be_between: 0 bad rows; dwh.dim_users.email "
        "expect_column_values_to_match_regex: 2 bad rows (failing rows in audit.gate_failures, "
        "run_id run-1)"
    )
    # the incident store keeps the detail
    stored = {i.kind: i.error_message for i in Incidents(store).history()}
    assert stored == {Kind.STEP_FAILED: DB_ERROR, Kind.GATE_BLOCKED: GATE_ERROR}


def test_include_values_sends_error_messages_whole(tmp_path: Path) -> None:
    sent = _sent(StateStore(tmp_path / "state.sqlite"), include_values=True)
    assert [item["error_message"] for item in sent[:2]] == [DB_ERROR, GATE_ERROR]
