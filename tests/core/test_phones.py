"""Phone numbers: E.164 storage, clear errors, masking."""

from __future__ import annotations

import pytest

from alerts.core.messages import is_gsm7
from alerts.core.phones import mask_phone, parse_phone
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
