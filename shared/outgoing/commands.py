"""Bot commands as small listener functions registered Bolt-style, each with its own help line.

Listeners get a `Context` (the activity, the parsed command, lazy store access) and return a
`Answer`. Store-heavy modules are imported inside the listeners that need them, so `help` and the
cold start never pay for them.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import settings
from shared.actions import ActionError, Actor
from shared.actions.link import channel_name_for
from shared.actions.subscriptions import new_id as _new_subscription_id  # noqa: F401  (tests compare ids)
from shared.invocation import carry, run_parallel
from shared.outgoing.activity import Activity, Command
from shared.outgoing.replies import Answer, md_escape

if TYPE_CHECKING:
    from shared.store import Store
    from shared.store.models import Channel, Subscription

__all__ = ["CommandError", "Commands", "Context", "Listener", "channel_name_for", "registry"]


class CommandError(Exception):
    """A user mistake: the message is shown to the user as a warning card."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class Context:
    """Everything a listener may use; the store is opened on first use only."""

    activity: Activity
    command: Command
    team: str
    store_factory: Callable[[], Store]
    #: the team's `Team.registration`: channels given to an earlier registration are not its
    registration: str = ""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    on_channel: Callable[[str | None], None] = lambda name: None
    _store: Store | None = None
    _channel: Channel | None = None
    _channel_loaded: bool = False
    _prefetch: Future[Channel | None] | None = None
    foreign_link: bool = False

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = self.store_factory()
        return self._store

    @property
    def teams_channel_id(self) -> str:
        channel_id = self.activity.channel_id
        if not channel_id:
            raise CommandError("this command only works in a team channel (Teams sent no channel id)")
        return channel_id

    def channel(self) -> Channel | None:
        """This Teams channel's link (a store Channel) or None; looked up once per message.

        A link that is not this registration's does not count (another team's, an earlier
        registration of the same key, or one without a team, as `admin channel add` without
        `--team` makes): whoever holds a token can sign any channel id.
        """
        if not self._channel_loaded:
            if self._prefetch is not None:
                found, self._prefetch = self._prefetch.result(), None
            else:
                found = self.store.channels.find_by_teams_channel(self.teams_channel_id)
            from shared.store.models import owned_by

            if found is not None and not owned_by(found, self.team, self.registration):
                self.foreign_link, found = True, None
            self._channel = found
            self._channel_loaded = True
            self.on_channel(getattr(self._channel, "name", None))
        return self._channel

    def prefetch_channel(self) -> None:
        """Start the link lookup now, so it overlaps the caller's other round trips (dedupe claim)."""
        channel_id = self.activity.channel_id
        if channel_id and not self._channel_loaded and self._prefetch is None:
            lookup = carry(self.store.channels.find_by_teams_channel)
            self._prefetch = _prefetch_pool().submit(lookup, channel_id)

    def linked_channel(self) -> Channel:
        found = self.channel()
        if found is None:
            raise CommandError(
                "this channel is not connected yet",
                hint="Create a Workflows webhook for this channel, then send **connect WORKFLOWS-URL**.",
            )
        return found


Listener = Callable[[Context], Answer]

_pool: ThreadPoolExecutor | None = None


def _prefetch_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="outgoing-prefetch")
    return _pool


@dataclass(frozen=True)
class _Entry:
    name: str
    usage: str
    summary: str
    details: str
    aliases: tuple[str, ...]
    listener: Listener


class Commands:
    """A registry of listeners by command word (and aliases), with help and "did you mean"."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._by_word: dict[str, _Entry] = {}
        self._no_channel: set[str] = set()

    def command(
        self,
        name: str,
        *,
        usage: str,
        summary: str,
        details: str = "",
        aliases: tuple[str, ...] = (),
        uses_channel: bool = True,
    ) -> Callable[[Listener], Listener]:
        def register(listener: Listener) -> Listener:
            entry = _Entry(name, usage, summary, details, aliases, listener)
            self._entries[name] = entry
            for word in (name, *aliases):
                self._by_word[word] = entry
            if not uses_channel:
                self._no_channel.add(name)
            return listener

        return register

    def uses_channel(self, word: str) -> bool:
        """Whether the command looks up this channel's link (worth starting that early)."""
        entry = self.get(word) if word else None
        return entry is not None and entry.name not in self._no_channel

    def get(self, word: str) -> _Entry | None:
        return self._by_word.get(word.casefold())

    def entries(self) -> list[_Entry]:
        return list(self._entries.values())

    def suggest(self, word: str) -> list[str]:
        return difflib.get_close_matches(word.casefold(), list(self._by_word), n=2, cutoff=0.6)

    def dispatch(self, ctx: Context) -> Answer:
        word = ctx.command.name
        if not word:
            return help_reply(self, title="Hi! Here is what I can do")
        entry = self.get(word)
        if entry is None:
            return unknown_reply(self, word)
        try:
            return entry.listener(ctx)
        except CommandError as exc:
            shown = str(exc) if len(str(exc)) <= 300 else str(exc)[:299] + "…"  # may quote the user
            reply = Answer(f"{entry.name}: {shown}", status="warning")
            if exc.hint:
                reply.add(exc.hint)
            reply.add(f"Usage: **{entry.usage}**")
            return reply


registry = Commands()


# --- help ------------------------------------------------------------------------------------------


def help_reply(commands: Commands, *, title: str = "What I can do") -> Answer:
    reply = Answer(title, status="accent")
    reply.add("Mention me followed by a command, for example **@bot subscriptions**.")
    section = reply.section("Commands")
    section.lines.extend(f"**{e.usage}**: {e.summary}" for e in commands.entries())
    reply.add("Send **help COMMAND** for details on one command.")
    return reply


def unknown_reply(commands: Commands, word: str) -> Answer:
    guesses = commands.suggest(word)
    # Never echo what may be a secret URL pasted without "connect".
    shown = "that" if "://" in word or len(word) > 40 else f'"{md_escape(word)}"'
    title = f"I don't know the command {shown}"
    reply = help_reply(commands, title=title)
    reply.status = "warning"
    if guesses:
        reply.paragraphs.insert(0, "Did you mean " + " or ".join(f"**{g}**" for g in guesses) + "?")
    return reply


@registry.command(
    "help", usage="help [COMMAND]", summary="this list, or details on one command", uses_channel=False
)
def cmd_help(ctx: Context) -> Answer:
    if not ctx.command.args:
        reply = help_reply(registry)
        _configure_button(ctx, reply)
        return reply
    entry = registry.get(ctx.command.args[0])
    if entry is None:
        return unknown_reply(registry, ctx.command.args[0])
    reply = Answer(f"help {entry.name}", status="accent")
    reply.add(f"**{entry.usage}**")
    reply.add(entry.summary[:1].upper() + entry.summary[1:] + ".")
    if entry.details:
        reply.add(entry.details)
    if entry.aliases:
        reply.add("Also: " + ", ".join(f"**{a}**" for a in entry.aliases))
    return reply


# --- connect ---------------------------------------------------------------------------------------


def actor(ctx: Context) -> Actor:
    """Who sent the command, for the change card and the change log."""
    sender = ctx.activity.sender
    return Actor(name=ctx.activity.sender_name, aad_object_id=sender.aad_object_id if sender else None)


#: what the bot adds to an action's error, by its code
_HINTS = {
    "foreign": "An admin can give it to this team with **python -m shared.admin channel add NAME "
    "--replace --team KEY**.",
    "locked": "Ask an admin (**python -m shared.admin channel unlock NAME**).",
    "connected": "To link it to another Workflows webhook, send **connect --replace WORKFLOWS-URL**; "
    "the channel is told who replaced it.",
    "cap": "Remove one first: **subscriptions** lists them, **unsubscribe ID** removes one.",
    "no_route": "**routes** lists them.",
    "not_found": "**subscriptions** lists them.",
}


def _failed(exc: ActionError) -> CommandError:
    """An action's plain-text error as the bot's warning (Markdown-escaped, with a hint)."""
    return CommandError(md_escape(exc), hint=_HINTS.get(exc.code))


#: the words that mean `--replace` (Teams may turn a typed `--` into a dash)
_REPLACE_FLAGS = frozenset({"--replace", "\u2014replace", "\u2013replace", "-replace", "replace"})


@registry.command(
    "connect",
    usage="connect [--replace] WORKFLOWS-URL",
    summary="link this channel to its Workflows webhook (needed for digests and late answers)",
    details=(
        "In the channel choose ••• > Workflows > *Post to a channel when a webhook request is received*, "
        "copy the URL it shows and send it here. The URL is a secret: delete your message afterwards. "
        "A channel that has a link already needs **connect --replace URL**, and the channel is told who "
        "replaced it."
    ),
)
def cmd_connect(ctx: Context) -> Answer:
    from shared.actions.link import connect
    from shared.delivery.allowlist import mask

    args = [a for a in ctx.command.args if a.casefold() not in _REPLACE_FLAGS]
    replace = len(args) < len(ctx.command.args)
    if len(args) != 1:
        raise CommandError("give exactly one Workflows URL")
    url = args[0].strip("<>")
    teams_channel_id = ctx.teams_channel_id
    existing = ctx.channel()
    try:
        saved, replaced = connect(
            ctx.store,
            team=ctx.team,
            registration=ctx.registration,
            teams_channel_id=teams_channel_id,
            existing=existing,
            foreign=ctx.foreign_link,
            url=url,
            replace=replace,
            actor=actor(ctx),
        )
    except ActionError as exc:
        raise _failed(exc) from None
    name = saved.name
    ctx.on_channel(name)
    reply = Answer("Channel connected", status="good")
    reply.facts.append(("Channel", f"**{name}**"))
    reply.facts.append(("Webhook", mask(url)))
    if replaced:
        reply.facts.append(("Replaced by", md_escape(ctx.activity.sender_name)))
    reply.add("**Please delete your message with the URL now**: anyone who has it can post to this channel.")
    return reply


# --- subscriptions ---------------------------------------------------------------------------------

_OPTION_WORDS = ("at", "on", "tz")


def _offered() -> list[str]:
    """``rss URL``, ``weather PLACE``, ...: the feeds offered in chat (``shared.digest.feeds``; its
    rows only, no feed module is imported)."""
    from shared.digest import feeds

    return [f"{kind} {feeds.REGISTRY.row(kind).target.upper()}" for kind in feeds.kinds(chat=True)]


def _either(items: list[str]) -> str:
    """``**a**, **b** or **c**``."""
    bold = [f"**{item}**" for item in items]
    return ", ".join(bold[:-1]) + " or " + bold[-1] if len(bold) > 1 else "".join(bold)


def _parse_subscribe(args: list[str]) -> tuple[str, str, dict[str, str]]:
    from shared.digest import feeds

    if not args or args[0].casefold() not in feeds.kinds(chat=True):
        raise CommandError(f"say what to subscribe to: {_either(_offered())}")
    source = args[0].casefold()
    target_parts: list[str] = []
    options: dict[str, str] = {}
    i = 1
    while i < len(args) and args[i].casefold() not in _OPTION_WORDS:
        target_parts.append(args[i])
        i += 1
    while i < len(args):
        word = args[i].casefold()
        if word not in _OPTION_WORDS:
            shown = md_escape(args[i][:40])
            raise CommandError(f'unexpected "{shown}"; options are **at**, **on** and **tz**')
        if word in options:
            raise CommandError(f"**{word}** is given twice")
        values: list[str] = []
        i += 1
        while i < len(args) and args[i].casefold() not in _OPTION_WORDS:
            values.append(args[i])
            i += 1
        if not values:
            raise CommandError(f"**{word}** needs a value")
        options[word] = " ".join(values)
    target = " ".join(target_parts).strip()
    if not target:
        raise CommandError(f"**{source}** needs a target")
    return source, target, options


@registry.command(
    "subscribe",
    usage=f"subscribe {' | '.join(_offered())} [at 08:00[,17:00]] [on mon-fri] [tz Europe/Berlin]",
    summary="post a digest to this channel on a schedule",
    details=(
        "Defaults: at 08:00, every day, in your Teams time zone (UTC when Teams does not say). "
        "Days: **mon-fri**, **weekdays**, **daily** or **mon,wed,fri**."
    ),
)
def cmd_subscribe(ctx: Context) -> Answer:
    from shared.actions import subscriptions as actions
    from shared.digest import schedule as sched

    source, target, options = _parse_subscribe(ctx.command.args)
    try:
        zone = options.get("tz") or _client_tz(ctx) or "UTC"
        when = actions.plan(options.get("at", "08:00"), options.get("on", "daily"), zone)
    except ActionError as exc:
        raise CommandError(md_escape(exc)) from None
    channel = ctx.linked_channel()
    try:
        sub, note = actions.add(ctx.store, channel.name, actor(ctx), source, target, when, ctx.now)
    except ActionError as exc:
        raise _failed(exc) from None
    tz = sub.schedule.tz
    schedule = sub.schedule
    reply = Answer("Subscribed", status="good")
    reply.facts.extend(
        [
            ("Id", f"**{sub.id}**"),
            ("What", f"{source} {md_escape(target)}"),
            ("When", md_escape(sched.describe(schedule))),
            ("Next", _when(sub.next_run, tz)),
        ]
    )
    if note:
        reply.add(md_escape(note))
    reply.add(f"**digest {sub.id} now** sends one right away; **unsubscribe {sub.id}** stops it.")
    return reply


def _client_tz(ctx: Context) -> str | None:
    """The sender's Teams time zone when it is a real IANA zone: the user never typed it, so a
    zone Teams got wrong falls back to UTC instead of failing the command."""
    from shared.digest.schedule import check_tz

    zone = ctx.activity.client_timezone
    try:
        return check_tz(zone) if zone else None
    except ValueError:
        return None


def _when(value: datetime | None, tz: str = "UTC") -> str:
    if value is None:
        return "-"
    from zoneinfo import ZoneInfo

    try:
        local = value.astimezone(ZoneInfo(tz))
    except (ValueError, KeyError):
        local = value.astimezone(UTC)
    return local.strftime("%a %d %b %H:%M ") + (tz if tz else "UTC")


def _own_subscription(ctx: Context, word: str) -> Subscription:
    """The subscription `id` of this channel; "not found" for ids of other channels too."""
    from shared.actions.subscriptions import own

    if len(ctx.command.args) < 1:
        raise CommandError("give the subscription id (**subscriptions** lists them)")
    channel = ctx.linked_channel()
    try:
        return own(ctx.store, channel.name, ctx.command.args[0])
    except ActionError as exc:
        raise _failed(exc) from None


#: a target is shown this long in lists (a URL may be thousands of characters)
_TARGET_SHOWN = 120
#: subscriptions per page of `subscriptions`, and in `status`; lines are bounded, so a page fits
#: a reply (`replies.MAX_REPLY_BYTES`) with room to spare
PAGE_SIZE = 25
STATUS_SUBSCRIPTIONS = 10


def _describe_sub(sub: Subscription) -> str:
    from shared.digest.schedule import describe

    state = " (paused)" if sub.paused else ""
    target = sub.target if len(sub.target) <= _TARGET_SHOWN else sub.target[: _TARGET_SHOWN - 1] + "…"
    return f"**{sub.id}** {sub.source} {md_escape(target)}: {md_escape(describe(sub.schedule))}{state}"


def _page_number(args: list[str]) -> int:
    if not args:
        return 1
    if len(args) == 2 and args[0].casefold() == "page" and args[1].isdigit() and 0 < int(args[1]) < 10_000:
        return int(args[1])
    raise CommandError("say **subscriptions** or **subscriptions page N**")


@registry.command(
    "subscriptions",
    usage="subscriptions [page N]",
    summary="the digests of this channel",
    details=f"{PAGE_SIZE} a page: **subscriptions page 2** shows the next ones.",
    aliases=("list",),
)
def cmd_subscriptions(ctx: Context) -> Answer:
    page = _page_number(ctx.command.args)
    channel = ctx.linked_channel()
    subs = ctx.store.subscriptions.list(channel=channel.name)
    if not subs:
        return Answer("No subscriptions yet", status="default").add(
            "Start one with " + _either([f"subscribe {offer}" for offer in _offered()]) + "."
        )
    pages = (len(subs) + PAGE_SIZE - 1) // PAGE_SIZE
    if page > pages:
        raise CommandError(f"there {'is' if pages == 1 else 'are'} only {pages} page(s) of subscriptions")
    shown = subs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    reply = Answer(f"{len(subs)} subscription(s)", status="accent")
    title = "Subscriptions" if pages == 1 else f"Subscriptions, page {page} of {pages}"
    section = reply.section(title)
    for sub in shown:
        section.lines.append(_describe_sub(sub) + f", next {_when(sub.next_run, sub.schedule.tz)}")
    if page < pages:
        rest = len(subs) - page * PAGE_SIZE
        reply.add(
            f"… and {rest} more: **subscriptions page {page + 1}** shows the next {min(rest, PAGE_SIZE)}."
        )
    return reply


@registry.command("unsubscribe", usage="unsubscribe ID", summary="stop and delete a digest")
def cmd_unsubscribe(ctx: Context) -> Answer:
    from shared.actions.subscriptions import remove

    sub = _own_subscription(ctx, "unsubscribe")
    try:
        remove(ctx.store, sub.channel, actor(ctx), sub.id)  # its buffered events go with it
    except ActionError as exc:
        raise _failed(exc) from None
    return Answer("Unsubscribed", status="good").add(f"Removed {_describe_sub(sub)}.")


def _set_paused(ctx: Context, paused: bool) -> Answer:
    from shared.actions.subscriptions import set_paused

    sub = _own_subscription(ctx, "pause" if paused else "resume")
    try:
        sub, changed = set_paused(ctx.store, sub.channel, actor(ctx), sub.id, paused, ctx.now)
    except ActionError as exc:
        raise _failed(exc) from None
    if not changed:
        return Answer(f"Already {'paused' if paused else 'running'}").add(_describe_sub(sub))
    return Answer("Paused" if paused else "Resumed", status="good").add(_describe_sub(sub))


@registry.command("pause", usage="pause ID", summary="stop sending a digest for now")
def cmd_pause(ctx: Context) -> Answer:
    return _set_paused(ctx, True)


@registry.command("resume", usage="resume ID", summary="send a paused digest again")
def cmd_resume(ctx: Context) -> Answer:
    return _set_paused(ctx, False)


#: `digest ID now` fetches and posts, which may take minutes: it runs in a pool of its own, not in
#: the one that answers every team's commands, and at most this many at a time per process.
SLOW_WORKERS = 2
_slow_slots = threading.BoundedSemaphore(SLOW_WORKERS)
_slow_pool: ThreadPoolExecutor | None = None
_slow_lock = threading.Lock()
BUSY_TEXT = "I'm already sending other digests right now. Please try again in a minute."


def _slow() -> ThreadPoolExecutor:
    global _slow_pool
    with _slow_lock:
        if _slow_pool is None:
            _slow_pool = ThreadPoolExecutor(max_workers=SLOW_WORKERS, thread_name_prefix="outgoing-slow")
        return _slow_pool


def _slow_wait_seconds() -> float:
    """How long the command waits for the digest before answering "on its way" (inside Teams' 5 s)."""
    return max(0.5, settings.outgoing().deadline_seconds - 2.0)


def _post_answer(store: Store, channel: str, done: Future[Answer]) -> None:
    """The digest's answer, once it has one, posted in the channel (the reply went out already)."""
    import logging

    log = logging.getLogger(__name__)
    try:
        from shared.delivery import deliver
        from shared.outgoing.replies import render_card

        deliver(store, channel, render_card(done.result()), origin="bot")  # never combined
    except Exception as exc:
        from shared.web import log_failure

        log_failure(log, f"outgoing: could not post the digest answer to channel {channel}", exc)


@registry.command("digest", usage="digest ID now", summary="send a digest right away")
def cmd_digest(ctx: Context) -> Answer:
    args = ctx.command.args
    if len(args) != 2 or args[1].casefold() != "now":
        raise CommandError("say **digest ID now**")
    sub = _own_subscription(ctx, "digest")
    if not _slow_slots.acquire(blocking=False):
        return Answer("Busy", status="warning").add(BUSY_TEXT)
    store = ctx.store

    def job() -> Answer:
        try:
            return _digest_now(store, sub)
        finally:
            _slow_slots.release()

    try:
        running = _slow().submit(carry(job))
    except RuntimeError:  # the pool is shutting down
        _slow_slots.release()
        raise
    try:
        return running.result(timeout=_slow_wait_seconds())
    except FutureTimeout:
        running.add_done_callback(lambda done: _post_answer(store, sub.channel, done))
        reply = Answer("Digest on its way", status="accent").add(_describe_sub(sub))
        return reply.add("Fetching and posting it takes a while: I'll post the outcome in this channel.")


def _digest_now(store: Store, sub: Subscription) -> Answer:
    """Run the digest at once and say what happened (each outcome in its own words)."""
    from shared.digest.run import Outcome, send_now

    result = send_now(store, sub.id)
    channel = f"**{md_escape(result.channel or sub.channel)}**"
    detail = md_escape(result.detail) if result.detail else None
    # Every outcome of the run gets its own answer: only "sent" may say sent.
    answers: dict[Outcome, tuple[str, str, str]] = {
        Outcome.SENT: ("Digest sent", "good", f"Posted to {channel}."),
        Outcome.QUEUED: (
            "Digest queued",
            "accent",
            f"Teams is busy; the outbox will post it to {channel} shortly.",
        ),
        Outcome.TAKEN: (
            "Digest already on its way",
            "accent",
            "Another run is sending this digest right now"
            + (f" ({detail})" if detail else "")
            + ", so I did not post it again. If it does not arrive, try again in a few minutes.",
        ),
        Outcome.FAILED: ("Digest not sent", "warning", f"It could not be sent: {detail or 'unknown error'}."),
        Outcome.NOT_FOUND: ("Digest not sent", "warning", "The subscription is gone (removed meanwhile?)."),
        Outcome.EMPTY: ("Nothing to send", "default", "There is nothing new for this digest."),
        Outcome.RECOVERED: ("Digest sent", "good", f"An interrupted run had posted it to {channel}."),
        Outcome.DEFERRED: ("Digest not sent", "warning", "The run ran out of time; try again."),
    }
    title, status, text = answers[result.outcome]
    reply = Answer(title, status=status)
    reply.add(_describe_sub(sub))
    reply.add(text)
    return reply


# --- routes and status -----------------------------------------------------------------------------


def _route_lines(ctx: Context, channel_name: str) -> list[str]:
    routes = ctx.store.routes.for_channel(channel_name)
    lines = []
    for route in routes:
        mode = getattr(route, "mode", "immediate")
        url = settings.public_url("incoming", route.name)
        lines.append(f"**{md_escape(route.name)}** ({route.source}, {mode}): {url}")
    return lines


@registry.command("routes", usage="routes", summary="the incoming-proxy URLs that post into this channel")
def cmd_routes(ctx: Context) -> Answer:
    channel = ctx.linked_channel()
    lines = _route_lines(ctx, channel.name)
    if not lines:
        return Answer("No routes feed this channel").add(
            "An operator adds them with **python -m shared.admin**."
        )
    reply = Answer(f"{len(lines)} route(s) feed this channel", status="accent")
    reply.section("Routes").lines.extend(lines)
    reply.add("Senders authenticate with the route's own secret, which is not shown here.")
    return reply


def _connection_use(ctx: Context, channel: Channel) -> str | None:
    """The channel's connection and its budget use (None for a legacy connector URL: no connection)."""
    from shared.delivery import allowlist, budget

    if allowlist.is_legacy(channel.url):
        return None
    usage = budget.for_store(ctx.store).usage(channel.connection)
    count, seconds = usage.windows[-1]
    text = f"**{md_escape(channel.connection)}**: {usage.used} of {count} posts in {seconds:g} s used"
    if usage.room == 0:
        text += f", next in {usage.next_free:.0f} s (waiting posts are combined)"
    if usage.combined:
        text += f"; {usage.combined} combined so far"
    if usage.short:
        text += f"; ran short {usage.short} times"
    return text


@registry.command(
    "status", usage="status", summary="link, digests, routes, recent deliveries and backlog of this channel"
)
def cmd_status(ctx: Context) -> Answer:
    from shared.delivery.allowlist import mask

    channel = ctx.channel()
    if channel is None:
        reply = Answer("Status: not connected", status="warning")
        reply.add("Send **connect WORKFLOWS-URL** to link this channel.")
        return reply
    reply = Answer("Status", status="accent")
    reply.facts.append(("Channel", f"**{channel.name}**"))
    reply.facts.append(("Webhook", mask(channel.url)))
    # Independent reads: in parallel, so a status costs one round trip more than a lookup, not five.
    reads: list[Callable[[], Any]] = [
        lambda: ctx.store.outbox.waiting(channel.name),
        lambda: ctx.store.subscriptions.list(channel=channel.name),
        lambda: _route_lines(ctx, channel.name),
        lambda: ctx.store.deliveries.recent(channel.name, 5),
        lambda: _connection_use(ctx, channel),
    ]
    waiting, subs, route_lines, recent, use = run_parallel(reads, lambda read: read(), name="status")
    reply.facts.append(("Outbox backlog", str(len(waiting))))
    if waiting:
        from shared.delivery.report import wait_text

        oldest = min(created for _, created in waiting)
        reply.facts.append(("Oldest wait", wait_text((datetime.now(UTC) - oldest).total_seconds())))
    if use is not None:
        reply.facts.append(("Connection", use))

    section = reply.section(f"Subscriptions ({len(subs)})")
    # The ones with an error first: that is what a status is asked for.
    ordered = sorted(subs, key=lambda sub: not sub.last_error)
    for sub in ordered[:STATUS_SUBSCRIPTIONS]:
        line = _describe_sub(sub) + f", next {_when(sub.next_run, sub.schedule.tz)}"
        if sub.last_error:
            line += f", last error: {md_escape(str(sub.last_error)[:200])}"
        section.lines.append(line)
    if len(subs) > STATUS_SUBSCRIPTIONS:
        section.lines.append(
            f"… and {len(subs) - STATUS_SUBSCRIPTIONS} more: **subscriptions** lists them all"
        )
    if not subs:
        section.lines.append("none")

    routes = reply.section("Routes")
    routes.lines.extend(route_lines or ["none"])

    deliveries = reply.section("Recent deliveries")
    for item in recent:
        ok = "ok" if getattr(item, "ok", False) else "failed"
        at = getattr(item, "at", None) or getattr(item, "created", None) or getattr(item, "time", None)
        when = _when(at) if isinstance(at, datetime) else ""
        detail = md_escape(str(getattr(item, "detail", ""))[:120])
        times = getattr(item, "count", 1)
        repeated = f"({times} times)" if isinstance(times, int) and times > 1 else ""
        deliveries.lines.append(" ".join(part for part in (when, ok, detail, repeated) if part))
    if not deliveries.lines:
        deliveries.lines.append("none yet")
    _changes_block(ctx, reply, channel.name)
    return reply


# --- configure (issue 15) --------------------------------------------------------------------------


def configure_url(token: str | None = None) -> str:
    """The page's address; with a token, the link that opens it for one channel and person."""
    from urllib.parse import quote

    base = settings.configure().base_url + "/api/configure/"
    return base + ("open?t=" + quote(token, safe="") if token else "")


def _changes_block(ctx: Context, reply: Answer, channel: str) -> None:
    """`status`: the last changes (who, what, when) and the page's button."""
    from shared.actions.changes import recent

    section = reply.section("Last changes")
    try:
        found = recent(ctx.store, channel)
    except Exception as exc:  # a status without its change list is still a status
        import logging

        from shared.web import log_failure

        log_failure(logging.getLogger(__name__), "outgoing: could not read the change log", exc)
        found = []
    for change in found:
        section.lines.append(f"{_when(change.at)}: {md_escape(change.who)} {md_escape(change.what)}")
    if not section.lines:
        section.lines.append("none yet")
    _configure_button(ctx, reply)


def _link(ctx: Context) -> str:
    """A signed link to the page for this channel and the sender (see `shared.configure.tokens`)."""
    from shared.configure.tokens import make_link, signing_key

    sender = ctx.activity.sender
    token = make_link(
        signing_key(ctx.store),
        team=ctx.team,
        channel=ctx.teams_channel_id,
        person=(sender.aad_object_id if sender else None) or "",
        name=ctx.activity.sender_name,
        now=ctx.now,
    )
    return configure_url(token)


def _configure_button(ctx: Context, reply: Answer) -> None:
    """The page's button on `help` and `status`: in a channel only, and never at the cost of the answer."""
    if not ctx.activity.channel_id:
        return
    try:
        reply.buttons.append(("Configure this channel", _link(ctx)))
    except Exception as exc:  # the store is down: the answer goes without its button
        import logging

        from shared.web import log_failure

        log_failure(logging.getLogger(__name__), "outgoing: no configuration link", exc)


@registry.command(
    "configure",
    usage="configure",
    summary="a link to this channel's configuration page (for you, once, within 15 minutes)",
    details=(
        "The page shows this channel's link, routes and digests, and adds, changes, pauses and removes "
        "digests with a form. Every change is posted in the channel with the name of who made it."
    ),
)
def cmd_configure(ctx: Context) -> Answer:
    from shared.configure.tokens import LINK_SECONDS

    ctx.channel()
    if ctx.foreign_link:
        raise CommandError(
            "this channel belongs to another team's webhook registration, or to none",
            hint=_HINTS["foreign"],
        )
    url = _link(ctx)
    reply = Answer("Configure this channel", status="accent")
    reply.add(
        f"A link for {md_escape(ctx.activity.sender_name)}: it opens this channel's configuration page once, "
        f"within {LINK_SECONDS // 60} minutes. Ask again for a new one."
    )
    reply.buttons.append(("Open the configuration page", url))
    return reply
