"""Shared core: a channel linked with the admin CLI, a card built, checked and delivered to it."""

from __future__ import annotations

from typing import Any


def run(ctx: Any) -> None:
    from shared.cards import envelopes, limits
    from shared.cards.builders import CardBuilder, Status
    from shared.cards.markdown import escape
    from shared.delivery import deliver

    url = ctx.sink.workflow_url("ops")
    ctx.admin("channel", "add", "ops", "--url", url)
    listing = ctx.admin("channel", "list").stdout.strip()
    ctx.print("admin channel list (URLs masked):")
    for line in listing.splitlines():
        ctx.print("  " + line)

    builder = CardBuilder("Deployment finished", status=Status.GOOD, subtitle="shared core demo")
    builder.text("Version **2.4.1** is live in _westeurope_.")
    builder.facts(
        [
            ("Service", "checkout"),
            ("Duration", "3 min 12 s"),
            # user data goes through escape(): shown as typed, only real formatting is escaped
            ("Last alert", escape("[FIRING:2] HighErrorRate on api_gw *all* routes")),
        ]
    )
    builder.button("Open the release", "https://example.com/releases/2.4.1")
    card = builder.build()
    limits.check_webhook(card)
    parts = limits.fit(card)
    size = limits.message_size(card)
    ctx.print(f"card checked against Teams' rules: {size} bytes, {len(parts)} message(s) under the cap")
    ctx.print(f"  fact shown as: {card['body'][-1]['facts'][-1]['value']}")

    result = deliver(ctx.store(), "ops", card, key="demo-core-1")
    ctx.print(f"delivered to channel 'ops': {result.state} ({result.detail})")

    digest = CardBuilder("Nightly inventory", status=Status.ACCENT)
    digest.facts([(f"item {i:03d}", "in stock · " * 12) for i in range(300)])
    big = digest.build()
    pieces = limits.fit(big)
    ctx.print(
        f"a {limits.message_size(big)}-byte card (over Teams' 28 KB) goes as {len(pieces)} numbered parts: "
        + ", ".join(str(len(envelopes.dumps(envelopes.workflows_message(p)))) for p in pieces)
        + " bytes"
    )
    result = deliver(ctx.store(), "ops", big, key="demo-core-2")
    ctx.print(f"delivered to channel 'ops': {result.state} ({result.detail})")

    received = ctx.sink.messages("ops")
    if len(received) != 1 + len(pieces):
        raise RuntimeError(f"the sink holds {len(received)} message(s), expected {1 + len(pieces)}")
    if envelopes.cards_of(received[0]) != [card]:
        raise RuntimeError("the sink did not receive the card as built")
    ctx.print(f"the sink's channel 'ops' holds {len(received)} message(s), in order")
