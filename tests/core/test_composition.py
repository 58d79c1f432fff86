"""Alert texts: default templates, values spelled out per language, limits and the estimate."""

from __future__ import annotations

import pytest

from alerts.config import Settings
from alerts.core.composition import (
    DEFAULT_TEMPLATES,
    AlertTextTooLong,
    MessageSpec,
    Templates,
    UnknownTemplate,
    compose_alert,
    estimate,
    format_value,
    join_names,
    parse_variables,
)
from alerts.core.messages import MissingVariable, is_gsm7
from alerts.errors import ConfigError, InvalidInput, UsageError

COMMON = {
    "fr": {"service": "Alertes de quartier", "zone": "Haute-Ville—Colline-du-Fort"},
    "en": {"service": "Neighbourhood Alerts", "zone": "Haute-Ville—Colline-du-Fort"},
}
SNOW = {"start": "2026-12-01T19:00", "hours": "19:00-07:00"}


def test_default_templates_stay_within_gsm7_and_exist_in_both_languages() -> None:
    assert set(DEFAULT_TEMPLATES["fr"]) == set(DEFAULT_TEMPLATES["en"])
    for lang, templates in DEFAULT_TEMPLATES.items():
        for name, text in templates.items():
            assert is_gsm7(text), (lang, name)


def test_snow_template_reads_naturally_in_both_languages() -> None:
    texts = compose_alert(MessageSpec(template="snow", variables=SNOW), Templates(), common=COMMON)
    assert texts.fr.text == (
        "Alertes de quartier, Haute-Ville-Colline-du-Fort: opération de déneigement dès mardi "
        "1er décembre à 19 h. Stationnement interdit dans la rue de 19 h à 7 h, sous peine de "
        "remorquage. ARRET pour vous désabonner."
    )
    assert texts.en.text == (
        "Neighbourhood Alerts, Haute-Ville-Colline-du-Fort: snow removal starting Tuesday, "
        "December 1 at 7 p.m. No parking on the street from 7 p.m. to 7 a.m.; vehicles will be "
        "towed. STOP to unsubscribe."
    )
    assert (texts.fr.encoding, texts.en.encoding) == ("GSM-7", "GSM-7")
    assert (texts.fr.segments, texts.en.segments) == (2, 2)


def test_every_default_template_fits_the_default_limit_with_long_values() -> None:
    values = {**SNOW, "place": "boulevard du Fort", "date": "2026-08-13", "text": "x" * 60}
    for name in Templates().names():
        spec = MessageSpec(template=name, variables=values)
        texts = compose_alert(spec, Templates(), common=COMMON, max_segments=2)
        assert texts.fr.encoding == texts.en.encoding == "GSM-7", name


@pytest.mark.parametrize(
    ("value", "fr", "en"),
    [
        ("19:00", "19 h", "7 p.m."),
        ("07:30", "7 h 30", "7:30 a.m."),
        ("00:00", "minuit", "midnight"),
        ("12:00", "midi", "noon"),
        ("2026-12-03", "jeudi 3 décembre", "Thursday, December 3"),
        ("2026-08-01", "samedi 1er aout", "Saturday, August 1"),
        ("2026-12-03 19:00", "jeudi 3 décembre à 19 h", "Thursday, December 3 at 7 p.m."),
        ("19:00-07:00", "de 19 h à 7 h", "from 7 p.m. to 7 a.m."),
        ("ce soir", "ce soir", "ce soir"),
    ],
)
def test_dates_and_times_are_spelled_out_per_language(value: str, fr: str, en: str) -> None:
    assert format_value(value, "fr") == fr
    assert format_value(value, "en") == en


def test_impossible_dates_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not a valid one"):
        format_value("2026-02-30", "fr")
    with pytest.raises(InvalidInput):
        format_value("25:00", "en")


def test_language_specific_values_win() -> None:
    spec = MessageSpec(
        template="radar",
        variables=parse_variables(["place=rue Principale", "date=demain", "date.en=tomorrow"]),
    )
    texts = compose_alert(spec, Templates(), common=COMMON)
    assert "prévue demain." in texts.fr.text
    assert "planned for tomorrow." in texts.en.text


def test_bad_variables_and_missing_ones_are_refused() -> None:
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_variables(["start"])
    with pytest.raises(UsageError):
        parse_variables(["start.de=x"])
    with pytest.raises(MissingVariable, match="hours, start"):
        compose_alert(MessageSpec(template="snow"), Templates(), common=COMMON)
    with pytest.raises(UnknownTemplate, match="known: cancelled, info, radar"):
        compose_alert(MessageSpec(template="flood"), Templates(), common=COMMON)


def test_message_forms_are_exclusive_and_complete() -> None:
    with pytest.raises(UsageError, match="exactly one message"):
        compose_alert(MessageSpec(text="a", template="info"), Templates(), common={})
    with pytest.raises(UsageError, match="go together"):
        compose_alert(MessageSpec(text_fr="bonjour"), Templates(), common={})
    texts = compose_alert(MessageSpec(text_fr="Bonjour", text_en="Hello"), Templates(), common={})
    assert (texts.fr.text, texts.en.text) == ("Bonjour", "Hello")


def test_too_long_texts_name_the_language_and_count() -> None:
    spec = MessageSpec(text_fr="é" * 100, text_en="ê" * 200)
    with pytest.raises(AlertTextTooLong, match=r"English text: message is 3 SMS segments \(UCS-2"):
        compose_alert(spec, Templates(), common={}, max_segments=2)


def test_gsm_only_replaces_accents_and_reports_them() -> None:
    spec = MessageSpec(text="Fête à l’île: fermé")
    plain = compose_alert(spec, Templates(), common={})
    assert plain.fr.encoding == "UCS-2"
    forced = compose_alert(spec, Templates(), common={}, gsm_only=True)
    assert forced.fr.text == "Fete à l'ile: fermé"
    assert forced.fr.encoding == "GSM-7"
    assert forced.changed == {"ê": "e", "î": "i"}


def test_configured_templates_override_add_and_force_gsm() -> None:
    templates = Templates(
        {"fr": {"gel": "Gel prévu à {zone}, côté {side}."}, "en": {"gel": "Frost in {zone}."}},
        gsm_only=["gel"],
    )
    texts = compose_alert(
        MessageSpec(template="gel", variables={"side": "nord"}), templates, common=COMMON
    )
    assert texts.fr.text == "Gel prévu à Haute-Ville-Colline-du-Fort, coté nord."
    assert "gel" in templates.names()


def test_config_refuses_half_defined_or_malformed_templates() -> None:
    with pytest.raises(ConfigError, match=r"needs a text in \[templates.en\]"):
        Settings().with_overrides(**{"templates.fr": {"gel": "Gel."}})
    with pytest.raises(ConfigError, match="plain name"):
        Settings().with_overrides(**{"templates.fr": {"snow": "{a.b}"}})
    ok = Settings().with_overrides(**{"templates.en": {"snow": "Snow in {zone}."}})
    assert ok.templates.en["snow"] == "Snow in {zone}."


def test_estimate_counts_segments_cost_and_time_with_a_validity_warning() -> None:
    texts = compose_alert(MessageSpec(template="snow", variables=SNOW), Templates(), common=COMMON)
    by_lang = {"fr": 30_000, "en": 10_000}
    found = estimate(
        by_lang, texts, price_per_segment=0.01, currency="CAD", rate_per_second=1.0,
        rate_unit="segments", validity_seconds=36_000,
    )  # fmt: skip
    assert found.recipients == 40_000
    assert found.total_segments == 80_000
    assert found.cost == 800.0
    assert found.seconds == 80_000
    assert any("validity period" in warning for warning in found.warnings)
    quick = estimate(
        by_lang, texts, price_per_segment=0.01, currency="CAD", rate_per_second=100,
        rate_unit="messages", validity_seconds=36_000,
    )  # fmt: skip
    assert quick.seconds == 400 and quick.warnings == ()


def test_names_are_joined_per_language() -> None:
    assert join_names(["A", "B", "C"], "fr") == "A, B et C"
    assert join_names(["A", "B"], "en") == "A and B"
    assert join_names(["A"], "en") == "A"
