"""Link a channel to its Workflows webhook (the bot's `connect`, the page's link form).

A URL must pass the delivery allow-list; a locked channel, or one owned by another team's
registration, is not changed; a linked channel changes only when asked to replace, and then the
old link (the one known to reach it) is told who replaced it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from shared.actions import ActionError, Actor, changes

if TYPE_CHECKING:
    from shared.store import Store
    from shared.store.models import Channel

__all__ = ["channel_name_for", "connect"]


def channel_name_for(team: str, teams_channel_id: str) -> str:
    """Our channel name for a Teams channel: readable team key plus a short, stable hash."""
    digest = hashlib.sha256(teams_channel_id.encode("utf-8")).hexdigest()[:8]
    return f"{team}-{digest}"


def _notify_replaced(store: Store, name: str, actor: Actor) -> None:
    import logging

    from shared.cards.builders import CardBuilder, Status
    from shared.cards.markdown import escape
    from shared.delivery import deliver

    how = "the configuration page" if actor.via == "page" else "the bot's **connect --replace**"
    card = (
        CardBuilder("Workflows link replaced", status=Status.WARNING)
        .text(f"{escape(actor.name)} replaced this channel's Workflows link with {how}.")
        .text("If that was not meant, an admin can restore it and lock it: **admin channel lock**.")
        .build()
    )
    try:
        deliver(store, name, card, budget_seconds=1.5, origin="bot")
    except Exception as exc:  # the store is down: the replacement goes on, the reply says who
        from shared.web import log_failure

        log = logging.getLogger(__name__)
        log_failure(log, f"actions: could not tell channel {name} of its new link", exc)


def connect(
    store: Store,
    *,
    team: str,
    registration: str,
    teams_channel_id: str,
    existing: Channel | None,
    foreign: bool,
    url: str,
    replace: bool,
    actor: Actor,
) -> tuple[Channel, bool]:
    """Save the link; (the channel, whether an older link was replaced)."""
    from shared.delivery.allowlist import DestinationNotAllowed, check_destination, mask
    from shared.store.models import Channel

    try:
        check_destination(url)
    except DestinationNotAllowed as exc:
        raise ActionError(f"this URL cannot be used: {exc}", field="url", code="url") from None
    if foreign:
        raise ActionError(
            "this channel belongs to another team's webhook registration, or to none", code="foreign"
        )
    if existing is not None and existing.locked:
        raise ActionError(
            "an admin has locked this channel's link, so it cannot be changed from here", code="locked"
        )
    if existing is not None and existing.url and existing.url != url and not replace:
        raise ActionError(
            f"this channel is connected already (webhook {mask(existing.url)})", field="url", code="connected"
        )
    name = existing.name if existing is not None else channel_name_for(team, teams_channel_id)
    changes.admit(name)
    replaced = existing is not None and bool(existing.url) and existing.url != url
    if replaced:
        _notify_replaced(store, name, actor)
    record = Channel(
        name=name,
        url=url,
        teams_channel_id=teams_channel_id,
        team_key=team,
        team_registration=registration or None,
    )
    if existing is not None:
        # The connection (flow owner) is the operator's to assign (`admin channel set --connection`):
        # a chat member could otherwise move the channel onto another team's budget.
        record.connection = existing.connection
    if existing is not None and getattr(existing, "created", None) is not None:
        record.created = existing.created
    saved = store.channels.save(record)
    what = "replaced the Workflows link" if replaced else "linked the Workflows webhook"
    changes.record(store, name, actor, what, post=not replaced)  # a replacement was told already
    return saved, replaced
