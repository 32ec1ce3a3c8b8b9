"""Scheduled digests: events, RSS and weather subscriptions made with the admin CLI, the timer run
over HTTP (POST /admin/functions/scheduled_connector), and the digests that reached the channels."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tools import feed_stub
from tools.feed_stub import FeedStub


def _post_events(ctx: Any, route: str) -> None:
    url = f"{ctx.devhost_url}/api/incoming/{route}"
    for i, status in enumerate(["firing", "resolved", "firing", "resolved", "resolved"]):
        body = {"title": f"Disk usage high on node-{i % 3}", "status": status, "text": f"nightly batch {i}"}
        reply = requests.post(url, json=body, timeout=30)
        if reply.status_code >= 300:
            raise RuntimeError(
                f"incoming post to {route} answered HTTP {reply.status_code}: {reply.text[:200]}"
            )


def _make_due(ctx: Any, ids: list[str]) -> None:
    """The subscriptions were made for their real schedule; bring them forward so the timer sends now."""
    store = ctx.store()
    for sub_id in ids:
        sub = store.subscriptions.get(sub_id)
        sub.next_run = datetime.now(UTC) - timedelta(minutes=1)
        store.subscriptions.save(sub)


def _sub_id(out: str) -> str:
    # "subscription <id>: ..." is the admin CLI's confirmation line.
    line = next(line for line in out.splitlines() if line.startswith("subscription "))
    return line.split()[1].rstrip(":")


def _subscribe(ctx: Any, channel: str, source: str, at: str, days: str) -> str:
    """`admin subscription add` in Berlin time; prints the confirmation and returns the new id."""
    out = ctx.admin(
        "subscription",
        "add",
        "--channel",
        channel,
        "--source",
        source,
        "--at",
        at,
        "--days",
        days,
        "--tz",
        "Europe/Berlin",
    ).stdout
    ctx.print(out.strip().splitlines()[-1])
    return _sub_id(out)


def run(ctx: Any) -> None:
    shared_stub = ctx.extras.get("feed_stub")
    stub = shared_stub or FeedStub().start()
    try:
        _run(ctx, stub)
    finally:
        if shared_stub is None:
            stub.stop()


def _run(ctx: Any, stub: FeedStub) -> None:
    channel = "digests"
    ctx.admin("channel", "add", channel, "--url", ctx.sink.workflow_url(channel))
    route = ["--source", "generic", "--to", channel, "--mode", "digest", "--auth", "none"]
    ctx.admin("route", "add", "nightly", *route)

    feed_url = stub.put(
        "release-notes.xml",
        feed_stub.rss(
            "Product release notes",
            [
                {
                    "title": f"Version 2.{n} released",
                    "link": f"https://example.org/releases/2.{n}",
                    "guid": f"rel-2.{n}",
                    "pubDate": f"Mon, {10 + n:02d} Nov 2025 09:00:00 GMT",
                    "description": f"<p>What is new in <b>2.{n}</b>.</p>",
                }
                for n in range(1, 5)
            ],
        ),
    )
    stub.place(
        "Berlin",
        52.52,
        13.41,
        country="Germany",
        timezone="Europe/Berlin",
        t_min=3.0,
        t_max=9.5,
        code=61,
        rain=2.4,
        chance=70,
    )

    subs = [
        _subscribe(ctx, channel, source, "08:00", "mon-fri")
        for source in ("events:nightly", f"rss:{feed_url}")
    ]
    _post_events(ctx, "nightly")

    weather_via_timer = bool(ctx.settings.get("OPEN_METEO_FORECAST_URL"))
    weather_id = _subscribe(ctx, channel, "weather:Berlin", "07:00", "daily")
    _make_due(ctx, subs + ([weather_id] if weather_via_timer else []))

    before = len(ctx.sink.messages(channel))
    reply = requests.post(f"{ctx.devhost_url}/admin/functions/scheduled_connector", json={}, timeout=30)
    ctx.print(f"POST /admin/functions/scheduled_connector -> HTTP {reply.status_code}")
    expected = before + len(subs) + (1 if weather_via_timer else 0)
    ctx.sink.wait_for_messages(channel, expected, timeout=30)

    if not weather_via_timer:
        # The dev host was started without OPEN_METEO_* pointing at a stand-in, so the weather
        # digest is sent from here (same code path, `digest <id> now`) against the local stub.
        os.environ["OPEN_METEO_FORECAST_URL"] = stub.forecast_url
        os.environ["OPEN_METEO_GEOCODING_URL"] = stub.geocoding_url
        from shared import settings

        settings.reload()  # the app reads its settings once per process
        from shared.digest.run import send_now

        result = send_now(ctx.store(), weather_id)
        ctx.print("weather:", result.outcome.value, result.detail or "")

    time.sleep(0.5)
    for message in ctx.sink.messages(channel)[before:]:
        card = message["attachments"][0]["content"]
        title = card["body"][0]["items"][0]["text"]
        lines = [
            b.get("text", "")
            for b in card["body"][1:]
            if isinstance(b, dict) and b.get("type") == "TextBlock"
        ]
        facts = [
            f"{f['title']}: {f['value']}"
            for b in card["body"]
            if b.get("type") == "FactSet"
            for f in b["facts"]
        ]
        ctx.print(f"digest '{title}'")
        for text in (lines[:1] + facts)[:4]:
            ctx.print("    " + text.replace("\n", " | ")[:110])
    status = ctx.admin("subscription", "list", "--channel", channel).stdout
    for line in status.strip().splitlines():
        ctx.print(line[:150])
