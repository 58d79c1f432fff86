"""`alerts demo`: a fresh database, the demo town, and the service's loop told step by step."""

from __future__ import annotations

import itertools
from pathlib import Path

from alerts.config import Settings
from alerts.core.phones import mask_phone
from alerts.demo.narrator import Narrator
from alerts.demo.operator_steps import live_operation, send_snow_alert
from alerts.places.layers import import_addresses, import_zones
from alerts.places.zone_list import list_zones
from alerts.sms.conversation import handle_inbound
from alerts.sms.turn import InboundSms
from alerts.subscribers.subscribers import add_subscriber
from alerts.wiring import Services, build

DEMO_DATA = Path(__file__).resolve().parent
DEMO_LAYER = DEMO_DATA / "val-givre-quartiers.geojson"
DEMO_ADDRESSES = DEMO_DATA / "val-givre-adresses.csv"

# Fictional numbers (555-01xx is reserved for fiction in North America).
SAMPLE_SUBSCRIBERS = [
    {"phone": "+1 418 555 0101", "zone": "st-eloi", "lang": "fr"},
    {"phone": "+1 418 555 0102", "address": "120 Rue Saint-Jean-des-Neiges", "lang": "en"},
    {"phone": "+1 418 555 0103", "at": "47.0395,-71.3220", "lang": "fr"},
    {"phone": "+1 418 555 0104", "zone": "Les Erables", "lang": "en", "topics": "snow"},
    {"phone": "+1 418 555 0105", "address": "25 boul. du Fort", "lang": "fr", "topics": "radar"},
]


# Two residents text the service; one in French by address, one in English by map link.
SAMPLE_CONVERSATION = [
    ("+14185550110", "Bonjour"),
    ("+14185550110", "ABONNER 1090 ch. du Lac-Doré"),
    ("+14185550110", "oui"),
    ("+14185550111", "subscribe https://www.openstreetmap.org/#map=17/47.0395/-71.3220"),
    ("+14185550111", "YES"),
    ("+14185550111", "stop radar"),
    ("+14185550110", "AIDE"),
]
_sids = itertools.count(1)


def _demo_sid() -> str:
    return f"SMdemo{next(_sids):026d}"


DEMO_CONFIG = {
    "database.url": "sqlite:///{folder}/alerts.db",
    "gateway.kind": "console",
    "service.name_fr": "Alertes Val-Givré",
    "service.name_en": "Val-Givré Alerts",
    "service.sms_number": "418 555-0100",  # a fictional 555-01xx number, for the public page
    "service.exercise": True,  # CAP documents of the demo say status Exercise
    "dispatch.rate_per_second": 50.0,
}


def demo_settings(folder: Path) -> Settings:
    """Embedded defaults for the demo: SQLite in its folder, the console gateway."""
    values = {key: value.format(folder=folder) if isinstance(value, str) else value
              for key, value in DEMO_CONFIG.items()}  # fmt: skip
    return Settings().with_overrides(**values)


def write_demo_config(folder: Path) -> Path:
    """The demo's settings as a config file, so `alerts --config` can serve its database."""
    sections: dict[str, list[str]] = {}
    for key, value in DEMO_CONFIG.items():
        section, _, name = key.partition(".")
        shown = str(value).lower() if isinstance(value, bool) else value
        text = (
            f'"{shown.format(folder=folder)}"'
            if isinstance(shown, str) and not isinstance(value, bool)
            else shown
        )
        sections.setdefault(section, []).append(f"{name} = {text}")
    path = folder / "alerts.toml"
    path.write_text(
        "\n".join(
            f"[{section}]\n" + "\n".join(lines) + "\n" for section, lines in sections.items()
        ),
        encoding="utf-8",
    )
    return path


def run_demo(folder: Path, narrator: Narrator) -> Services:
    """Run the demo in `folder` (created, must be empty) and return its wired services."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        from alerts.errors import UsageError

        raise UsageError(f"demo folder {folder} is not empty; give a new one with --dir")
    services = build(demo_settings(folder))
    narrator.step(f"A fresh SQLite database in {folder}")
    narrator.say(f"schema created: {services.settings.database.redacted_url()}")

    narrator.step("The city's neighbourhood layer (the fictional town of Val-Givré)")
    report = import_zones(services, str(DEMO_LAYER))
    narrator.say(f"{report.imported} neighbourhoods imported (coordinates {report.crs})")
    count = import_addresses(services, DEMO_ADDRESSES)
    narrator.say(f"{count} civic addresses loaded into the gazetteer")

    narrator.step("Residents subscribed by an operator (by name, address or coordinates)")
    for sample in SAMPLE_SUBSCRIBERS:
        given = {k: v for k, v in sample.items() if k != "phone"}
        view = add_subscriber(services, sample["phone"], **given)
        how = next(f"{k} {v!r}" for k, v in sample.items() if k in ("zone", "address", "at"))
        zones, topics = ", ".join(view.zones), ", ".join(view.topics)
        narrator.say(f"{view.phone}  {how} -> {zones}  [{view.lang}; {topics}]")

    narrator.step("Residents subscribe by text message (the webhook's conversation)")
    for phone, body in SAMPLE_CONVERSATION:
        sms = InboundSms(sender=phone, body=body, message_sid=_demo_sid())
        outcome = handle_inbound(services, sms)
        narrator.say(f"{mask_phone(phone)} > {body}")
        narrator.say(f"{'':>12} < {outcome.reply or '(no reply)'}")

    narrator.step("Subscribers per neighbourhood")
    for zone in list_zones(services):
        narrator.say(f"{zone.name:<32} {zone.area_km2:6.2f} km²  {zone.subscribers} subscriber(s)")

    narrator.step("An operator previews and sends a snow-removal alert")
    send_snow_alert(services, narrator)

    narrator.step("A planned operation: the clock sends notice, reminder and all-clear on time")
    live_operation(services, narrator)

    config = write_demo_config(folder)
    narrator.step("The public page, feeds and metrics of this demo")
    narrator.say(f"run:  alerts --config {config} serve")
    narrator.say("then open http://127.0.0.1:8000/ (feeds: /alerts.atom, /alerts.geojson)")
    return services
