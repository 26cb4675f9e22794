"""What a notification may say: an incident without the row values its error message can hold.

A database error quotes the value it choked on, and a failed expectation reports what it observed
(e.g. the unexpected values). The incident store and the ledger keep that detail; the sinks
(webhook, Slack, email) get, unless `notify.include_values` is set, the failed checks with their
counts of bad rows and where the failing rows are kept, and error text with every quoted part
replaced by `…`.
"""

from __future__ import annotations

import re

from flows.alerts.incidents import Incident, Kind

AUDIT_TABLE = "audit.gate_failures"
_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"")
# Gate messages are `<suite>.<column> <expectation> (observed <value>, <n> bad rows)` joined by
# "; ", and `what` lists the `<suite>.<column> <expectation>` parts: only those and the counts go.
_BAD_ROWS = r" \(observed .*?, (\d+) bad rows\)"


def masked(text: str) -> str:
    """Text with every single- or double-quoted part replaced by '…'."""
    return _QUOTED.sub(lambda m: m.group(0)[0] + "…" + m.group(0)[0], text)


def _gate_summary(incident: Incident) -> str:
    message = incident.error_message or ""
    parts = []
    for check in incident.what.split("; "):
        found = re.search(re.escape(check) + _BAD_ROWS, message, flags=re.DOTALL)
        parts.append(f"{check}: {found.group(1)} bad rows" if found else check)
    where = f"failing rows in {AUDIT_TABLE}"
    return "; ".join(parts) + (f" ({where}, run_id {incident.run_id})" if incident.run_id else "")


def without_values(incident: Incident) -> Incident:
    """The incident as the sinks get it by default: its error message without row values."""
    if not incident.error_message:
        return incident
    if incident.kind == Kind.GATE_BLOCKED:
        message = _gate_summary(incident)
    elif incident.kind == Kind.STEP_FAILED:  # the others' messages are Sluice's own words
        message = masked(incident.error_message)
    else:
        return incident
    return incident.model_copy(update={"error_message": message})
