"""Phone numbers: E.164 storage, clear errors, masking."""

from __future__ import annotations

import pytest

from alerts.core.messages import is_gsm7
from alerts.core.phones import mask_phone, mask_phones_in, parse_phone
from alerts.errors import InvalidPhone


@pytest.mark.parametrize(
    "text",
    [
        "418-555-0123",
        "(418) 555-0123",
        "+1 418 555 0123",
        "1 418 555 0123",
        "4185550123",
        "+14185550123",
    ],
)
def test_usual_forms_become_e164(text: str) -> None:
    assert parse_phone(text) == "+14185550123"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("123", "not a valid"),
        ("hello", "not a phone number"),
        ("", "not a phone number"),
        ("555-0123", "not a valid"),
        ("+33 1 42 68 53 00", r"\+1 number"),
        ("1-800-555-0199", "toll-free"),
    ],
)
def test_invalid_numbers_are_clear_errors(text: str, why: str) -> None:
    with pytest.raises(InvalidPhone, match=why) as caught:
        parse_phone(text)
    assert "\n" not in str(caught.value)


def test_masking_keeps_the_last_four_digits() -> None:
    assert mask_phone("+14185550123") == "+1******0123"
    assert "555" not in mask_phone("+14185550123")


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+14185550123", "+1******0123"),
        ("+15815550199", "+1******0199"),
        ("+33612345678", "+*******5678"),
        ("4185550123", "******0123"),
        ("+1 (418) 555-0123", "+1******0123"),
        ("1234", "****"),
        ("", ""),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked
    assert is_gsm7(mask_phone(phone))


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("inbound from +14185550123: help", "inbound from +1******0123: help"),
        ("To=%2B14185550123&From=%2b15815550100", "To=%2B1******0123&From=%2b1******0100"),
        ("call 418-555-0123 or (418) 555-0124.", "call ******0123 or ******0124."),
        ("'+1 418 555 0123', 1.418.555.0125", "'+1******0123', *******0125"),
        ("GET /zones/4185550123 HTTP/1.1", "GET /zones/******0123 HTTP/1.1"),
        ("+33612345678 abroad", "+*******5678 abroad"),
        ("+1******0123 stays as it is", "+1******0123 stays as it is"),
    ],
)
def test_numbers_in_free_text_are_masked(text: str, masked: str) -> None:
    assert mask_phones_in(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "SM0000000000000000000000004185550123 and MMab4185550123cd",  # digits of a SID
        "2026-12-03T19:00:00.123-05:00, 2026-12-03 19:00:00,123",  # times
        "epoch 1733250000, 2000000000 bytes, late by 3600 s, alert 41855",  # other numbers
        "http://127.0.0.1:8000/alerts/12.cap.xml",
    ],
)
def test_text_without_phone_numbers_is_left_alone(text: str) -> None:
    assert mask_phones_in(text) == text
