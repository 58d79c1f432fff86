"""Settings: file, environment, validation messages that name the key, secrets kept out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alerts.config import Settings, load_settings
from alerts.errors import ConfigError
from tests.support.paths import REPO


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings(env={}, cwd=tmp_path)
    assert settings.database.url == "sqlite:///alerts.db"
    assert settings.gateway.kind == "console"
    assert settings.service.timezone == "America/Toronto"
    assert settings.zones.snap_meters == 50
    assert settings.sms.max_auto_replies_per_hour == 5
    assert settings.source == "built-in defaults"


def test_documented_environment_names_override_the_file(tmp_path: Path) -> None:
    config = tmp_path / "alerts.toml"
    config.write_text('[database]\nurl = "sqlite:///from-file.db"\n[gateway]\nkind = "file"\n')
    env = {
        "ALERTS_DATABASE_URL": "postgresql://alerts@db.example/alerts",
        "ALERTS_GATEWAY": "twilio",
        "ALERTS_TIMEZONE": "America/Montreal",
        "ALERTS_PUBLIC_URL": "https://alerts.example.org/",
        "ALERTS_TWILIO_FROM": "+14185550100",
        "ALERTS_TWILIO_API_BASE_URL": "http://127.0.0.1:4010",
        "TWILIO_ACCOUNT_SID": "AC123",
        "TWILIO_AUTH_TOKEN": "s3cret",
        "ALERTS_DISPATCH_RATE": "30",
    }
    settings = load_settings(config, env=env)
    assert settings.database.url == "postgresql+psycopg://alerts@db.example/alerts"
    assert settings.gateway.kind == "twilio"
    assert settings.service.timezone == "America/Montreal"
    assert settings.service.public_url == "https://alerts.example.org"
    assert settings.twilio.from_number == "+14185550100"
    service_env = {**env, "ALERTS_TWILIO_FROM": "", "ALERTS_TWILIO_MESSAGING_SERVICE_SID": "MG0123"}
    assert load_settings(config, env=service_env).twilio.messaging_service_sid == "MG0123"
    assert settings.twilio.api_base_url == "http://127.0.0.1:4010"
    assert settings.twilio.account_sid == "AC123"
    assert settings.twilio.auth_token.get_secret_value() == "s3cret"
    assert settings.dispatch.rate_per_second == 30
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())


def test_config_file_search_order(tmp_path: Path) -> None:
    (tmp_path / "alerts.toml").write_text("[zones]\nsnap_meters = 10\n")
    other = tmp_path / "other.toml"
    other.write_text("[zones]\nsnap_meters = 20\n")
    assert load_settings(env={}, cwd=tmp_path).zones.snap_meters == 10
    assert load_settings(env={"ALERTS_CONFIG": str(other)}, cwd=tmp_path).zones.snap_meters == 20
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[zones]\nsnap_meters = 30\n")
    found = load_settings(explicit, env={"ALERTS_CONFIG": str(other)}, cwd=tmp_path)
    assert found.zones.snap_meters == 30


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ALERTS_DATABASE_URL": "not a url"}, ["database.url", "ALERTS_DATABASE_URL"]),
        ({"ALERTS_DATABASE_URL": "mysql://x@y/z"}, ["database.url", "unsupported"]),
        ({"ALERTS_DATABASE_URL": "postgresql://x@y"}, ["database.url", "database"]),
        ({"ALERTS_GATEWAY": "pigeon"}, ["gateway.kind", "ALERTS_GATEWAY"]),
        ({"ALERTS_TIMEZONE": "Mars/Olympus"}, ["service.timezone", "Mars/Olympus"]),
        (
            {"ALERTS_OPERATOR_LANGUAGE": "klingon"},
            ["service.operator_language", "ALERTS_OPERATOR_LANGUAGE", "'auto'"],
        ),
        ({"ALERTS_PUBLIC_URL": "alerts.example.org"}, ["service.public_url", "http"]),
        ({"ALERTS_DISPATCH_RATE": "fast"}, ["dispatch.rate_per_second"]),
        ({"ALERTS_DISPATCH_RATE": "-1"}, ["dispatch.rate_per_second"]),
        ({"ALERTS_TWILIO_MESSAGING_SERVICE_SID": "XX1"}, ["twilio.messaging_service_sid"]),
        ({"ALERTS_FORWARDED_ALLOW_IPS": "*"}, ["web.forwarded_allow_ips", "'*'"]),
        ({"ALERTS_FORWARDED_ALLOW_IPS": "proxy.lan"}, ["web.forwarded_allow_ips", "proxy.lan"]),
    ],
)
def test_bad_environment_values_name_the_key(
    tmp_path: Path, env: dict[str, str], names: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env=env, cwd=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    for name in names:
        assert name in message
    assert caught.value.exit_code == 2


def test_malformed_toml_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "alerts.toml"
    bad.write_text("[database\nurl = 'x'\n")
    with pytest.raises(ConfigError, match=r"alerts\.toml is not valid TOML"):
        load_settings(env={}, cwd=tmp_path)


def test_unknown_keys_and_wrong_types_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[zones]\nsnap_metres = 10\n")
    with pytest.raises(ConfigError, match=r"unknown key zones\.snap_metres"):
        load_settings(config, env={})
    config.write_text('[send]\nmax_segments = "many"\n')
    with pytest.raises(ConfigError, match=r"send\.max_segments"):
        load_settings(config, env={})


def test_auth_token_may_not_live_in_a_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[twilio]\nauth_token = "s3cret"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert "s3cret" not in str(caught.value)
    assert "environment" in str(caught.value)


def test_twilio_gateway_needs_credentials_and_a_sender(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        load_settings(env={"ALERTS_GATEWAY": "twilio"}, cwd=tmp_path)
    env = {"ALERTS_GATEWAY": "twilio", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}
    with pytest.raises(ConfigError, match="ALERTS_TWILIO_FROM"):
        load_settings(env=env, cwd=tmp_path)
    env["ALERTS_TWILIO_FROM"] = "+14185550100"
    assert load_settings(env=env, cwd=tmp_path).gateway.kind == "twilio"


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="ALERTS_CONFIG"):
        load_settings(env={"ALERTS_CONFIG": str(tmp_path / "nope.toml")}, cwd=tmp_path)


def test_example_config_is_valid_and_documents_every_key() -> None:
    example = REPO / "config.example.toml"
    text = example.read_text(encoding="utf-8")
    load_settings(example, env={})
    for section, model in Settings.model_fields.items():
        if section in ("source", "locale"):
            continue
        assert f"[{section}]" in text, section
        for key in model.annotation.model_fields:  # type: ignore[union-attr]
            as_key = re.search(rf"^#?\s*{key}\s*=", text, re.MULTILINE)
            assert as_key or f"[{section}.{key}]" in text, f"{section}.{key} undocumented"


def test_overrides_keep_validation() -> None:
    with pytest.raises(ConfigError, match=r"gateway\.kind"):
        Settings().with_overrides(**{"gateway.kind": "pigeon"})


def test_the_old_concurrency_key_is_read_as_the_in_flight_ceiling_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "alerts.toml"
    config.write_text("[dispatch]\nconcurrency = 12\n")
    with caplog.at_level("WARNING", logger="alerts.config"):
        settings = load_settings(config, env={})
    assert settings.dispatch.max_in_flight == 12
    assert any("dispatch.concurrency is deprecated" in r.getMessage() for r in caplog.records)
    config.write_text("[dispatch]\nconcurrency = 12\nmax_in_flight = 900\n")
    assert load_settings(config, env={}).dispatch.max_in_flight == 900  # the new key wins
    assert Settings().dispatch.max_in_flight == 1000  # 500/s at 1 s, with headroom
    config.write_text("[dispatch]\nmax_in_flight = 0\n")
    with pytest.raises(ConfigError, match=r"dispatch\.max_in_flight"):
        load_settings(config, env={})


@pytest.mark.parametrize(
    ("env", "lang"),
    [
        ({}, "en"),
        ({"LANG": "fr_CA.UTF-8"}, "fr"),
        ({"LANG": "en_CA.UTF-8", "LC_TIME": "fr_CA.UTF-8"}, "fr"),
        ({"LANG": "fr_CA.UTF-8", "LC_TIME": "C.UTF-8"}, "en"),
        ({"LC_ALL": "fr_FR", "LC_TIME": "en_US", "LANG": "en_US"}, "fr"),
        ({"LC_ALL": "", "LANG": "fr_CA"}, "fr"),  # an empty variable is not set
        ({"LANG": "fr_CA", "ALERTS_OPERATOR_LANGUAGE": "en"}, "en"),
        ({"LANG": "C", "ALERTS_OPERATOR_LANGUAGE": " FR "}, "fr"),
        ({"LANG": "fr_CA", "ALERTS_OPERATOR_LANGUAGE": "auto"}, "fr"),
    ],
)
def test_the_operator_language_is_set_or_follows_the_locale(
    tmp_path: Path, env: dict[str, str], lang: str
) -> None:
    settings = load_settings(env=env, cwd=tmp_path)
    assert settings.operator_lang == lang
    # A copy with other overrides keeps the locale it was read with.
    assert settings.with_overrides(**{"zones.snap_meters": 30}).operator_lang == lang


def test_the_operator_language_can_be_set_in_the_file(tmp_path: Path) -> None:
    config = tmp_path / "alerts.toml"
    config.write_text('[service]\noperator_language = "fr"\n')
    assert load_settings(env={"LANG": "en_CA.UTF-8"}, cwd=tmp_path).operator_lang == "fr"
    config.write_text('[service]\noperator_language = "de"\n')
    with pytest.raises(ConfigError, match=r"service\.operator_language.*alerts\.toml"):
        load_settings(env={}, cwd=tmp_path)


def test_forwarded_allow_ips_lists_the_proxies(tmp_path: Path) -> None:
    assert load_settings(env={}, cwd=tmp_path).web.forwarded_allow_ips == ("127.0.0.1", "::1")
    env = {"ALERTS_FORWARDED_ALLOW_IPS": " 10.0.0.5, 10.1.0.0/16 ,"}
    proxies = load_settings(env=env, cwd=tmp_path).web.forwarded_allow_ips
    assert proxies == ("10.0.0.5", "10.1.0.0/16")
    none = load_settings(env={"ALERTS_FORWARDED_ALLOW_IPS": ""}, cwd=tmp_path)
    assert none.web.forwarded_allow_ips == ()  # no proxy: forwarded headers are ignored
    config = tmp_path / "alerts.toml"
    config.write_text('[web]\nforwarded_allow_ips = ["192.0.2.10"]\n')
    assert load_settings(config, env={}).web.forwarded_allow_ips == ("192.0.2.10",)
