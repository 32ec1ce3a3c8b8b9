"""docs/configure/*.png: the configuration page at desktop and phone width, in headless Chromium.

Starts its own stack (Azurite, the Teams sink, the Open-Meteo stand-in, the dev host on
http://localhost), registers a team with a linked channel, two digests and a route, and opens
the page with a link signed as the bot's `configure` signs it. `make configure-shots`.

    python -m tools.configure_shots [--out docs/configure]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from tools import stack

ROOT = Path(__file__).resolve().parent.parent
WIDTHS = {"desktop": (1280, 1100), "phone": (390, 844)}


def _seed(store: object, sink_url: str, team: str, channel_id: str) -> None:
    from shared.actions import Actor
    from shared.actions.subscriptions import add, plan
    from shared.store import Store
    from shared.store.models import Channel, Route, Team

    assert isinstance(store, Store)
    saved = store.teams.add(Team(key=team, name="Contoso Ops", tokens=[]))
    store.channels.save(
        Channel(
            name="ops-alerts",
            url=f"{sink_url}/workflows/ops-alerts",
            teams_channel_id=channel_id,
            team_key=team,
            team_registration=saved.registration,
        )
    )
    store.routes.save(Route(name="grafana-prod", source="grafana", channels=["ops-alerts"], mode="digest"))
    ada = Actor("Ada Lovelace", via="page")
    now = datetime.now(UTC)
    add(store, "ops-alerts", ada, "weather", "Berlin", plan("07:00", "mon-fri", "Europe/Berlin"), now)
    add(
        store,
        "ops-alerts",
        ada,
        "events",
        "grafana-prod",
        plan("09:00, 17:00", "daily", "Europe/Berlin"),
        now,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshots of the configuration page.")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "configure")
    args = parser.parse_args(argv)
    from tools.configure_assets import copy
    from tools.feed_stub import FeedStub
    from tools.render import CHROMIUM_ARGS, find_chromium

    chromium = find_chromium()
    if chromium is None:
        print(
            "configure_shots: no Chromium (apt-get install chromium, or set CHROMIUM=/path)", file=sys.stderr
        )
        return 1
    copy()
    args.out.mkdir(parents=True, exist_ok=True)
    port, sink_port = stack.free_port(), stack.free_port()
    folder = Path(tempfile.mkdtemp(prefix="configure-shots-"))
    with (
        stack.Azurite() as azurite,
        stack.sink_process(sink_port, budget="1000/300"),
        FeedStub(folder) as feeds,
    ):
        feeds.place("Berlin", 52.52, 13.41, country="Germany", timezone="Europe/Berlin")
        sink_url = f"http://127.0.0.1:{sink_port}"
        values = {
            "AzureWebJobsStorage": azurite.connection_string,
            "TEAMS_STORAGE": azurite.connection_string,
            "TABLE_PREFIX": "shots",
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "DELIVERY_EXTRA_ALLOWED_URLS": sink_url + "/",
            "PUBLIC_BASE_URL": f"http://localhost:{port}",
            "FEEDS_ALLOW_LOOPBACK": "true",
            "OPEN_METEO_GEOCODING_URL": feeds.geocoding_url,
            "OPEN_METEO_FORECAST_URL": feeds.forecast_url,
            "DIGEST_SCHEDULE": "0 0 0 1 1 *",
        }
        settings_file = folder / "local.settings.json"
        settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": values}), encoding="utf-8")
        os.environ.update(values)
        from shared import settings

        settings.reload()
        from shared.configure import tokens
        from shared.store import open_store

        store = open_store()
        channel_id = "19:shots@thread.tacv2"
        _seed(store, sink_url, "contoso", channel_id)
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        env.update(values)
        with stack.devhost_process(port, env, settings_file=settings_file, extra_args=["--no-timers"]):
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
                for name, (width, height) in WIDTHS.items():
                    context = browser.new_context(
                        viewport={"width": width, "height": height}, timezone_id="Europe/Berlin"
                    )
                    page = context.new_page()
                    token = tokens.make_link(
                        tokens.signing_key(store),
                        team="contoso",
                        channel=channel_id,
                        person="",
                        name="Ada Lovelace",
                    )
                    page.goto(f"http://localhost:{port}/api/configure/open?t={token}")
                    page.get_by_role("button", name="Continue as Ada Lovelace").click()
                    page.wait_for_url("**/api/configure/channel")
                    page.get_by_label("Place", exact=True).fill("Berlin")
                    page.locator("#runs li").first.wait_for()
                    page.get_by_role("button", name="Show me").click()
                    page.locator("#preview-card[data-rendered=yes]").wait_for()
                    target = args.out / f"{name}.png"
                    page.screenshot(path=str(target), full_page=True)
                    print(f"configure_shots: {target}")
                    context.close()
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
