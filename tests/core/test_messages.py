"""SMS text: GSM-7 table, segment boundaries, sanitising French alerts, templates, fit, masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.core.messages import (
    GSM7,
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_TABLE,
    Composed,
    InvalidTemplate,
    MessageTooLong,
    MissingVariable,
    SegmentInfo,
    compose,
    encoding,
    fit,
    is_gsm7,
    render,
    sanitize,
    segment_info,
    template_variables,
    transliterate,
)
from alerts.errors import InvalidInput

ALERT_FR = (
    "\u00ab\u00a0D\u00e9neigement\u202f: stationnement interdit de 19\u202fh \u00e0 7\u202fh "
    "\u2014 rue Saint\u2011Jean\u2026\u00a0\u00bb"
)
latin1 = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xFF))


# --- the GSM-7 table ---------------------------------------------------------------------------


def test_gsm7_table_has_128_positions_in_spec_order() -> None:
    assert len(GSM7_TABLE) == 128
    # Spot checks against 3GPP TS 23.038 positions.
    assert GSM7_TABLE[0x00] == "@"
    assert GSM7_TABLE[0x02] == "$"
    assert GSM7_TABLE[0x09] == "\u00c7"  # capital C cedilla, not the lowercase one
    assert GSM7_TABLE[0x10] == "\u0394"
    assert GSM7_TABLE[0x1B] == "\x1b"
    assert GSM7_TABLE[0x1F] == "\u00c9"
    assert GSM7_TABLE[0x24] == "\u00a4"
    assert GSM7_TABLE[0x40] == "\u00a1"
    assert GSM7_TABLE[0x5F] == "\u00a7"
    assert GSM7_TABLE[0x60] == "\u00bf"
    assert GSM7_TABLE[0x7F] == "\u00e0"
    assert len(GSM7_BASIC) == 127
    assert "\x1b" not in GSM7


@pytest.mark.parametrize(
    "ch",
    list(
        "éèàùìòÇØøÅåÄÖÑÜ§¿äöñüÉÆæß¡£¥"
        "\u0394\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e"  # Greek capitals
    ),
)
def test_gsm7_basic_letters(ch: str) -> None:
    assert ch in GSM7_BASIC


@pytest.mark.parametrize(
    "ch",
    list(
        "\u00e2\u00ea\u00ee\u00f4\u00fb\u00eb\u00ef\u00e7\u0153\u2019\u00ab\u00bb\u2013\u2014\u2026"
        "\u00a0\u202f`\u00c8\u00c0\u00ca\u03b1"
    ),
)
def test_not_gsm7(ch: str) -> None:
    assert ch not in GSM7
    assert encoding("abc" + ch) == "UCS-2"


def test_extension_table() -> None:
    assert set("\f^{}\\[~]|\u20ac") == GSM7_EXTENSION
    assert segment_info("\u20ac").units == 2
    assert segment_info("{x}").units == 5


# --- encoding and segments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "GSM-7"),
        ("Bonjour", "GSM-7"),
        ("D\u00e9neigement ce soir", "GSM-7"),  # é is GSM-7
        ("For\u00eat", "UCS-2"),  # ê is not
        ("l'avenue", "GSM-7"),
        ("l\u2019avenue", "UCS-2"),  # the typographic apostrophe doubles the cost
        ("\u00c7a", "GSM-7"),
        ("gar\u00e7on", "UCS-2"),
        ("prix: 5 \u20ac", "GSM-7"),
    ],
)
def test_encoding(text: str, expected: str) -> None:
    assert encoding(text) == expected
    assert is_gsm7(text) == (expected == "GSM-7")


def test_empty_text_is_zero_segments() -> None:
    assert segment_info("") == SegmentInfo("GSM-7", 0, 0, 160)


@pytest.mark.parametrize(
    ("text", "units", "segments", "per_segment"),
    [
        ("a", 1, 1, 160),
        ("a" * 160, 160, 1, 160),
        ("a" * 161, 161, 2, 153),
        ("a" * 306, 306, 2, 153),
        ("a" * 307, 307, 3, 153),
        ("a" * 459, 459, 3, 153),
        ("a" * 460, 460, 4, 153),
        ("\u20ac" * 80, 160, 1, 160),  # 80 extension characters fill one SMS exactly
        ("\u00ea" * 70, 70, 1, 70),
        ("\u00ea" * 71, 71, 2, 67),
        ("\u00ea" * 134, 134, 2, 67),
        ("\u00ea" * 135, 135, 3, 67),
        ("\U0001f600" * 35, 70, 1, 70),  # emoji are surrogate pairs: two units each
        ("\U0001f600" * 36, 72, 2, 67),
    ],
)
def test_segment_boundaries(text: str, units: int, segments: int, per_segment: int) -> None:
    info = segment_info(text)
    assert (info.units, info.segments, info.per_segment) == (units, segments, per_segment)


def test_eighty_one_euro_signs() -> None:
    # 162 septets; each part holds 76 pairs (152 septets, the 153rd would split a pair):
    # 76 + 5 = 81 characters in two parts.
    assert segment_info("\u20ac" * 81).segments == 2


def test_extension_pair_not_split_at_part_boundary() -> None:
    # 152 plain septets then a euro sign: the pair would take septets 153 and 154 of part one,
    # so it opens part two and part one carries 152. 306 septets in all: dividing by 153 says
    # 2 parts, packing whole characters needs 3.
    text = "a" * 152 + "\u20ac" + "a" * 152
    assert segment_info(text).units == 306
    assert segment_info(text).segments == 3
    # One septet earlier, the pair ends part one exactly and 2 parts suffice.
    assert segment_info("a" * 151 + "\u20ac" + "a" * 153).segments == 2


def test_surrogate_pair_not_split_at_part_boundary() -> None:
    text = "\u00ea" * 66 + "\U0001f600" + "\u00ea" * 66  # 66 + 2 + 66 = 134 units
    assert segment_info(text).units == 134
    assert segment_info(text).segments == 3
    assert segment_info("\u00ea" * 65 + "\U0001f600" + "\u00ea" * 67).segments == 2


def test_one_character_switches_the_encoding() -> None:
    gsm = "D\u00e9neigement dans Saint-Roch ce soir. " * 4
    assert segment_info(gsm).encoding == "GSM-7"
    assert segment_info(gsm).segments == 1
    ucs = gsm.replace("Saint", "Sainte-Fo\u00ea", 1)
    assert segment_info(ucs).encoding == "UCS-2"
    assert segment_info(ucs).segments == 3


@given(st.text())
def test_segment_info_never_raises(text: str) -> None:
    info = segment_info(text)
    assert info.segments >= (1 if text else 0)
    assert info.units >= len(text)


@given(st.text(), st.text(min_size=1))
def test_segments_monotone_in_appended_text(head: str, tail: str) -> None:
    assert segment_info(head + tail).segments >= segment_info(head).segments


@given(st.text(alphabet=st.sampled_from(["a", "\u20ac", "\u00ea", "\U0001f600"]), max_size=400))
def test_segments_monotone_near_boundaries(text: str) -> None:
    counts = [segment_info(text[:i]).segments for i in range(len(text) + 1)]
    assert counts == sorted(counts)


# --- sanitize and transliterate ----------------------------------------------------------------


def test_sanitize_french_alert() -> None:
    assert sanitize(ALERT_FR) == (
        '"D\u00e9neigement : stationnement interdit de 19 h \u00e0 7 h - rue Saint-Jean..."'
    )
    assert encoding(sanitize(ALERT_FR)) == "GSM-7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("l\u2019avenue", "l'avenue"),
        ("\u2018oui\u2019", "'oui'"),
        ("d\u02bcabord", "d'abord"),
        ("\u201cSnow\u201d", '"Snow"'),
        ("\u00ab bonjour \u00bb", '"bonjour"'),
        ("\u00ab\u00a0bonjour\u00a0\u00bb", '"bonjour"'),
        (
            "\u00ab\u202fbonjour\u202f\u00bb et \u00ab\u202fmerci\u202f\u00bb",
            '"bonjour" et "merci"',
        ),
        ("19 h \u2013 7 h", "19 h - 7 h"),
        ("a\u2014b\u2010c\u2011d", "a-b-c-d"),
        ("Attendez\u2026", "Attendez..."),
        ("a\u00a0b\u202fc\u2009d\u2003e", "a b c d e"),
        ("a    b\t\tc", "a b c"),
        ("  bonjour  ", "bonjour"),
        ("ligne 1  \r\n  ligne 2", "ligne 1\nligne 2"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("a\x00b\x07c\x1bd", "abcd"),
        ("\u200fStop\u200e", "Stop"),
        ("co\u00adop\u00e9ration", "coop\u00e9ration"),  # soft hyphen
        ("zero\u200bwidth", "zerowidth"),
        ("e\u0301t\u00e9", "\u00e9t\u00e9"),  # decomposed accent composed
        ("for\u00eat \u00e2ge \u0153uvre", "for\u00eat \u00e2ge \u0153uvre"),  # letters untouched
        (
            "\U0001f468\u200d\U0001f469\u200d\U0001f467",
            "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        ),
    ],
)
def test_sanitize(text: str, expected: str) -> None:
    assert sanitize(text) == expected


@given(st.text())
def test_sanitize_is_idempotent(text: str) -> None:
    once = sanitize(text)
    assert sanitize(once) == once


@pytest.mark.parametrize(
    ("text", "expected", "changed"),
    [
        ("for\u00eat", "foret", {"\u00ea": "e"}),
        ("\u00e2\u00ea\u00ee\u00f4\u00fb\u00eb\u00ef", "aeiouei", None),
        (
            "\u00c0\u00c2\u00ca\u00c8\u00ce\u00d4\u00db\u00d9\u00cb\u00cf\u0178\u00ff",
            "AAEEIOUUEIYy",
            None,
        ),
        ("gar\u00e7on", "garcon", {"\u00e7": "c"}),
        ("\u00c7a", "\u00c7a", {}),
        ("\u0153uvre \u0152UVRE", "oeuvre OEUVRE", None),
        (
            "\u00e9\u00e8\u00e0\u00f9\u00c9\u00c7\u00e4\u00f6\u00fc\u00e6",
            "\u00e9\u00e8\u00e0\u00f9\u00c9\u00c7\u00e4\u00f6\u00fc\u00e6",
            {},
        ),
        ("n\u00b0 1445", "no 1445", {"\u00b0": "o"}),
        ("\u00bd", "1/2", {"\u00bd": "1/2"}),
        ("caf\u00e9 \u2615", "caf\u00e9 ", {"\u2615": ""}),
        ("\u041c\u043e\u0441", "???", None),
        ("\u0391\u0392\u0394", "AB\u0394", None),
        ("l\u2019\u00eele", "l'ile", {"\u2019": "'", "\u00ee": "i"}),
    ],
)
def test_transliterate(text: str, expected: str, changed: dict[str, str] | None) -> None:
    result = transliterate(text)
    assert result.text == expected
    assert is_gsm7(result.text)
    if changed is not None:
        assert result.changed == changed


def test_sanitize_then_transliterate_french_alert() -> None:
    alert = ALERT_FR + " Op\u00e9ration sur l\u2019\u00eelot C\u00f4t\u00e9 \u2744\ufe0f"
    result = transliterate(sanitize(alert))
    assert result.text == (
        '"D\u00e9neigement : stationnement interdit de 19 h \u00e0 7 h - rue Saint-Jean..." '
        "Op\u00e9ration sur l'ilot Cot\u00e9 "
    )
    assert result.changed == {"\u00ee": "i", "\u00f4": "o", "\u2744": "", "\ufe0f": ""}


@given(latin1)
def test_latin1_always_reaches_gsm7(text: str) -> None:
    assert is_gsm7(sanitize(transliterate(text).text))
    assert is_gsm7(transliterate(sanitize(text)).text)


@given(st.text())
def test_transliterate_always_gsm7(text: str) -> None:
    result = transliterate(text)
    assert is_gsm7(result.text)
    assert transliterate(result.text).changed == {}


# --- compose ---------------------------------------------------------------------------------


def test_compose_keeps_accents_by_default() -> None:
    composed = compose("Rue Saint\u2011Jean\u00a0: for\u00eat")
    assert composed == Composed("Rue Saint-Jean : for\u00eat", "UCS-2", 1, 22, {})


def test_compose_gsm_only() -> None:
    composed = compose("D\u00e9neigement \u2744 sur l\u2019\u00eele  ce soir", gsm_only=True)
    assert composed.text == "D\u00e9neigement sur l'ile ce soir"
    assert composed.encoding == "GSM-7"
    assert composed.segments == 1
    assert composed.changed == {"\u2744": "", "\u00ee": "i"}


def test_compose_too_long() -> None:
    text = "\u00ea" * 171
    with pytest.raises(MessageTooLong) as caught:
        compose(text, max_segments=2)
    assert str(caught.value) == (
        "message is 3 SMS segments (UCS-2, 171 characters); the limit is 2"
    )
    assert isinstance(caught.value, InvalidInput)
    assert (caught.value.segments, caught.value.max_segments) == (3, 2)
    # Forcing GSM-7 brings the same text within budget.
    assert compose(text, gsm_only=True, max_segments=2).segments == 2


def test_compose_rejects_a_nonsense_budget() -> None:
    with pytest.raises(ValueError):
        compose("x", max_segments=0)


def test_compose_empty() -> None:
    assert compose("  \u200b ").segments == 0


# --- templates -------------------------------------------------------------------------------


def test_render() -> None:
    template = "D\u00e9neigement {zone} le {date} d\u00e8s {heure}. {{STOP}} pour arr\u00eater"
    values = {"zone": "Limoilou", "date": "12 janv.", "heure": "19 h", "extra": "ignored"}
    assert render(template, values) == (
        "D\u00e9neigement Limoilou le 12 janv. d\u00e8s 19 h. {STOP} pour arr\u00eater"
    )
    assert template_variables(template) == {"zone", "date", "heure"}


def test_render_lists_every_missing_variable() -> None:
    with pytest.raises(MissingVariable) as caught:
        render("{zone}: {date} {zone} {heure}", {"heure": "19 h"})
    assert caught.value.names == ["date", "zone"]
    assert str(caught.value) == "template needs values for: date, zone"
    assert isinstance(caught.value, InvalidInput)


def test_template_variables_in_format_specs() -> None:
    assert template_variables("{zone:>{width}}") == {"zone", "width"}
    assert render("[{zone:>{width}}]", {"zone": "A", "width": "3"}) == "[  A]"


@pytest.mark.parametrize("template", ["{zone", "zone}", "{}", "{0}", "{zone.__class__}", "{x[0]}"])
def test_malformed_templates(template: str) -> None:
    with pytest.raises(InvalidTemplate):
        render(template, {"zone": "A", "x": "B"})


def test_literal_braces_only() -> None:
    assert template_variables("{{zone}}") == set()
    assert render("{{zone}}", {}) == "{zone}"


# --- fit ---------------------------------------------------------------------------------------


def test_fit_leaves_short_text_alone() -> None:
    assert fit("a" * 160) == "a" * 160
    assert fit("\u00ea" * 70) == "\u00ea" * 70


def test_fit_cuts_at_a_word_boundary() -> None:
    text = "Le d\u00e9neigement commence " * 10
    # Six repeats are 144 characters; "Le d\u00e9neigement" would reach 158 + 3 > 160.
    assert fit(text) == "Le d\u00e9neigement commence " * 6 + "Le..."


def test_fit_ucs2_uses_one_segment() -> None:
    text = (
        "Op\u00e9ration radar sur la c\u00f4te d\u2019Abraham ce soir et demain matin "
        "entre 7 h et 9 h"
    )
    shortened = fit(text)
    assert segment_info(shortened) == SegmentInfo("UCS-2", len(shortened), 1, 70)
    assert shortened.endswith("...")
    assert not shortened.endswith(" ...")


def test_fit_cuts_a_long_word_when_it_must() -> None:
    url = "https://example.org/" + "x" * 300
    assert fit(url) == url[:157] + "..."


def test_fit_drops_trailing_punctuation() -> None:
    assert fit("aaaa, bbbb, cccc, dddd", limit=14) == "aaaa, bbbb..."


def test_fit_counts_extension_characters_twice() -> None:
    shortened = fit("{" * 100, limit=160)
    assert shortened == "{" * 78 + "..."
    assert segment_info(shortened).units <= 160


def test_fit_rejects_tiny_limits() -> None:
    with pytest.raises(ValueError):
        fit("abc", limit=3)


@given(st.text(), st.integers(min_value=4, max_value=400))
def test_fit_always_fits(text: str, limit: int) -> None:
    shortened = fit(text, limit)
    info = segment_info(shortened)
    budget = limit if info.encoding == "GSM-7" else min(limit, 70)
    assert info.units <= budget
