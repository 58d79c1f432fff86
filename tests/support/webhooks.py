"""Twilio webhook requests as Twilio sends them: signed for the service's public URL."""

from __future__ import annotations

import itertools

from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token-0123456789abcdef"  # the service's twilio.auth_token in these tests
PUBLIC = "https://alerts.example.org"  # its service.public_url, which Twilio signs
_sids = itertools.count(1)


def signed(path: str, fields: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    """The X-Twilio-Signature header of a POST of `fields` to PUBLIC + path."""
    signature = RequestValidator(token).compute_signature(f"{PUBLIC}{path}", fields)
    return {"X-Twilio-Signature": signature}


def inbound_fields(
    body: str, sender: str = "+14185550123", sid: str | None = None
) -> dict[str, str]:
    """The form of an inbound SMS, with a new MessageSid unless one is given."""
    return {
        "MessageSid": sid or f"SM{next(_sids):032x}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+14185550100",
        "Body": body,
        "NumMedia": "0",
    }
