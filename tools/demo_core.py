"""Shared core: a channel linked with the admin CLI, a card built, checked and delivered to it."""

from __future__ import annotations

from typing import Any


def run(ctx: Any) -> None:
    from shared.cards import limits
    from shared.cards.builders import CardBuilder, Status
    from shared.delivery import client

    url = ctx.sink.workflow_url("ops")
    ctx.admin("channel", "add", "ops", "--url", url)
    listing = ctx.admin("channel", "list").stdout.strip()
    ctx.print("admin channel list (URLs masked):")
    for line in listing.splitlines():
        ctx.print("  " + line)

    builder = CardBuilder("Deployment finished", status=Status.GOOD, subtitle="shared core demo")
    builder.text("Version **2.4.1** is live in _westeurope_.")
    builder.facts(
        [("Service", "checkout"), ("Duration", "3 min 12 s"), ('Quotes "and" {brackets}', "kept as data")]
    )
    builder.button("Open the release", "https://example.com/releases/2.4.1")
    card = builder.build()
    limits.check_webhook(card)
    parts = limits.fit(card)
    ctx.print(f"card checked against Teams' rules; {len(parts)} message(s) under the size cap")

    result = client.deliver(ctx.store(), "ops", card, key="demo-core-1")
    ctx.print(f"delivered to channel 'ops': {result.state} ({result.detail})")
    received = ctx.sink.messages("ops")
    if not received:
        raise RuntimeError("the sink did not receive the card")
    ctx.print(f"the sink's channel 'ops' holds {len(received)} message(s)")
