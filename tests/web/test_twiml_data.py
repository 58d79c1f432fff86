"""TwiML replies stay XML whatever the data they quote holds (a zone name, say)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fastapi.testclient import TestClient

from alerts.wiring import Services
from tests.support.hostile import BELL, ESCAPE, rename_zone
from tests.support.webhooks import inbound_fields, signed


def test_a_reply_quoting_a_name_with_control_characters_is_well_formed_twiml(
    client: TestClient, app_services: Services
) -> None:
    rename_zone(app_services, "Lac-Doré", BELL)
    rename_zone(app_services, "Saint-Éloi", ESCAPE)
    fields = inbound_fields("abonner 1090 ch. du Lac-Doré")  # in the zone renamed BELL
    response = client.post("/sms/inbound", data=fields, headers=signed("/sms/inbound", fields))
    assert response.status_code == 200
    [reply] = [m.text or "" for m in ET.fromstring(response.text).iter("Message")]
    assert "Évil Nord" in reply  # the names, without what XML cannot hold
    assert "\x07" not in reply and "\x1b" not in reply
