"""Operators' CLI over the same tables and settings as the functions: `python -m shared.admin`.

Settings come from the environment, after the Values of the project's own `local.settings.json`
(at the repository root, never the current directory's: a planted file could point the store or
proxies elsewhere) or of `--settings FILE` are loaded into it; the process environment wins. Output is a
table for people or JSON with `--json`. Exit codes: 0 done, 2 usage error (bad flags or values),
1 failure (missing record, store unreachable, ...), always with a message that says what to do.
Secrets (team tokens, webhook URLs, route secrets) are read from files or standard input, never
echoed, and never printed: URLs are masked, tokens and secrets only counted. The one exception is a
route secret made by `route add --generate-secret`, printed once when it is made.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared import settings
from shared.store.errors import Conflict, NotFound, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from shared.store import Store
    from shared.store.models import Channel, OutboxItem, Route, Schedule, Subscription, Team

ROOT = Path(__file__).resolve().parent.parent
#: how errors describe store.models.ROUTE_NAME (route names and team keys become part of a URL)
NAME_RULE = "1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit"
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")


class UsageError(Exception):
    """Bad input on the command line: exit 2."""


class Failure(Exception):
    """The command could not be done: exit 1."""


# --- plumbing ------------------------------------------------------------------------------------


def load_settings(named: str | None = None) -> Path | None:
    """Load the Values of `named` (`--settings`), else of the repository's own
    `local.settings.json` when there is one; the environment wins. Never the current directory's."""
    path = Path(named) if named else ROOT / "local.settings.json"
    if not named and not path.is_file():
        return None
    try:
        settings.load_local_settings(path)
    except ValueError as exc:  # names the file and the problem, never a value
        raise Failure(f"{exc}; fix or remove it") from None
    except OSError as exc:
        raise Failure(f"{path} cannot be read ({type(exc).__name__}); fix it or name another") from None
    return path


_store: Store | None = None


def store() -> Store:
    global _store
    if _store is None:
        from shared.store import open_store

        try:
            _store = open_store()
        except ValueError as exc:  # a bad TABLE_PREFIX: configuration, not the command line
            raise Failure(f"{exc}; fix TABLE_PREFIX in the environment or local.settings.json") from None
    return _store


def read_secret(path: str | None, what: str) -> str:
    """A secret from a file, from piped standard input, or typed at a hidden prompt."""
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"cannot read {what} from {path}: {exc.strerror or type(exc).__name__}"
            ) from None
    elif sys.stdin is not None and sys.stdin.isatty():
        text = getpass.getpass(f"{what}: ")
    else:
        text = sys.stdin.read() if sys.stdin is not None else ""
    text = text.strip()
    if not text:
        raise UsageError(f"no {what} given: pass --{what.split()[-1]}-file PATH or pipe it on standard input")
    return text


def fmt_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def emit(args: argparse.Namespace, data: Any, text: str | None = None) -> None:
    """Print JSON for scripts, or `text` for people."""
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    elif text is not None:
        print(text)


def table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[str(row.get(c, "") if row.get(c) is not None else "-") for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def mask_url(url: str) -> str:
    try:
        from shared.delivery.allowlist import mask
    except ImportError:  # the delivery package is missing: show the host only
        from urllib.parse import urlsplit

        return f"{urlsplit(url).scheme}://{urlsplit(url).hostname}/…"
    return mask(url)


def check_url(url: str) -> None:
    from shared.delivery.allowlist import DestinationNotAllowed, check_destination

    try:
        check_destination(url)
    except DestinationNotAllowed as exc:
        raise UsageError(f"channel URL not allowed: {exc}") from None


# --- teams ---------------------------------------------------------------------------------------


def team_row(team: Team) -> dict[str, Any]:
    return {
        "key": team.key,
        "name": team.name,
        "tokens": len(team.tokens),
        "teams_team_id": team.teams_team_id,
        "tenant_id": team.tenant_id,
        "url": settings.public_url("outgoing", team.key),
        "created": iso(team.created),
    }


def read_token(path: str | None) -> str:
    from shared.store.models import check_token

    try:
        return check_token(read_secret(path, "team token"))
    except ValueError as exc:
        raise UsageError(
            f"{exc}; copy the security token Teams showed when you created the webhook"
        ) from None


def team_add(args: argparse.Namespace) -> None:
    from shared.store.models import ROUTE_NAME, Team

    if not ROUTE_NAME.match(args.key):
        raise UsageError(f"a team key is {NAME_RULE} (it becomes part of a URL)")
    token = read_token(args.token_file)
    record = Team(
        key=args.key,
        name=args.name or args.key,
        tokens=[token],
        teams_team_id=args.teams_team_id or None,
        tenant_id=args.tenant_id or None,
    )
    try:
        team = store().teams.add(record)
    except Conflict:
        raise Failure(f"team {args.key!r} exists; use `team rotate {args.key}` to add a token") from None
    row = team_row(team)
    bound = (
        "bound to the given Teams team and tenant"
        if team.teams_team_id and team.tenant_id
        else "it learns its Teams team and tenant from its first message"
    )
    emit(
        args,
        row,
        f"added team {team.key!r} ({team.name}) with 1 token, {bound}; callback URL for Teams: {row['url']}",
    )


def team_rebind(args: argparse.Namespace) -> None:
    """Set (or forget, to learn again from the next message) the Teams team and tenant of a team."""
    team = store().teams.get(args.key)
    team.teams_team_id = args.teams_team_id or None
    team.tenant_id = args.tenant_id or None
    team = store().teams.save(team)
    shown = (
        f"bound to Teams team {team.teams_team_id!r}, tenant {team.tenant_id!r}"
        if team.teams_team_id or team.tenant_id
        else "unbound: it learns its Teams team and tenant from its next message"
    )
    emit(args, team_row(team), f"team {team.key!r} {shown}")


def team_list(args: argparse.Namespace) -> None:
    rows = [team_row(t) for t in store().teams.list()]
    emit(args, rows, table(rows, ["key", "name", "tokens", "url"]))


def team_rotate(args: argparse.Namespace) -> None:
    token = read_token(args.token_file)
    team = store().teams.get(args.key)
    if token in team.tokens:
        raise UsageError("that token is already active for this team")
    team.tokens = [*team.tokens, token]
    team = store().teams.save(team)
    emit(
        args,
        team_row(team),
        f"team {team.key!r} now has {len(team.tokens)} active tokens; the old one stays valid until "
        f"`team retire-token {team.key}`",
    )


def team_retire_token(args: argparse.Namespace) -> None:
    team = store().teams.get(args.key)
    retired = len(team.tokens) - 1
    if retired <= 0:
        emit(args, team_row(team), f"team {team.key!r} has one token; nothing to retire")
        return
    team.tokens = team.tokens[-1:]
    team = store().teams.save(team)
    emit(
        args, team_row(team), f"retired {retired} old token(s) of team {team.key!r}; the newest stays active"
    )


def team_remove(args: argparse.Namespace) -> None:
    store().teams.remove(args.key)
    emit(
        args,
        {"removed": args.key},
        f"removed team {args.key!r}; its channels stay, and a team added again under this key does "
        "not own them (give them to it with `channel add NAME --replace --team KEY`)",
    )


# --- channels ------------------------------------------------------------------------------------


def channel_row(channel: Channel) -> dict[str, Any]:
    return {
        "name": channel.name,
        "url": mask_url(channel.url),
        "teams_channel_id": channel.teams_channel_id,
        "team": channel.team_key,
        "locked": channel.locked,
        "connection": channel.connection,
        "created": iso(channel.created),
    }


def check_connection(name: str | None) -> str | None:
    from shared.store.models import CONNECTION_NAME

    if name is not None and not CONNECTION_NAME.match(name):
        raise UsageError(f"a connection name is {NAME_RULE}")
    return name


def channel_add(args: argparse.Namespace) -> None:
    from shared.store.models import Channel

    if not CHANNEL_NAME.match(args.name):
        raise UsageError("a channel name is 1-64 letters, digits, spaces, dots, dashes or underscores")
    if args.url and args.url_file:
        raise UsageError("give --url or --url-file, not both")
    url = args.url or read_secret(args.url_file, "url")
    check_url(url)
    connection = check_connection(args.connection)
    registration = None
    if args.team:
        # The channel belongs to this registration of the key, not to a later one.
        owner = store().teams.find(args.team)
        if owner is None:
            raise UsageError(f"no team {args.team!r}: add it first with `team add {args.team}`")
        registration = owner.registration or None
    channel = Channel(
        name=args.name,
        url=url,
        teams_channel_id=args.teams_channel_id,
        team_key=args.team,
        team_registration=registration,
        **({"connection": connection} if connection else {}),
    )
    repo = store().channels
    try:
        if args.replace:
            # A new URL keeps the link the bot made (and the team) unless new ones are given.
            current = repo.find(args.name)
            if current is not None:
                keep = not args.team
                channel = current.model_copy(
                    update={
                        "url": url,
                        "teams_channel_id": args.teams_channel_id or current.teams_channel_id,
                        "team_key": current.team_key if keep else args.team,
                        "team_registration": current.team_registration if keep else registration,
                        "connection": connection or current.connection,
                    }
                )
            saved = repo.save(channel)
        else:
            saved = repo.add(channel)
    except Conflict:
        if args.replace:
            raise Failure(f"channel {args.name!r} changed meanwhile; run the command again") from None
        raise Failure(f"channel {args.name!r} exists; add --replace to give it a new URL") from None
    note = ""
    if saved.teams_channel_id and not saved.team_key:
        note = (
            "; it has no team, so the bot does not serve it (no team's token may take it over): "
            "add --replace --team KEY to give it to the team whose webhook is in that channel"
        )
    emit(
        args,
        channel_row(saved),
        f"{'saved' if args.replace else 'added'} channel {saved.name!r} -> {mask_url(url)}{note}",
    )


def channel_list(args: argparse.Namespace) -> None:
    rows = [channel_row(c) for c in store().channels.list()]
    columns = ["name", "url", "teams_channel_id", "team", "locked", "connection", "created"]
    emit(args, rows, table(rows, columns))


def channel_set(args: argparse.Namespace) -> None:
    """Change what a channel is without a new URL: today its connection (the flow owner)."""
    connection = check_connection(args.connection)
    if connection is None:
        raise UsageError("nothing to change: give --connection NAME")
    repo = store().channels
    channel = repo.get(args.name)
    channel.connection = connection
    try:
        saved = repo.save(channel)
    except Conflict:
        raise Failure(f"channel {args.name!r} changed meanwhile; run the command again") from None
    emit(args, channel_row(saved), f"channel {saved.name!r} now posts under connection {connection!r}")


def channel_remove(args: argparse.Namespace) -> None:
    store().channels.remove(args.name)
    emit(args, {"removed": args.name}, f"removed channel {args.name!r}")


def _set_locked(args: argparse.Namespace, locked: bool) -> None:
    repo = store().channels
    channel = repo.get(args.name)
    channel.locked = locked
    try:
        saved = repo.save(channel)
    except Conflict:
        raise Failure(f"channel {args.name!r} changed meanwhile; run the command again") from None
    state = (
        "locked: the bot's connect cannot relink it"
        if locked
        else "unlocked: the bot's connect may relink it"
    )
    emit(args, channel_row(saved), f"channel {saved.name!r} {state}")


def channel_lock(args: argparse.Namespace) -> None:
    _set_locked(args, True)


def channel_unlock(args: argparse.Namespace) -> None:
    _set_locked(args, False)


def channel_relink(args: argparse.Namespace) -> None:
    count = store().channels.relink()
    emit(
        args,
        {"linked": count},
        f"rewrote the Teams-channel links of {count} channel(s); the bot finds them again",
    )


# --- connections (flow owners) and their budgets ------------------------------------------------


def connection_row(report: Any) -> dict[str, Any]:
    from shared.delivery.report import wait_text

    usage = report.usage
    return {
        "name": report.name,
        "channels": report.channels,
        "budget": usage.budget + ("" if usage.overridden else " (default)"),
        "used": report.use_text(),
        "room": usage.room,
        "next_free_seconds": round(usage.next_free, 1),
        "waiting": report.waiting,
        "oldest_wait": wait_text(report.oldest_wait),
        "posts": usage.posts,
        "combined": usage.combined,
        "held_seconds": round(usage.held, 1),
        "short": usage.short,
    }


def connection_list(args: argparse.Namespace) -> None:
    from shared.delivery import report

    rows = [connection_row(r) for r in report.connections(store())]
    shown = [{**r, "channels": ", ".join(r["channels"]) or "-"} for r in rows]
    columns = ["name", "channels", "budget", "used", "waiting", "oldest_wait", "combined", "posts", "short"]
    emit(args, rows, table(shown, columns))


def connection_set(args: argparse.Namespace) -> None:
    from shared.delivery.budget import describe, windows_of

    name = check_connection(args.name) or ""
    if args.budget is None:
        raise UsageError("nothing to change: give --budget COUNT/SECONDS[,...] or --budget default")
    raw = None if args.budget.strip().lower() == "default" else args.budget.strip()
    try:
        windows = windows_of(raw, "--budget")
    except settings.SettingError as exc:
        raise UsageError(str(exc)) from None
    store().budgets.set_budget(name, describe(windows) if raw else None)
    text = (
        f"connection {name!r} may post {describe(windows)} (count/seconds); every process sees it within 10 s"
        if raw
        else f"connection {name!r} follows DELIVERY_BUDGET_WORKFLOWS again ({describe(windows)})"
    )
    emit(args, {"name": name, "budget": describe(windows), "overridden": bool(raw)}, text)


def connection_assign(args: argparse.Namespace) -> None:
    """Move channels to a connection (their flows now belong to that owner)."""
    connection = check_connection(args.name) or ""
    repo = store().channels
    moved = []
    for name in args.channels:
        channel = repo.get(name)
        channel.connection = connection
        try:
            moved.append(repo.save(channel).name)
        except Conflict:
            raise Failure(f"channel {name!r} changed meanwhile; run the command again") from None
    text = f"connection {connection!r} now has {', '.join(moved)}"
    emit(args, {"name": connection, "channels": moved}, text)


# --- routes --------------------------------------------------------------------------------------


def route_row(route: Route, followers: int | None = None) -> dict[str, Any]:
    """`followers`: for a digest route, how many subscriptions digest its posts (0: it refuses them)."""
    from shared.incoming.filters import normalized

    row: dict[str, Any] = {
        "name": route.name,
        "source": route.source,
        "auth": route.auth,
        "mode": route.mode,
        "channels": ",".join(route.channels),
        "filters": normalized(route.filters),
        "url": settings.public_url("incoming", route.name),
        "created": iso(route.created),
    }
    if route.mode == "digest" and followers is not None:
        row["followed_by"] = followers
    return row


def followed(row: dict[str, Any]) -> str | None:
    """The route list's words for a digest route's followers; the sender gets 409 while there are none."""
    count = row.get("followed_by")
    if count is None:
        return None
    if count == 0:
        return "no subscription (posts refused)"
    return f"{count} subscription{'s' if count != 1 else ''}"


def route_text(route: Route, verb: str) -> str:
    """One line for people: what the route is, its URL, and what its filters let through."""
    from shared.incoming.filters import describe

    shown = describe(route.filters)
    only = f"; delivers only posts with {shown}" if shown else ""
    return f"route {route.name!r} ({route.source}, {route.mode}) {verb} -> {route_row(route)['url']}{only}"


def route_filters(args: argparse.Namespace, current: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """``--filter`` (and ``--clear-filters``) applied to a route's filters, or a usage error."""
    from shared.incoming.filters import FilterError, update

    try:
        return update(current, args.filter or [], clear=bool(getattr(args, "clear_filters", False)))
    except FilterError as exc:
        raise UsageError(f"--filter: {exc}") from None


def route_settings(items: list[str] | None, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """``--setting KEY=VALUE`` added to ``current``; ``KEY=`` removes a setting."""
    settings_map = dict(current or {})
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--setting takes KEY=VALUE, got {item!r}")
        if value:
            settings_map[key] = value
        else:
            settings_map.pop(key, None)
    return settings_map


def check_template(settings_map: dict[str, Any]) -> None:
    """A route template that any payload would take over a bound (or that does not parse) is
    refused here, before a sender meets it (``generic.template_problems``)."""
    if "template" not in settings_map:
        return
    from shared.incoming.sources.generic import template_problems

    problems = template_problems(settings_map["template"])
    if problems:
        raise UsageError("--setting template: " + "; ".join(problems[:5]))


def check_channels(names: list[str]) -> None:
    missing = [c for c in names if store().channels.find(c) is None]
    if missing:
        raise Failure(f"no channel named {', '.join(map(repr, missing))}: add it first with `channel add`")


def split_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("--to needs at least one channel name")
    return list(dict.fromkeys(names))


def route_add(args: argparse.Namespace) -> None:
    from shared.store.models import ROUTE_AUTH, ROUTE_NAME, Route

    if not ROUTE_NAME.match(args.name):
        raise UsageError(f"a route name is {NAME_RULE} (it becomes part of a URL)")
    channels = split_names(args.to)
    filters = route_filters(args)
    settings_map = route_settings(args.setting)
    check_template(settings_map)
    secret: str | None = None
    if args.auth == "none":
        if args.secret_file or args.generate_secret:
            modes = "|".join(mode for mode in ROUTE_AUTH if mode != "none")
            raise UsageError(f"a secret needs --auth {modes}")
    elif args.generate_secret:
        if args.secret_file:
            raise UsageError("give --secret-file or --generate-secret, not both")
        secret = secrets.token_urlsafe(32)
    else:
        secret = read_secret(args.secret_file, "secret")
    check_channels(channels)
    route = Route(
        name=args.name,
        source=args.source,
        auth=args.auth,
        secret=secret,
        channels=channels,
        mode=args.mode,
        filters=filters,
        settings=settings_map,
    )
    try:
        saved = store().routes.save(route) if args.replace else store().routes.add(route)
    except Conflict:
        raise Failure(f"route {args.name!r} exists; add --replace to overwrite it") from None
    row, text = route_row(saved), route_text(saved, "saved" if args.replace else "added")
    if args.generate_secret and secret:
        # The one time it is shown: the store keeps it, and no command prints it again.
        row["secret"] = secret
        text += f"\nsecret (shown once; give it to the sender): {secret}"
    if saved.auth == "none":
        text += "\nwarning: --auth none: anyone who learns the URL can post to the channels"
    if saved.mode == "digest" and not store().subscriptions.following_route(saved.name):
        text += (
            f"\nnote: no subscription follows it yet, so posts are refused (409) until one does: "
            f"`subscription add --channel <ch> --source events:{saved.name} ...`"
        )
    emit(args, row, text)


def route_set(args: argparse.Namespace) -> None:
    """Change a route in place (its secret and URL stay): channels, mode, settings, filters."""
    if not (args.to or args.mode or args.setting or args.filter or args.clear_filters):
        raise UsageError("nothing to change: give --to, --mode, --setting, --filter or --clear-filters")
    channels = split_names(args.to) if args.to else None
    route = store().routes.get(args.name)
    filters = route_filters(args, route.filters)
    check_template(route_settings(args.setting, route.settings) if args.setting else {})
    if channels is not None:
        check_channels(channels)
    changed = route.model_copy(
        update={
            "channels": channels if channels is not None else route.channels,
            "mode": args.mode or route.mode,
            "settings": route_settings(args.setting, route.settings),
            "filters": filters,
        }
    )
    try:
        saved = store().routes.save(changed)  # ETag-guarded: a change made meanwhile is not lost
    except Conflict:
        raise Failure(f"route {args.name!r} changed meanwhile; run the command again") from None
    emit(args, route_row(saved), route_text(saved, "changed"))


def route_list(args: argparse.Namespace) -> None:
    from shared.incoming.filters import describe

    routes = store().routes.list()
    following: dict[str, int] = {}
    if any(r.mode == "digest" for r in routes):
        for sub in store().subscriptions.list():
            if sub.source == "events":
                following[sub.target] = following.get(sub.target, 0) + 1
    rows = [route_row(r, following.get(r.name, 0)) for r in routes]
    shown = [
        dict(row, filters=describe(r.filters) or None, followed=followed(row))
        for row, r in zip(rows, routes, strict=True)
    ]
    columns = ["name", "source", "auth", "mode", "channels", "filters", "url"]
    if any(r.mode == "digest" for r in routes):
        columns.insert(5, "followed")
    emit(args, rows, table(shown, columns))


def route_remove(args: argparse.Namespace) -> None:
    store().routes.remove(args.name)
    emit(args, {"removed": args.name}, f"removed route {args.name!r}")


# --- subscriptions -------------------------------------------------------------------------------


def describe_schedule(schedule: Schedule) -> str:
    from shared.digest.schedule import describe

    return describe(schedule)


def sub_row(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "channel": sub.channel,
        "source": f"{sub.source}:{sub.target}",
        "schedule": describe_schedule(sub.schedule),
        "next_run": iso(sub.next_run),
        "paused": sub.paused,
        "last_run": iso(sub.last_run),
        "last_error": sub.last_error,
        "created_by": sub.created_by,
        "created_at": iso(sub.created_at),
    }


def sub_table(rows: list[dict[str, Any]]) -> str:
    shown = [dict(r, next_run=(r["next_run"] or "-")[:16].replace("T", " ")) for r in rows]
    return table(shown, ["id", "channel", "source", "schedule", "next_run", "paused", "last_error"])


def build_schedule(args: argparse.Namespace) -> Schedule:
    from shared.digest import schedule as sched
    from shared.store.models import Schedule

    if bool(args.at) == bool(args.cron):
        raise UsageError("give either --at HH:MM[,HH:MM] (with --days/--tz) or --cron 'EXPR'")
    try:
        tz = sched.check_tz(args.tz)
        if args.cron:
            if args.days:
                raise UsageError("--days does not go with --cron (put the weekdays in the expression)")
            return Schedule(times=[], tz=tz, cron=sched.check_cron(args.cron))
        days = sched.parse_days(args.days) if args.days else list(range(7))
        return Schedule(times=sched.parse_times(args.at), days=days, tz=tz)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def source_forms() -> list[str]:
    """``rss:<url>``, ``weather:<place>``, ...: one per subscription source of the feed registry."""
    from shared.digest import feeds

    return [f"{kind}:<{feeds.REGISTRY.row(kind).target}>" for kind in feeds.kinds()]


def sub_add(args: argparse.Namespace) -> None:
    from shared.digest import feeds
    from shared.digest.fetch import feed_url
    from shared.digest.schedule import next_run
    from shared.store.models import MAX_SUBSCRIPTIONS_PER_CHANNEL, Subscription

    kind, sep, target = args.source.partition(":")
    if not sep or kind not in feeds.REGISTRY or not target.strip():
        *others, last = source_forms()
        raise UsageError(f"--source takes {', '.join(others)} or {last}")
    target = target.strip()
    wants = feeds.REGISTRY.row(kind).target
    if wants == "url":
        checked = feed_url(target)
        if checked is None:
            raise UsageError(f"{kind}: needs an http(s) URL, e.g. {kind}:https://example.com/feed")
        target = checked
    schedule = build_schedule(args)
    if store().channels.find(args.channel) is None:
        raise Failure(f"no channel named {args.channel!r}: add it first with `channel add`")
    if len(store().subscriptions.list(channel=args.channel)) >= MAX_SUBSCRIPTIONS_PER_CHANNEL:
        raise Failure(
            f"channel {args.channel!r} has {MAX_SUBSCRIPTIONS_PER_CHANNEL} subscriptions, the most it "
            "may have; remove one first (`subscription list --channel`, `subscription remove ID`)"
        )
    if wants == "route" and store().routes.find(target) is None:
        raise Failure(f"no route named {target!r}: add it first with `route add {target} --mode digest ...`")
    now = datetime.now(UTC)
    sub = Subscription(
        channel=args.channel,
        source=kind,  # a kind of feeds.REGISTRY, checked above
        target=target,
        schedule=schedule,
        next_run=next_run(schedule, now),
        post_empty=args.post_empty,
        created_by=args.created_by or os.environ.get("USER", "admin"),
        created_at=now,
    )
    saved = store().subscriptions.add(sub)
    emit(
        args,
        sub_row(saved),
        f"subscription {saved.id}: {kind}:{target} -> {saved.channel}, {describe_schedule(schedule)}, "
        f"next run {fmt_time(saved.next_run)}",
    )


def sub_list(args: argparse.Namespace) -> None:
    rows = [sub_row(s) for s in store().subscriptions.list(channel=args.channel)]
    emit(args, rows, sub_table(rows))


def sub_set_paused(args: argparse.Namespace, paused: bool) -> None:
    from shared.digest.schedule import next_run

    repo = store().subscriptions
    for _ in range(3):  # a digest run may save it meanwhile: read again and retry
        sub = repo.get(args.id)
        sub.paused = paused
        if not paused:
            sub.next_run = next_run(sub.schedule, datetime.now(UTC))
        try:
            saved = repo.save(sub)
        except Conflict:
            continue
        state = "paused" if paused else f"resumed, next run {fmt_time(saved.next_run)}"
        emit(args, sub_row(saved), f"subscription {saved.id} {state}")
        return
    raise Failure("the subscription keeps changing (a digest run is busy with it); try again in a minute")


def sub_pause(args: argparse.Namespace) -> None:
    sub_set_paused(args, True)


def sub_resume(args: argparse.Namespace) -> None:
    sub_set_paused(args, False)


def sub_remove(args: argparse.Namespace) -> None:
    from shared.store.purge import remove_subscription

    remove_subscription(store(), args.id)  # its buffered events go with it
    emit(args, {"removed": args.id}, f"removed subscription {args.id}")


# --- outbox and dead letters ---------------------------------------------------------------------


def outbox_row(item: OutboxItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "channel": item.channel,
        "attempts": item.attempts,
        "next_attempt": iso(item.next_attempt),
        "last_error": item.last_error,
        "reason": item.reason,
        "bytes": len(item.message.encode("utf-8")),
        "created": iso(item.created),
    }


def outbox_list(args: argparse.Namespace) -> None:
    rows = [outbox_row(i) for i in store().outbox.list(dead=False)]
    emit(args, rows, table(rows, ["id", "channel", "attempts", "next_attempt", "bytes", "last_error"]))


def outbox_retry(args: argparse.Namespace) -> None:
    count = store().outbox.retry_now()
    result: dict[str, Any] = {"due_now": count}
    text = f"{count} pending item(s) are due now; the next outbox sweep sends them"
    if args.now:
        from shared.delivery.sweep import sweep

        stats = sweep(store())
        result["sweep"] = {k: v for k, v in vars(stats).items() if isinstance(v, int | float | str)}
        text = f"{count} pending item(s) retried now: {result['sweep']}"
    emit(args, result, text)


def outbox_purge(args: argparse.Namespace) -> None:
    count = store().outbox.purge(dead=False)
    emit(args, {"purged": count}, f"purged {count} pending item(s)")


def dead_list(args: argparse.Namespace) -> None:
    rows = [outbox_row(i) for i in store().outbox.list(dead=True)]
    emit(args, rows, table(rows, ["id", "channel", "attempts", "reason", "bytes", "created"]))


def dead_requeue(args: argparse.Namespace) -> None:
    if bool(args.id) == bool(args.all):
        raise UsageError("give a dead letter's id or --all")
    ids = [args.id] if args.id else [i.id for i in store().outbox.list(dead=True)]
    done = [store().outbox.requeue(i).id for i in ids]
    emit(args, {"requeued": done}, f"requeued {len(done)} dead letter(s); the next outbox sweep sends them")


def dead_purge(args: argparse.Namespace) -> None:
    count = store().outbox.purge(dead=True)
    emit(args, {"purged": count}, f"purged {count} dead letter(s)")


# --- parser --------------------------------------------------------------------------------------


# --- preview ------------------------------------------------------------------------------------


def preview_headers(items: list[str] | None) -> dict[str, str]:
    """`K:V` pairs as the lower-case header names the pipeline reads (JSON unless told otherwise)."""
    headers = {"content-type": "application/json"}
    for item in items or []:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header {item.split(':')[0][:40]!r} must be NAME:VALUE")
        headers[name.strip().lower()] = value.strip()
    return headers


def preview(args: argparse.Namespace) -> None:
    """The card(s) a payload would become on a route, rendered; nothing is posted or written."""
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".html"):
        raise UsageError("--out must name a .png or .html file")
    try:
        body = Path(args.body).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read --body {args.body}: {exc.strerror or type(exc).__name__}") from None
    headers = preview_headers(args.header)
    try:
        from tools import render  # dev tools only: never deployed (.funcignore)
    except ImportError:
        raise Failure(
            "rendering a card needs the dev tools (tools/render, playwright, Chromium), which a deployed "
            "app does not have: run preview from a development checkout after `make deps`"
        ) from None
    reason = render.missing()
    if reason:
        raise Failure(f"the card renderer cannot run: {reason}")
    from shared.incoming import pipeline

    route = store().routes.get(args.route)
    if args.no_auth:
        route = route.model_copy(update={"auth": "none", "secret": None})
    try:
        cards = pipeline.prepare(route, headers, body).notice.cards
    except pipeline.Refusal as refused:
        answer = refused.reply.body.decode("utf-8", "replace")
        why = f" ({refused.reason})" if refused.reason else ""  # the operator may know why; senders not
        raise Failure(f"route {route.name} would answer {refused.reply.status}: {answer}{why}") from None
    with render.Renderer() as renderer:
        shown = [renderer.render(card) for card in cards]
    written = preview_write(out, route.name, cards, shown)
    rows: list[dict[str, Any]] = [
        {"card": number, "file": str(path) if path else None, "problems": item.problems()}
        for number, (item, path) in enumerate(zip(shown, written, strict=True), 1)
    ]
    lines = [f"route {route.name} ({route.source}): {len(cards)} card(s), nothing posted"]
    for row in rows:
        found: list[str] = row["problems"]
        lines.append(f"  card {row['card']}: " + ("shown as built" if not found else "; ".join(found)))
    lines += [f"  wrote {path}" for path in dict.fromkeys(str(p) for p in written if p)]
    emit(args, {"route": route.name, "source": route.source, "cards": rows}, "\n".join(lines))


def preview_write(out: Path, route: str, cards: list[Any], shown: list[Any]) -> list[Path | None]:
    """card.png (card-2.png... for more) or one card.html page; the file each card went to."""
    from tools.render import report

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".html":
        items = [
            report.Item(f"card {n}", card, s) for n, (card, s) in enumerate(zip(cards, shown, strict=True), 1)
        ]
        report.write(out, f"Preview of route {route}", [(f"route {route}", items)])
        return [out] * len(cards)
    paths: list[Path | None] = []
    for number, item in enumerate(shown, 1):
        path = out if number == 1 else out.with_name(f"{out.stem}-{number}{out.suffix}")
        if item.png is not None:
            path.write_bytes(item.png)
        paths.append(path if item.png is not None else None)
    return paths


def filter_help() -> str:
    from shared.incoming.vocabulary import SEVERITIES, STATES

    return (
        "deliver only matching posts (repeatable; every key given must match, any of its values): "
        "event=<pattern>[,...] (GitHub <event>.<action>, Azure DevOps event type; * ? [] wildcards), "
        f"severity={'|'.join(SEVERITIES)}, state={'|'.join(STATES)}"
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    common.add_argument(
        "--settings",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="a local.settings.json to load (default: the project's own, never the current directory's)",
    )

    # `--json` is accepted before the command and after it.
    parser = argparse.ArgumentParser(
        prog="python -m shared.admin",
        description="Manage teams, channels, routes, digest subscriptions and the outbox in the store.",
        parents=[common],
    )
    groups = parser.add_subparsers(
        dest="group", required=True, metavar="{team,channel,route,subscription,...}"
    )

    def command(
        group: argparse._SubParsersAction[Any],
        name: str,
        func: Callable[[argparse.Namespace], None],
        help: str,
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, help=help, parents=[common])
        sub.set_defaults(func=func)
        return sub

    team = groups.add_parser("team", help="outgoing-webhook registrations").add_subparsers(
        dest="cmd", required=True
    )
    p = command(team, "add", team_add, "register a team's outgoing webhook")
    p.add_argument("key")
    p.add_argument("--name", help="display name")
    p.add_argument("--token-file", help="file holding the security token (else read from standard input)")
    p.add_argument("--teams-team-id", help="Teams team id (19:...@thread.tacv2); else learned on first use")
    p.add_argument("--tenant-id", help="the Microsoft Entra tenant id; else learned on first use")
    command(team, "list", team_list, "list teams (tokens are only counted)")
    p = command(team, "rebind", team_rebind, "set the Teams team and tenant, or forget them to learn again")
    p.add_argument("key")
    p.add_argument("--teams-team-id")
    p.add_argument("--tenant-id")
    p = command(team, "rotate", team_rotate, "add a new token; the old one stays valid until retire-token")
    p.add_argument("key")
    p.add_argument("--token-file")
    p = command(team, "retire-token", team_retire_token, "keep only the newest token")
    p.add_argument("key")
    p = command(team, "remove", team_remove, "remove a team")
    p.add_argument("key")

    channel = groups.add_parser("channel", help="Teams destinations").add_subparsers(
        dest="cmd", required=True
    )
    p = command(channel, "add", channel_add, "add a channel (Workflows webhook URL)")
    p.add_argument("name")
    p.add_argument("--url", help="the Workflows webhook URL")
    p.add_argument("--url-file", help="file holding the URL (keeps it out of the shell history)")
    p.add_argument("--teams-channel-id", help="Teams channel id (19:...@thread.tacv2) to link")
    p.add_argument("--team", help="team key the channel belongs to")
    p.add_argument("--replace", action="store_true", help="overwrite an existing channel")
    p.add_argument(
        "--connection",
        help="the flow owner's connection whose budget the channel shares (default: 'default')",
    )
    command(channel, "list", channel_list, "list channels (URLs masked)")
    p = command(channel, "set", channel_set, "change a channel's connection (flow owner)")
    p.add_argument("name")
    p.add_argument("--connection", help="the connection whose budget the channel shares from now on")
    p = command(channel, "lock", channel_lock, "keep the bot's connect from relinking a channel")
    p.add_argument("name")
    p = command(channel, "unlock", channel_unlock, "let the bot's connect relink a channel again")
    p.add_argument("name")
    p = command(channel, "remove", channel_remove, "remove a channel")
    p.add_argument("name")
    command(
        channel, "relink", channel_relink, "rewrite the Teams-channel links (after an upgrade or a crash)"
    )

    conn = groups.add_parser(
        "connection", help="flow owners' connections: the posting budget their channels share"
    ).add_subparsers(dest="cmd", required=True)
    command(conn, "list", connection_list, "each connection's channels, budget, use and waiting posts")
    p = command(conn, "set", connection_set, "override a connection's budget (stored; every process)")
    p.add_argument("name")
    p.add_argument("--budget", help="COUNT/SECONDS[,...] such as 50/300, or 'default' for the setting's")
    p = command(conn, "assign", connection_assign, "move channels to a connection")
    p.add_argument("name")
    p.add_argument("channels", nargs="+", metavar="CHANNEL")

    route = groups.add_parser("route", help="incoming-proxy endpoints").add_subparsers(
        dest="cmd", required=True
    )
    p = command(route, "add", route_add, "add an incoming route; prints its URL")
    p.add_argument("name")
    from shared.store.models import ROUTE_AUTH, ROUTE_SOURCES

    p.add_argument("--source", required=True, choices=ROUTE_SOURCES)
    p.add_argument("--to", required=True, help="channel[,channel...]")
    p.add_argument(
        "--mode",
        choices=("immediate", "digest"),
        default="immediate",
        help="digest: buffered for the subscriptions that follow it (posts refused while none does)",
    )
    p.add_argument(
        "--auth",
        choices=ROUTE_AUTH,
        required=True,
        help="how senders prove themselves; `none` (anyone with the URL may post) only when written out",
    )
    p.add_argument("--secret-file", help="file holding the sender secret (else standard input)")
    p.add_argument(
        "--generate-secret", action="store_true", help="make a random secret and print it once"
    )
    p.add_argument("--setting", action="append", metavar="KEY=VALUE", help="source setting (repeatable)")
    p.add_argument("--filter", action="append", metavar="KEY=VALUE[,VALUE]", help=filter_help())
    p.add_argument("--replace", action="store_true", help="overwrite an existing route")
    p = command(route, "set", route_set, "change a route's channels, mode, settings or filters")
    p.add_argument("name")
    p.add_argument("--to", help="channel[,channel...] (replaces the list)")
    p.add_argument("--mode", choices=("immediate", "digest"))
    p.add_argument(
        "--setting", action="append", metavar="KEY=VALUE", help="set a source setting; KEY= removes it"
    )
    p.add_argument(
        "--filter", action="append", metavar="KEY=VALUE[,VALUE]", help=filter_help() + "; KEY= removes KEY"
    )
    p.add_argument(
        "--clear-filters", action="store_true", help="remove every filter first (then it delivers every post)"
    )
    command(route, "list", route_list, "list routes, their filters and URLs")
    p = command(route, "remove", route_remove, "remove a route")
    p.add_argument("name")

    subs = groups.add_parser("subscription", help="scheduled digests").add_subparsers(
        dest="cmd", required=True
    )
    p = command(subs, "add", sub_add, "add a digest subscription")
    p.add_argument("--channel", required=True)
    p.add_argument("--source", required=True, help=" | ".join(source_forms()))
    p.add_argument("--at", help="times of day, e.g. 08:00,17:00")
    p.add_argument("--days", help="e.g. mon-fri, weekends, mon,wed (default: every day)")
    p.add_argument("--tz", default="UTC", help="IANA time zone, e.g. Europe/Berlin (default UTC)")
    p.add_argument("--cron", help="5-field cron expression instead of --at/--days")
    p.add_argument("--post-empty", action="store_true", help="post even when there is nothing new")
    p.add_argument("--created-by", help="who asked for it (default: $USER)")
    p = command(subs, "list", sub_list, "list subscriptions")
    p.add_argument("--channel")
    for name, func, text in (
        ("pause", sub_pause, "pause a subscription"),
        ("resume", sub_resume, "resume a subscription (next run from now)"),
        ("remove", sub_remove, "remove a subscription"),
    ):
        command(subs, name, func, text).add_argument("id")

    outbox = groups.add_parser("outbox", help="deliveries not accepted yet").add_subparsers(
        dest="cmd", required=True
    )
    command(outbox, "list", outbox_list, "list pending deliveries")
    p = command(outbox, "retry", outbox_retry, "make every pending delivery due now")
    p.add_argument("--now", action="store_true", help="also run the outbox sweep in this process")
    command(outbox, "purge", outbox_purge, "delete every pending delivery")

    dead = groups.add_parser("dead-letters", help="deliveries given up on").add_subparsers(
        dest="cmd", required=True
    )
    command(dead, "list", dead_list, "list dead letters with their reason")
    p = command(dead, "requeue", dead_requeue, "put dead letters back in the outbox")
    p.add_argument("id", nargs="?")
    p.add_argument("--all", action="store_true")
    command(dead, "purge", dead_purge, "delete every dead letter")

    p = groups.add_parser(
        "preview",
        help="render the card(s) a payload would become on a route (dev checkout; posts nothing)",
        parents=[common],
    )
    p.set_defaults(func=preview)
    p.add_argument("--route", required=True, help="the route the payload arrives on")
    p.add_argument("--body", required=True, metavar="FILE", help="the payload, as the sender posts it")
    p.add_argument("--header", action="append", metavar="K:V", help="a request header (repeatable)")
    p.add_argument("--out", required=True, metavar="card.png|card.html", help="where the picture goes")
    p.add_argument(
        "--no-auth", action="store_true", help="skip the sender check (no secret or signature needed)"
    )
    return parser


def describe_invalid(exc: ValueError) -> str:
    """pydantic's errors as one line, without the rejected input (it may be a secret)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors())
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with usage on bad flags
    if not hasattr(args, "json"):
        args.json = False
    try:
        load_settings(getattr(args, "settings", None))
        args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except NotFound as exc:
        print(f"error: {exc}; see the `list` command for what exists", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        print(
            f"error: {exc}. Check TEAMS_STORAGE (or AzureWebJobsStorage) in the environment or "
            "local.settings.json, and that the account (or Azurite) is running",
            file=sys.stderr,
        )
        return 1
    except Conflict as exc:
        print(f"error: {exc}; check with the `list` command, then run it again", file=sys.stderr)
        return 1
    except (Failure, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except settings.SettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a value the records refuse (pydantic's ValidationError is one)
        print(f"error: {describe_invalid(exc)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
