"""Digest subscriptions of one channel: add, edit, pause or resume, remove.

The same caps and checks for the bot and the page: `MAX_SUBSCRIPTIONS_PER_CHANNEL` per channel,
`schedule.MAX_TIMES` times a day, feed URLs vetted by the fetcher's SSRF rules, routes only
when they post to this channel. Each change is attributed (`changes.record`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.actions import ActionError, Actor, changes

if TYPE_CHECKING:
    from shared.store import Store
    from shared.store.models import Schedule, Subscription

__all__ = ["Plan", "add", "check_target", "edit", "own", "plan", "remove", "set_paused", "summary"]

#: a place name longer than this is no place
MAX_PLACE = 100


@dataclass(frozen=True)
class Plan:
    """A checked schedule (what the form or the command said)."""

    times: list[str]
    days: list[int]
    tz: str


def plan(times: str, days: str, tz: str) -> Plan:
    """Times ("07:00, 18:30"), days ("mon-fri") and an IANA zone, checked; ActionError per field."""
    from shared.digest import schedule as sched

    try:
        parsed_times = sched.parse_times(times)
    except ValueError as exc:
        raise ActionError(str(exc), field="times") from None
    try:
        parsed_days = sched.parse_days(days)
    except ValueError as exc:
        raise ActionError(str(exc), field="days") from None
    try:
        zone = sched.check_tz(tz)
    except ValueError as exc:
        raise ActionError(str(exc), field="tz") from None
    return Plan(parsed_times, parsed_days, zone)


def check_url(target: str) -> str:
    """A feed URL as typed, under the fetcher's rules: http(s), and no private, loopback (unless
    allowed), link-local or platform address. A host that does not resolve now is kept: every
    fetch checks the addresses again."""
    from shared.digest.fetch import FetchError, feed_url
    from shared.digest.fetch import check_url as vet

    url = feed_url(target)
    if url is None or len(url) > 2000:
        raise ActionError("the feed must be an http(s) URL", field="target")
    try:
        vet(url)
    except FetchError as exc:
        if not str(exc).startswith("cannot resolve host"):
            raise ActionError(f"this URL cannot be used: {exc}", field="target") from None
    return url


def check_target(store: Store, source: str, target: str, channel: str) -> tuple[str, str | None]:
    """The target to store, and a note when the subscription will stay quiet."""
    from shared.digest import feeds

    if source not in feeds.kinds():
        raise ActionError(f"unknown kind {source[:20]!r}", field="source")
    target = target.strip()
    if not target:
        raise ActionError(f"{source} needs a target", field="target")
    wants = feeds.REGISTRY.row(source).target
    if wants == "url":
        return check_url(target), None
    if wants == "place":
        if len(target) > MAX_PLACE:
            raise ActionError("the place name is too long", field="target")
        return target, None
    from shared.store.errors import NotFound

    try:
        route = store.routes.get(target)
    except (NotFound, ValueError):
        route = None
    # Only routes that feed this channel: another channel's alerts are not ours to read, and the
    # answer does not tell those apart from routes that do not exist.
    if route is None or channel not in route.channels:
        raise ActionError(
            f'there is no incoming route "{target[:60]}" for this channel', field="target", code="no_route"
        )
    note = None
    if route.mode != "digest":
        note = (
            f"Route {route.name} posts at once, so this digest stays empty until an operator switches "
            "the route to digest mode."
        )
    return str(route.name), note


def new_id() -> str:
    """48 random bits (ids made before had 24: they still work, ids are looked up as given)."""
    return "s" + secrets.token_hex(6)


def summary(sub: Subscription) -> str:
    """ "a weather digest at 07:00": how the change card names a subscription."""
    article = "an" if sub.source[:1] in "aeiou" else "a"
    return f"{article} {sub.source} digest at {', '.join(sub.schedule.times)}"


def _schedule(p: Plan) -> Schedule:
    from shared.store.models import Schedule

    return Schedule(times=p.times, days=p.days, tz=p.tz, cron=None)


def add(
    store: Store,
    channel: str,
    actor: Actor,
    source: str,
    target: str,
    when: Plan,
    now: datetime,
    options: dict[str, Any] | None = None,
) -> tuple[Subscription, str | None]:
    """A new subscription (the cap first, then the target); the channel is told."""
    changes.admit(channel)
    from shared.digest.schedule import next_run
    from shared.store.models import MAX_SUBSCRIPTIONS_PER_CHANNEL, Subscription

    if len(store.subscriptions.list(channel=channel)) >= MAX_SUBSCRIPTIONS_PER_CHANNEL:
        raise ActionError(
            f"this channel has {MAX_SUBSCRIPTIONS_PER_CHANNEL} subscriptions, the most it may have",
            code="cap",
        )
    checked, note = check_target(store, source, target, channel)
    schedule = _schedule(when)
    sub = Subscription(
        id=new_id(),
        channel=channel,
        source=source,
        target=checked,
        settings=options or {},
        schedule=schedule,
        next_run=next_run(schedule, now),
        created_by=actor.name,
    )
    saved = store.subscriptions.add(sub)
    changes.record(store, channel, actor, f"added {summary(saved)}")
    return saved, note


def own(store: Store, channel: str, sub_id: str) -> Subscription:
    """The subscription `sub_id` of this channel; "not found" for other channels' ids too."""
    from shared.store.errors import NotFound

    try:
        sub = store.subscriptions.get(sub_id)
    except (NotFound, ValueError):
        sub = None
    if sub is None or sub.channel != channel:
        raise ActionError(f"no subscription {sub_id[:40]} in this channel", code="not_found")
    return sub


def edit(
    store: Store,
    channel: str,
    actor: Actor,
    sub_id: str,
    target: str,
    when: Plan,
    now: datetime,
    options: dict[str, Any] | None = None,
) -> tuple[Subscription, str | None]:
    """New target and schedule for a subscription (its kind stays); the channel is told."""
    changes.admit(channel)
    from shared.digest.schedule import next_run
    from shared.store.errors import Conflict

    for _attempt in range(3):
        sub = own(store, channel, sub_id)
        checked, note = check_target(store, sub.source, target, channel)
        sub.target = checked
        if options is not None:
            sub.settings = options
        sub.schedule = _schedule(when)
        sub.next_run = next_run(sub.schedule, now)
        try:
            saved = store.subscriptions.save(sub)
        except Conflict:
            continue  # the digest timer touched it meanwhile: read again
        changes.record(store, channel, actor, f"changed {summary(saved)}")
        return saved, note
    raise ActionError("the subscription kept changing while I tried; try again", code="busy")


def set_paused(
    store: Store, channel: str, actor: Actor, sub_id: str, paused: bool, now: datetime
) -> tuple[Subscription, bool]:
    """Pause or resume; (the subscription, whether it changed)."""
    changes.admit(channel)
    from shared.digest.schedule import next_run
    from shared.store.errors import Conflict

    for _attempt in range(3):
        sub = own(store, channel, sub_id)
        if sub.paused == paused:
            return sub, False
        sub.paused = paused
        if not paused:
            sub.next_run = next_run(sub.schedule, now)
        try:
            saved = store.subscriptions.save(sub)
        except Conflict:
            continue
        changes.record(store, channel, actor, f"{'paused' if paused else 'resumed'} {summary(saved)}")
        return saved, True
    raise ActionError("the subscription kept changing while I tried; try again", code="busy")


def remove(store: Store, channel: str, actor: Actor, sub_id: str) -> Subscription:
    """Delete the subscription and its buffered events; the channel is told."""
    changes.admit(channel)
    from shared.store.purge import remove_subscription

    sub = own(store, channel, sub_id)
    remove_subscription(store, sub.id)
    changes.record(store, channel, actor, f"removed {summary(sub)}")
    return sub
