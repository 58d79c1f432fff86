"""Street normalisation, address parsing and address point files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.shared_data import data_file
from zones import AddressFileError, normalize_street, parse_address, read_address_points


@pytest.mark.parametrize(
    "variants",
    [
        [
            "Boulevard Charest Ouest",
            "boul. Charest O.",
            "bd charest ouest",
            "Charest Blvd W",
            "BOULEVARD CHAREST WEST",
            "Boul Charest Oest",
        ],
        ["Avenue Maguire", "av. Maguire", "ave maguire", "Maguire Ave", "Maguire Avenue"],
        ["Rue Saint-Jean", "rue St-Jean", "St-Jean St", "rue st. jean", "Saint Jean Street"],
        ["Chemin Sainte-Foy", "ch. Ste-Foy", "chemin ste foy", "Ch Sainte Foy"],
        ["Avenue D'Alembert", "av d’alembert", "avenue d alembert", "avenue D’Alembert"],
        ["Rue de la Couronne", "rue couronne", "Couronne St", "rue De La Couronne"],
        ["Côte du Palais", "cote du palais", "COTE PALAIS"],
        ["Route de l'Aéroport", "rte de l’aeroport", "route aeroport"],
        ["Montée de l'Église", "montee de l eglise", "mtee eglise"],
        ["10e Avenue Est", "10e av. E", "10e avenue est"],
        ["Avenue Monseigneur-Gosselin", "Monseigneur-Gosselin Avenue", "av. Mgr-Gosselin"],
        ["Place D'Youville", "pl. d'youville", "place youville"],
        ["Rue Sainte-Catherine Ouest  (MTL+WMT)", "rue ste-catherine o"],
    ],
)
def test_street_spellings_share_a_key(variants: list[str]) -> None:
    keys = {normalize_street(v) for v in variants}
    assert len(keys) == 1, keys


def test_directions_and_types_still_distinguish_streets() -> None:
    assert normalize_street("Rue Notre-Dame Est") != normalize_street("Rue Notre-Dame Ouest")
    assert normalize_street("Rue Sainte-Anne") != normalize_street("Boulevard Sainte-Anne")
    assert normalize_street("Rue du Nord") == "rue nord"


@pytest.mark.parametrize(
    ("text", "number", "suffix", "street"),
    [
        ("1445 Maguire Ave", 1445, "", "avenue maguire"),
        ("2475 Central Blvd", 2475, "", "boulevard central"),
        ("2280 Monseigneur-Gosselin Avenue", 2280, "", "avenue monseigneur gosselin"),
        ("1445A avenue Maguire", 1445, "A", "avenue maguire"),
        ("1460-B rue Sherbrooke", 1460, "B", "rue sherbrooke"),
        ("1445-1447 av. Maguire", 1445, "", "avenue maguire"),
        ("1445, avenue Maguire, Québec, QC G1T 1Z3", 1445, "", "avenue maguire"),
        ("1445 avenue Maguire Québec QC G1T1Z3", 1445, "", "avenue maguire"),
        ("500 boul. Charest Oest", 500, "", "boulevard charest ouest"),
        ("avenue Maguire 1445", 1445, "", "avenue maguire"),
        ("1234 76e Rue", 1234, "", "rue 76"),
        ("8e Avenue 1234", 1234, "", "avenue 8"),
        ("12 chemin Ste-Foy, app. 3", 12, "", "chemin sainte foy"),
        ("1234 O'Connell", 1234, "", "o connell"),
        ("2650 av d’Alembert", 2650, "", "avenue alembert"),
        ("#2280 monseigneur gosselin", 2280, "", "monseigneur gosselin"),
        ("#2280 av. Mgr-Gosselin #4", 2280, "", "avenue monseigneur gosselin"),
        ("N° 1445 avenue Maguire", 1445, "", "avenue maguire"),
    ],
)
def test_parse_address(text: str, number: int, suffix: str, street: str) -> None:
    parsed = parse_address(text)
    assert parsed is not None
    assert (parsed.number, parsed.suffix, parsed.street) == (number, suffix, street)


@pytest.mark.parametrize("text", ["Saint-Roch", "Quartier 4-5", "76e Rue", "1445", "", "rue"])
def test_not_addresses(text: str) -> None:
    assert parse_address(text) is None


def test_read_real_csv_files() -> None:
    quebec = read_address_points(data_file("quebec/quebec_address_points.csv"))
    assert len(quebec) == 932
    assert quebec[0].number == 2280 and quebec[0].street == "Avenue Monseigneur-Gosselin"
    montreal = read_address_points(data_file("montreal/montreal_address_points.csv"))
    assert len(montreal) == 1922
    assert {(p.number, p.suffix) for p in montreal} >= {(4815, ""), (1460, "B")}


def test_read_real_geojson_points() -> None:
    points = read_address_points(data_file("montreal/lieux-interet.geojson"))
    # Places without a civic number are not addresses: they are left out.
    assert len(points) == 1922
    assert points[0].street == "Rue du Pont" and points[0].lon == pytest.approx(-73.6611018)


def test_semicolons_bom_and_named_fields(tmp_path: Path) -> None:
    path = tmp_path / "adresses.csv"
    path.write_text("\ufeffCIVIQUE;VOIE;X_COORD;Y_COORD\n12;Rue Saint-Jean;-71,21;46,81\n", "utf-8")
    points = read_address_points(path, "CIVIQUE", "VOIE", "X_COORD", "Y_COORD")
    assert points[0].number == 12 and points[0].lon == -71.21 and points[0].lat == 46.81
    auto = tmp_path / "auto.csv"
    auto.write_text("\ufeffno_civique;nom_rue;LONGITUDE;LATITUDE\n12A;Rue X;-71.2;46.8\n", "utf-8")
    assert read_address_points(auto)[0].suffix == "A"


def test_missing_column_names_the_available_ones(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("numero,voie_x,lon,lat\n12,Rue X,-71.2,46.8\n", "utf-8")
    with pytest.raises(AddressFileError) as caught:
        read_address_points(path)
    assert "no street column" in caught.value.message
    assert "available columns: numero, voie_x, lon, lat" in caught.value.message
    with pytest.raises(AddressFileError, match="no column 'RUE'"):
        read_address_points(path, street_field="RUE")


def test_bad_rows_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("numero,rue,lon,lat\n12,Rue X,-71.2,46.8\nabc,Rue Y,-71.2,46.8\n", "utf-8")
    with pytest.raises(
        AddressFileError, match=r"line 3: civic number 'abc' is not a valid civic number"
    ):
        read_address_points(path)
    path.write_text("numero,rue,lon,lat\n12,Rue X,-71.2,46.8\n\n14,Rue X,ouest,46.8\n", "utf-8")
    with pytest.raises(AddressFileError, match=r"line 4: coordinates"):
        read_address_points(path)
    path.write_text("numero,rue,lon,lat\n12,Rue X,-271.2,46.8\n", "utf-8")
    with pytest.raises(AddressFileError, match=r"line 2: .* not longitude/latitude"):
        read_address_points(path)


def test_bad_geojson_features(tmp_path: Path) -> None:
    path = tmp_path / "a.geojson"
    feature = {"type": "Feature", "properties": {"numero": "1", "rue": "Rue X"}, "geometry": None}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(AddressFileError, match=r"feature 1: not a Point"):
        read_address_points(path)
    path.write_text("{not json")
    with pytest.raises(AddressFileError, match="not valid JSON"):
        read_address_points(path)
