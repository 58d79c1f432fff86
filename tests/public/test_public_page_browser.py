"""The public page in a real browser: Debian's chromium driven by Playwright, over real HTTP.

Skipped when Playwright or /usr/bin/chromium is missing, unless ALERTS_REQUIRE_BROWSER=1.
ALERTS_UPDATE_SCREENSHOT=1 also writes the screenshot to docs/public-page.png (README).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.config import Settings
from alerts.web.app import create_app
from tests.support.paths import REPO
from tests.support.processes import free_port
from tests.support.public import NOW, Clock, add_alert, add_operation, public_services

CHROMIUM = "/usr/bin/chromium"
# What works for Debian's chromium as root in a container, with no network of its own.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
HOUR = timedelta(hours=1)


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no browser at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("ALERTS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"ALERTS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The web app of `alerts serve` under uvicorn on a free port, with an evening's notices."""
    import uvicorn

    settings = Settings().with_overrides(
        **{
            "database.url": f"sqlite:///{tmp_path / 'alerts.db'}",
            "gateway.kind": "file",
            "gateway.file_path": str(tmp_path / "outbox.jsonl"),
        }
    )
    services = public_services(settings, Clock(), **{"service.sms_number": "418 555-0100"})
    notice = add_alert(
        services, zones=("Lac-Doré", "Les Érables"), created_at=NOW - 2 * HOUR,
        text_fr="Déneigement dès 19 h. Stationnement interdit dans la rue de 19 h à 7 h.",
        text_en="Snow removal from 7 p.m. No street parking from 7 p.m. to 7 a.m.",
    )  # fmt: skip
    add_operation(
        services, zones=("Lac-Doré", "Les Érables"), start_at=NOW - HOUR,
        end_at=NOW + 14 * HOUR, notice_alert=notice,
    )  # fmt: skip
    add_operation(
        services, zones=("Côte-Blanche",), start_at=NOW + 24 * HOUR, end_at=NOW + 38 * HOUR
    )
    add_alert(
        services, kind="radar", zones=("Saint-Éloi",), created_at=NOW - 3 * HOUR,
        text_fr="Photoradar demain sur le boulevard du Fort. Respectez les limites.",
        text_en="Photo radar tomorrow on boulevard du Fort. Respect the speed limits.",
    )  # fmt: skip
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    services.close()


def test_the_page_map_zone_pages_and_language_switch_work_in_a_browser(
    browser: Any, site: str, tmp_path: Path
) -> None:
    context = browser.new_context(locale="fr-CA", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{site}/")
    assert page.title().startswith("Déneigement et photoradar dans votre quartier")
    assert page.get_attribute("html", "lang") == "fr-CA"
    zone_links = page.locator("svg.map a")
    assert zone_links.count() == 10
    assert page.locator("svg.map a.state-in_progress").count() == 2
    assert page.locator("svg.map a.state-scheduled").count() == 1

    shot = tmp_path / "public-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("ALERTS_UPDATE_SCREENSHOT") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / "public-page.png")

    # The map's zones are reachable with the keyboard alone.
    focused = ""
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.closest('svg') ? "
                                "document.activeElement.getAttribute('href') : ''")  # fmt: skip
        if focused:
            break
    assert focused.startswith("/zones/")

    page.locator('svg.map a[href="/zones/lac-dore"]').click()
    page.wait_for_url(f"{site}/zones/lac-dore")
    assert page.locator("h1").inner_text() == "Avis pour Lac-Doré"
    assert page.get_by_text("Stationnement interdit dans la rue de 19 h à 7 h").is_visible()
    assert page.get_by_text("Opération en cours").first.is_visible()

    page.get_by_role("link", name="English").click()
    page.wait_for_url(f"{site}/en/zones/lac-dore")
    assert page.get_attribute("html", "lang") == "en-CA"
    assert page.locator("h1").inner_text() == "Notices for Lac-Doré"
    assert page.get_by_text("No street parking from 7 p.m. to 7 a.m.").is_visible()

    page.get_by_role("link", name="All neighbourhoods").click()
    page.wait_for_url(f"{site}/en")
    assert (
        page.locator("svg.map a").first.get_attribute("href", timeout=2000).startswith("/en/zones/")
    )
    page.get_by_role("link", name="Français").click()
    page.wait_for_url(f"{site}/fr")
    assert page.get_attribute("html", "lang") == "fr-CA"
    context.close()
