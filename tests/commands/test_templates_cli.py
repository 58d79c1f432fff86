"""`alerts templates list | show`: both languages, variables and segments, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alerts.core.composition import DEFAULT_TEMPLATES, MessageSpec, Templates, compose_alert
from cli import main
from tests.commands.conftest import cli_workspace

SERVICE = {"fr": "Alertes de quartier", "en": "Neighbourhood Alerts"}  # the defaults


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with its own database and only the settings the test writes."""
    return cli_workspace(monkeypatch, tmp_path, demo_town=False, COLUMNS="80")


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code = main(list(args))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def _composed(name: str, values: dict[str, str], templates: Templates) -> dict[str, object]:
    """What `send --template NAME` composes from these values, per language."""
    texts = compose_alert(
        MessageSpec(template=name, variables=values),
        templates,
        common={lang: {"service": SERVICE[lang]} for lang in ("fr", "en")},
    )
    return {
        lang: (texts[lang].text, texts[lang].segments, texts[lang].encoding) for lang in SERVICE
    }


def test_list_json_describes_every_template_as_composition_counts_it(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = _json(capsys, "templates", "list", "--json")
    assert isinstance(listed, list)
    templates = Templates()
    assert [entry["name"] for entry in listed] == templates.names()
    for entry in listed:
        name = entry["name"]
        for lang in ("fr", "en"):
            assert entry["texts"][lang]["template"] == DEFAULT_TEMPLATES[lang][name]
        composed = _composed(name, entry["sample_values"], templates)
        shown = {
            lang: (text["sample"], text["segments"], text["encoding"])
            for lang, text in entry["texts"].items()
        }
        assert shown == composed, name
        assert entry["source"] == "shipped" and entry["purpose"]
    snow = next(entry for entry in listed if entry["name"] == "snow")
    assert [v["name"] for v in snow["variables"]] == ["service", "zone", "start", "hours"]
    assert [v["name"] for v in snow["variables"] if v["filled_in"]] == ["service", "zone"]
    # The sample spells out its ISO date, time and range in each language.
    assert "jeudi 3 décembre à 19 h" in snow["texts"]["fr"]["sample"]
    assert "from 7 p.m. to 7 a.m." in snow["texts"]["en"]["sample"]
    assert snow["texts"]["fr"]["segments"] == 2 and snow["texts"]["en"]["segments"] == 2


def test_list_fits_80_columns_with_segments_per_language(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["templates", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in out
    snow_reminder = next(line for line in lines if line.startswith("snow_reminder"))
    # French needs two segments on the sample, English one.
    assert snow_reminder.split()[1] == "2/1" and "hours" in snow_reminder
    assert next(line for line in lines if line.startswith("info ")).split()[1:3] == ["1/1", "text"]


def test_show_prints_both_languages_variables_segments_and_a_command_to_try(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["templates", "show", "snow"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out
    assert "fr French: GSM-7, 2 segments" in out and "en English: GSM-7, 2 segments" in out
    assert "opération de déneigement dès {start}" in out  # the French template itself
    assert "snow removal starting {start}" in out
    flat = " ".join(out.split())  # the texts are wrapped to the terminal
    assert "dès jeudi 3 décembre à 19 h" in flat
    assert "starting Thursday, December 3 at 7 p.m." in flat
    for variable in ("service", "zone", "start", "hours"):
        assert f"\n  {variable} " in out
    assert "--template snow" in out and "--var 'start=2026-12-03 19:00'" in out

    shown = _json(capsys, "templates", "show", "snow_reminder", "--json")
    assert isinstance(shown, dict)
    assert {lang: text["segments"] for lang, text in shown["texts"].items()} == {"fr": 2, "en": 1}
    assert shown["kind"] == "snow" and [v["name"] for v in shown["variables"]][-1] == "hours"


def test_configured_and_overridden_templates_are_listed_as_such(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "alerts.toml").write_text(
        "[templates]\ngsm_only = ['travaux']\n"
        "[templates.fr]\n"
        "travaux = '{service}, {zone}: travaux {date}, rue {rue}. Évitez le secteur.'\n"
        "snow_end = '{service}, {zone}: fin du déneigement.'\n"
        "[templates.en]\n"
        "travaux = '{service}, {zone}: roadwork {date} on {rue}. Avoid the area.'\n",
        encoding="utf-8",
    )
    found = _json(capsys, "templates", "list", "--json")
    listed = {entry["name"]: entry for entry in found}
    work = listed["travaux"]
    assert work["source"] == "configured" and work["gsm_only"] is True
    assert [v["name"] for v in work["variables"]] == ["service", "zone", "date", "rue"]
    assert work["sample_values"]["rue"] == "<rue>"
    assert "{date}" not in work["texts"]["fr"]["sample"]
    assert listed["snow_end"]["source"] == "overridden"
    assert listed["snow_end"]["texts"]["fr"]["sample"].endswith("fin du déneigement.")
    assert listed["snow"]["source"] == "shipped"


def test_unknown_template_is_not_found_with_the_closest_names(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["templates", "show", "snow-end"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert (
        "no template named 'snow-end'" in captured.err and "did you mean snow_end" in captured.err
    )
    assert main(["templates", "show", "zzzz", "--json"]) == 1
    err = capsys.readouterr().err
    assert "known: " in err and "snow_reminder" in err  # nothing close: every name


def test_send_help_explains_per_language_values_and_time_formatting(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["send", "--help"]) == 0
    flat = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "KEY.fr=VALUE" in flat and "KEY.en=VALUE" in flat
    assert "19:00-07:00" in flat and "de 19 h à 7 h" in flat
    assert "Thursday, December 3 at 7 p.m." in flat and "alerts templates list" in flat
