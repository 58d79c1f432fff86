"""Zone names as residents type them: accents, dashes, St/Ste, prefixes, aliases, suggestions."""

from __future__ import annotations

import pytest

from zones import AmbiguousZone, UnknownZone, ZoneLayer, ZoneNames, normalize_name, slugify

VIEUX_QUEBEC = "Vieux-Québec—Cap-Blanc—Colline parlementaire"
NEUFCHATEL = "Neufchatel Est—Lebourgneuf"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Vieux-Quebec", VIEUX_QUEBEC),
        ("vieux québec", VIEUX_QUEBEC),
        ("VIEUXQUEBEC", VIEUX_QUEBEC),
        ("Cap-Blanc", VIEUX_QUEBEC),
        ("colline parlementaire", VIEUX_QUEBEC),
        (VIEUX_QUEBEC.replace("—", " - "), VIEUX_QUEBEC),
        ("Lebourgneuf", NEUFCHATEL),
        ("Neufchâtel", NEUFCHATEL),
        ("neufchatel est – lebourgneuf", NEUFCHATEL),
        ("des chatels", "Des Châtels"),
        ("Des Châtels", "Des Châtels"),
        ("deschatels", "Des Châtels"),
        ("st-roch", "Saint-Roch"),
        ("St. Roch", "Saint-Roch"),
        ("ST ROCH!", "Saint-Roch"),
        ("saint‐roch", "Saint-Roch"),
        ("ste therese", "Sainte-Thérèse-de-Lisieux"),
        ("Ste-Thérèse-de-Lisieux", "Sainte-Thérèse-de-Lisieux"),
        ("L’Aéroport", "L'Aéroport"),
        ("l'aeroport", "L'Aéroport"),
        ("laeroport", "L'Aéroport"),
        ("st-emile", "Saint-Émile"),
        ("Sainte-Foy", "Pointe-de-Sainte-Foy"),
        ("quartier 4-5", "Quartier 4-5"),
        ("limoilou", "Vieux-Limoilou"),
        ("Montcalm", "Montcalm"),
    ],
)
def test_find_quebec_names(quebec: ZoneLayer, text: str, expected: str) -> None:
    assert quebec.find(text).name == expected


def test_vieux_alone_is_ambiguous(quebec: ZoneLayer) -> None:
    with pytest.raises(AmbiguousZone) as caught:
        quebec.find("Vieux")
    assert {"Vieux-Limoilou", "Vieux-Moulin", VIEUX_QUEBEC, "Vieux-Bourg"} <= set(
        caught.value.candidates
    )
    assert "\n" not in caught.value.message and "Vieux-Moulin" in caught.value.message


def test_unknown_name_suggests_close_names(quebec: ZoneLayer) -> None:
    with pytest.raises(UnknownZone) as caught:
        quebec.find("Vieux-Quebc")
    assert caught.value.suggestions[0] == VIEUX_QUEBEC
    assert len(caught.value.suggestions) <= 3
    assert "did you mean" in caught.value.message
    with pytest.raises(UnknownZone) as caught:
        quebec.find("Montcalme")
    assert caught.value.suggestions[0] == "Montcalm"


def test_nonsense_and_empty_find_nothing(quebec: ZoneLayer) -> None:
    assert quebec.names.match("") == []
    assert quebec.names.match("  --  ") == []
    assert quebec.names.match("xyzzy") == []


def test_exact_match_wins_over_prefix() -> None:
    names = ZoneNames(["Lachine", "Lachine-Ouest", "Montréal-Est"])
    assert names.match("lachine") == [0]
    assert names.match("lachine o") == [1]
    assert names.match("montreal") == [2]


def test_aliases_are_honoured() -> None:
    names = ZoneNames(
        ["Vieux-Québec—Cap-Blanc—Colline parlementaire", "Saint-Roch"],
        aliases={"Old Quebec": VIEUX_QUEBEC, "Nouvo St-Roch": "saint roch"},
    )
    assert names.match("old quebec") == [0]
    assert names.match("nouvo") == [1]
    with pytest.raises(UnknownZone, match="alias 'x': no zone named 'Nowhere'"):
        ZoneNames(["Saint-Roch"], aliases={"x": "Nowhere"})


def test_layer_aliases(quebec: ZoneLayer) -> None:
    layer = ZoneLayer.from_geometries([(z.name, z.geometry) for z in list(quebec)[:3]])
    aliased = ZoneLayer(
        [(z.name, z.geometry) for z in layer], aliases={"Le Faubourg": "Saint-Jean-Baptiste"}
    )
    assert aliased.find("faubourg").name == "Saint-Jean-Baptiste"


def test_by_name_and_by_slug(quebec: ZoneLayer) -> None:
    assert quebec.by_name("Saint-Roch").slug == "saint-roch"
    assert quebec.by_slug("vieux-quebec-cap-blanc-colline-parlementaire").name == VIEUX_QUEBEC
    with pytest.raises(UnknownZone):
        quebec.by_name("saint-roch")  # exact names only
    with pytest.raises(UnknownZone):
        quebec.by_slug("nowhere")


def test_normalize_and_slugify() -> None:
    assert normalize_name("Ste-Thérèse-de-Lisieux") == "sainte therese de lisieux"
    assert normalize_name("  St. Roch ") == normalize_name("Saint—Roch") == "saint roch"
    assert normalize_name("L’Île-Bizard") == normalize_name("L'Ile Bizard") == "l ile bizard"
    assert normalize_name("Cœur") == "coeur"
    assert slugify(VIEUX_QUEBEC) == "vieux-quebec-cap-blanc-colline-parlementaire"
    assert slugify("Neufchatel Est—Lebourgneuf") == "neufchatel-est-lebourgneuf"
    assert slugify("L'Aéroport") == "l-aeroport"


def test_every_real_name_finds_itself(quebec: ZoneLayer, toronto: ZoneLayer) -> None:
    for layer in (quebec, toronto):
        for zone in layer:
            assert layer.find(zone.name) == zone
            assert layer.find(zone.name.upper()) == zone
