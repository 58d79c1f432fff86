"""Phone numbers: parsed with phonenumbers, stored as E.164, masked in logs."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from alerts.errors import InvalidPhone

# Numbers of these kinds cannot take a resident's text messages.
_NOT_FOR_SMS = {
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.UAN,
    PhoneNumberType.PAGER,
    PhoneNumberType.VOICEMAIL,
}


def parse_phone(text: str, region: str = "CA") -> str:
    """The E.164 form of a phone number written any usual way, or InvalidPhone."""
    e164, problem = _parse(str(text), region)
    if problem is not None:
        raise InvalidPhone(problem)
    assert e164 is not None
    return e164


@lru_cache(maxsize=65536)
def _parse(text: str, region: str) -> tuple[str | None, str | None]:
    # Cached: the webhook sees the same numbers again and again, and parsing costs ~80 µs.
    shown = " ".join(text.split())[:40]
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None, f"not a phone number: {shown!r}; expected {expected_form(region)}"
    home_code = phonenumbers.country_code_for_region(region)
    # The home region's check is the cheap one; other regions of the same code (the NANP
    # shares +1 between two dozen countries) need the full search.
    if not (
        phonenumbers.is_valid_number_for_region(number, region)
        or phonenumbers.is_valid_number(number)
    ):
        return None, f"not a valid phone number: {shown!r}; expected {expected_form(region)}"
    if number.country_code != home_code:
        return None, (
            f"{shown!r} is not a +{home_code} number this service can text; "
            f"expected {expected_form(region)}"
        )
    if phonenumbers.number_type(number) in _NOT_FOR_SMS:
        return None, f"{shown!r} cannot receive text messages (toll-free or special number)"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


@lru_cache(maxsize=8)
def expected_form(region: str = "CA") -> str:
    """How a phone number of the service's region is written, for error messages."""
    if phonenumbers.country_code_for_region(region) == 1:
        return "a North American number such as +1 418 555 0123 or 418-555-0123"
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if example is None:
        return f"a number of {region} in international form (+...)"
    whole = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    local = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    return f"a number of {region} such as {whole} or {local}"


def mask_phone(e164: str) -> str:
    """Hide all but the last four digits of a phone number for logs (+1******0123)."""
    digits = [ch for ch in e164 if ch in "0123456789"]
    plus = "+" if e164.strip().startswith("+") else ""
    if len(digits) <= 4:
        return plus + "*" * len(digits)
    # The North American country code 1 identifies no one and tells a reader the number's region.
    head = 1 if plus and len(digits) == 11 and digits[0] == "1" else 0
    hidden = len(digits) - 4 - head
    return plus + "".join(digits[:head]) + "*" * hidden + "".join(digits[-4:])


# What a phone number looks like in free text: E.164 (`+14185550123`, or `%2B...` in a URL),
# and the North American forms people and libraries write (`418-555-0123`, `(418) 555-0123`,
# `+1 418 555 0123`, `4185550123`), with area and exchange codes starting 2-9 so that dates,
# epoch seconds and byte counts are left alone. Digits inside a word (a SID's hex) are not.
_NANP = r"(?:1[ .-]?)?\(?[2-9]\d{2}\)?[ .-]?[2-9]\d{2}[ .-]?\d{4}"
_PHONE_IN_TEXT = re.compile(
    rf"(?<![\w.])(?P<plus>\+|%2[Bb])?(?P<number>{_NANP}|(?<=[+Bb])[1-9]\d{{7,14}})(?![0-9A-Za-z])"
)


def mask_phones_in(text: str) -> str:
    """`text` with everything that looks like a phone number masked as `mask_phone` does."""
    if not any(char.isdigit() for char in text):
        return text
    return _PHONE_IN_TEXT.sub(_masked_match, text)


def _masked_match(match: re.Match[str]) -> str:
    plus = match["plus"] or ""
    masked = mask_phone(("+" if plus else "") + match["number"])
    return plus + masked.removeprefix("+")
