"""What the form asks while a person types: the next runs, places, and the card it would post."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.actions import ActionError
from shared.actions.subscriptions import Plan

if TYPE_CHECKING:
    from shared.configure.forms import SubscriptionForm
    from shared.store import Store

#: places offered under "did you mean"
MAX_PLACES = 5


def next_runs(when: Plan, now: datetime, count: int = 3) -> list[datetime]:
    """The next `count` runs of a schedule, in UTC (shown in its zone by the caller)."""
    from shared.digest.schedule import next_run
    from shared.store.models import Schedule

    schedule = Schedule(times=when.times, days=when.days, tz=when.tz, cron=None)
    out: list[datetime] = []
    moment = now
    for _ in range(count):
        moment = next_run(schedule, moment)
        out.append(moment)
        moment = moment + timedelta(seconds=1)
    return out


def places(query: str) -> list[str]:
    """Place names the weather geocoder knows for `query` ("did you mean"); [] when none.

    Raises ActionError when the geocoder cannot be asked (the form says so, and saving still works).
    """
    from shared import settings
    from shared.digest.fetch import FetchError, fetch

    query = query.strip()
    if len(query) < 2 or len(query) > 100:
        return []
    params = {"name": query, "count": str(MAX_PLACES), "language": "en", "format": "json"}
    try:
        got = fetch(settings.weather().geocoding_url, params=params, accept="application/json")
        data = json.loads(got.body)
    except (FetchError, ValueError):
        raise ActionError("the place finder cannot be reached right now", field="target") from None
    results = data.get("results") if isinstance(data, dict) else None
    names: list[str] = []
    for item in results if isinstance(results, list) else []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        label = ", ".join(str(p) for p in (item.get("name"), item.get("admin1"), item.get("country")) if p)
        if label not in names:
            names.append(label)
    return names[:MAX_PLACES]


def preview_card(
    store: Store, channel: str, form: SubscriptionForm, when: Plan, now: datetime, sub_id: str | None
) -> dict[str, Any]:
    """The digest card the form's subscription would post now; nothing is posted or committed."""
    from shared.actions.subscriptions import check_target
    from shared.digest.card import build_digest_card
    from shared.digest.feeds.base import FeedContext, FeedError, feed_for
    from shared.store.models import Schedule, Subscription

    target, _note = check_target(store, form.source, form.target, channel)
    draft = Subscription(
        id=sub_id or "preview",
        channel=channel,
        source=form.source,
        target=target,
        settings=form.options() or {},
        schedule=Schedule(times=when.times, days=when.days, tz=when.tz, cron=None),
        post_empty=True,
    )
    try:
        gathered = feed_for(draft.source).gather(draft, FeedContext(store=store, now=now))
    except FeedError as exc:
        raise ActionError(f"nothing to show: {exc}", field="target") from None
    return build_digest_card(gathered, when=now)
