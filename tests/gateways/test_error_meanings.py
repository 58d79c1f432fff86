"""Every provider code the dispatcher classifies has a meaning for operators, in English
and French; an unknown code still reads as one."""

from __future__ import annotations

import pytest

from alerts.gateways.gateway import _KINDS, error_meaning


@pytest.mark.parametrize("code", sorted(_KINDS))
def test_every_classified_code_has_a_meaning_in_both_languages(code: str) -> None:
    english, french = error_meaning(code, "en"), error_meaning(code, "fr")
    assert english and french and english != french
    assert not english.startswith("error ") and not french.startswith("erreur ")


def test_codes_without_a_meaning() -> None:
    assert error_meaning(None) is None and error_meaning("") is None
    assert error_meaning("30005") == (
        "unknown handset: the carrier does not know the number, or the phone is off"
    )
    assert error_meaning(" 21211 ", "fr") == "numéro de téléphone invalide"
    assert error_meaning("http-503") == "HTTP 503 from the provider"
    assert error_meaning("99999", "fr") == "erreur 99999"
