"""Reply templates: every one fits one SMS in both languages, even with long zone names."""

from __future__ import annotations

import pytest

from alerts.config import Settings, replies_from
from alerts.core.messages import segment_info
from alerts.core.replies import Replies, default_templates
from alerts.errors import ConfigError

LONG = "Vieux-Québec—Cap-Blanc—Colline parlementaire"
VALUES = {
    "zone": LONG,
    "zones": f"{LONG}, Côte-Blanche",
    "topics": "déneigement, radar photo",
    "topic": "déneigement",
    "keyword": "NEIGE",
    "choices": "1 Vieux-Limoilou, 2 Vieux-Moulin, 3 Vieux-Québec—Cap-Blanc—Colline parlementaire",
}
COMMON = {
    lang: {"service": "Alertes de quartier", "support": "311", "frequency": "Quelques messages"}
    for lang in ("fr", "en")
}


def test_both_languages_have_the_same_replies() -> None:
    templates = default_templates()
    assert set(templates["fr"]) == set(templates["en"])


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("name", sorted(default_templates()["fr"]))
def test_every_reply_is_one_segment(lang: str, name: str) -> None:
    reply = Replies(COMMON).text(lang, name, **VALUES)  # type: ignore[arg-type]
    assert segment_info(reply).segments == 1, reply


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("name", ["help", "info", "opted_out", "ask_place", "confirm", "forgotten"])
def test_key_replies_are_gsm7_without_any_substitution(lang: str, name: str) -> None:
    templates = default_templates()[lang]
    assert segment_info(templates[name].replace("{", "").replace("}", "")).encoding == "GSM-7"


def test_operator_overrides_replace_single_templates() -> None:
    replies = Replies(COMMON, {"fr": {"help": "Aide: {support}."}})
    assert replies.text("fr", "help") == "Aide: 311."
    assert "SUBSCRIBE" in replies.text("en", "help")


@pytest.mark.parametrize(
    ("lang", "opt_out"), [("fr", "ARRET pour cesser"), ("en", "STOP to opt out")]
)
def test_long_values_are_shortened_and_the_opt_out_word_stays(lang: str, opt_out: str) -> None:
    many = ", ".join([LONG, "Côte-Blanche", "Saint-Sauveur", "Montcalm", "Vieux-Limoilou"])
    reply = Replies(COMMON).text(lang, "subscribed", zones=many, topics="déneigement, radar")  # type: ignore[arg-type]
    assert segment_info(reply).segments == 1, reply
    assert reply.endswith(opt_out + "."), reply
    assert "..." in reply  # the zone list, not the template, was shortened


def test_a_service_whose_help_reply_cannot_fit_one_sms_is_refused() -> None:
    realistic = Settings().with_overrides(
        **{"service.name_fr": "Alertes Ville de Québec", "service.support_contact": "418 641-6411"}
    )
    help_fr = replies_from(realistic).text("fr", "help")
    assert help_fr.endswith("ARRET pour cesser.") and "418 641-6411" in help_fr
    assert "Quelques messages par hiver" in replies_from(realistic).text("fr", "info")
    with pytest.raises(ConfigError, match=r"'help' reply would be \d+ characters.*name_fr"):
        Settings().with_overrides(**{"service.name_fr": "Service d'alertes de la Ville de Québec"})
    with pytest.raises(ConfigError, match="support_contact"):
        Settings().with_overrides(**{"service.support_contact": "https://www.ville.quebec.qc.ca/"})
