"""The routes of the configuration page, under /api/configure/.

    GET  open?t=LINK          who and which channel the link is for, and a button to go on
    POST open                 spends the link (once) for the session cookie, then to the page
    GET  channel              the page (`?edit=ID` fills the form with a subscription)
    POST subscriptions        add a digest;  POST subscriptions/ID  action=save|pause|resume|remove
    POST test                 post the form's digest card now ("Send a test card")
    POST link                 link or relink the Workflows webhook
    GET  next-runs, places    JSON for the form while a person types
    POST preview              JSON: the card "Show me" renders
    GET  static/NAME          CSS, JavaScript, the renderer (vendor/)

Every answer carries a strict Content-Security-Policy (no inline script or style), no-store and
no-referrer (a link's token is in its URL). Every POST needs the session's CSRF token (form
field `csrf`, or header X-CSRF-Token for the JSON calls); the link's own token is the secret of
the one form before there is a session.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shared import web
from shared.actions import ActionError, Actor
from shared.configure import forms, tokens, view

if TYPE_CHECKING:
    from shared.store import Store
    from shared.store.models import Channel, Team

log = logging.getLogger(__name__)

COOKIE = "tc_configure"
PATH = "/api/configure"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
HTML = "text/html"
#: what the redirect after a change says (a code in the URL, never text a link could inject)
DONE = {
    "added": "Digest added. The channel has been told.",
    "saved": "Digest changed. The channel has been told.",
    "paused": "Digest paused. The channel has been told.",
    "resumed": "Digest resumed. The channel has been told.",
    "removed": "Digest removed. The channel has been told.",
    "linked": "Workflows webhook linked.",
}
KIND_LABELS = {
    "weather": "Weather for a place",
    "rss": "RSS or Atom feed (URL)",
    "events": "Events of an incoming route",
    "json": "JSON URL with a field mapping",
}


@dataclass
class Request:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""
    params: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return ""


@dataclass
class Session:
    """A signed-in person on one channel."""

    claims: tokens.Claims
    key: bytes
    store: Store
    team: Team
    channel: Channel | None  # None: not linked yet

    @property
    def actor(self) -> Actor:
        return Actor(name=self.claims.name or "someone", aad_object_id=self.claims.person or None, via="page")

    @property
    def channel_name(self) -> str:
        from shared.actions.link import channel_name_for

        return (
            self.channel.name
            if self.channel is not None
            else channel_name_for(self.team.key, self.claims.channel)
        )

    @property
    def csrf(self) -> str:
        return tokens.csrf_token(self.key, self.claims)


class Refused(Exception):
    """An answer other than the page: status and a message for the person (no secret in it)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --- replies ------------------------------------------------------------------------------------


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**SECURITY_HEADERS, **(extra or {})}


def page(
    template: str, status: int = 200, headers: Mapping[str, str] | None = None, **values: Any
) -> web.Reply:
    values.setdefault("base", PATH)
    return web.Reply(status, view.render(template, **values), HTML, _headers(headers))


def message(status: int, title: str, text: str) -> web.Reply:
    return page("message.html", status, title=title, text=text)


def json_reply(status: int, payload: Mapping[str, Any]) -> web.Reply:
    reply = web.json_reply(status, payload)
    return web.Reply(reply.status, reply.body, reply.mimetype, _headers())


def redirect(to: str, headers: Mapping[str, str] | None = None) -> web.Reply:
    return web.Reply(303, b"", HTML, _headers({"Location": to, **(headers or {})}))


def _cookie(value: str, max_age: int) -> str:
    return f"{COOKIE}={value}; Path={PATH}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"


# --- sessions -----------------------------------------------------------------------------------


def _store() -> Store:
    from shared.store import open_store

    return open_store()


def _team_and_channel(store: Store, claims: tokens.Claims) -> tuple[Team, Channel | None]:
    """The link's team as registered now, and its channel; Refused when the binding no longer holds."""
    from shared.store.models import owned_by

    team = store.teams.find(claims.team)
    if team is None:
        raise Refused(403, "This team's bot is no longer registered, so its channels cannot be configured.")
    channel = store.channels.find_by_teams_channel(claims.channel)
    if channel is not None and not owned_by(channel, team.key, team.registration):
        raise Refused(403, "This channel belongs to another team's webhook registration.")
    return team, channel


#: set by App Service Authentication (the platform strips it from what clients send): the signed-in
#: person's Entra object id, when an operator put the app behind it
PRINCIPAL_HEADER = "x-ms-client-principal-id"


def _same_person(request: Request, claims: tokens.Claims) -> None:
    """Behind App Service Authentication, the link's person must be the one signed in."""
    signed_in = request.header(PRINCIPAL_HEADER).strip().lower()
    if signed_in and claims.person and signed_in != claims.person.strip().lower():
        raise Refused(
            403, "This link was made for someone else: ask the bot for your own (@Connector configure)."
        )


def session(request: Request, store: Store) -> Session:
    key = tokens.signing_key(store)
    raw = ""
    try:
        cookie = SimpleCookie(request.header("cookie"))
        morsel = cookie.get(COOKIE)
        raw = morsel.value if morsel is not None else ""
    except CookieError:
        raw = ""
    if not raw:
        raise Refused(
            401, "You are not signed in here. In the channel, send @Connector configure for a link."
        )
    try:
        claims = tokens.read(key, raw, "session")
    except tokens.TokenError:
        raise Refused(
            401, "Your session has ended. In the channel, send @Connector configure for a new link."
        ) from None
    _same_person(request, claims)
    team, channel = _team_and_channel(store, claims)
    return Session(claims, key, store, team, channel)


def _check_csrf(request: Request, sess: Session, form: dict[str, list[str]] | None) -> None:
    given = request.header("x-csrf-token") or (forms.one(form, "csrf", 200) if form is not None else "")
    if not tokens.check_csrf(sess.key, sess.claims, given):
        raise Refused(
            403,
            "This form has no valid CSRF token (it is not from this page). Reload the page and try again.",
        )


def _form(request: Request) -> dict[str, list[str]]:
    try:
        return forms.parse(request.header("content-type"), request.body)
    except forms.FormError as exc:
        raise Refused(413 if "larger" in str(exc) else 415, str(exc)) from None


# --- the handler --------------------------------------------------------------------------------


def handle(request: Request) -> web.Reply:
    """One request; never a 500 (a failure is logged by type and place and answered 503)."""
    from shared.store.errors import StoreUnavailable

    try:
        return _route(request)
    except Refused as refused:
        if request.path.strip("/") in ("next-runs", "places", "preview"):
            return json_reply(refused.status, {"error": str(refused)})
        return message(refused.status, "Cannot continue", str(refused))
    except StoreUnavailable:
        return message(503, "Try again in a moment", "The app's storage is unavailable right now.")
    except Exception as exc:
        web.log_failure(log, "configure: the request failed", exc)
        return message(503, "Try again in a moment", "Something went wrong on our side; nothing was changed.")


def _route(request: Request) -> web.Reply:
    path = request.path.strip("/")
    method = request.method
    if len(request.body) > forms.MAX_FORM_BYTES:
        raise Refused(413, f"the request is larger than {forms.MAX_FORM_BYTES // 1024} KB")
    if path.startswith("static/") and method == "GET":
        found = view.static_file(path[len("static/") :])
        if found is None:
            raise Refused(404, "There is no such file.")
        body, kind = found
        return web.Reply(200, body, kind, _headers({"Cache-Control": "public, max-age=3600"}))
    if path in ("", "open") and method == "GET":
        return _open_page(request)
    if path == "open" and method == "POST":
        return _open(request)
    store = _store()
    sess = session(request, store)
    if method == "GET" and path == "channel":
        done = DONE.get(request.params.get("done", ""))
        return _channel_page(sess, notice=done, edit=request.params.get("edit"))
    if method == "GET" and path == "next-runs":
        return _next_runs(request)
    if method == "GET" and path == "places":
        return _places(request)
    if method != "POST":
        raise Refused(
            405 if path in ("subscriptions", "test", "link", "preview") else 404, "There is no such page."
        )
    form = _form(request)
    _check_csrf(request, sess, form)
    if path == "subscriptions":
        return _add(sess, form)
    if path.startswith("subscriptions/"):
        return _change(sess, path.split("/", 1)[1], form)
    if path == "test":
        return _test(sess, form)
    if path == "link":
        return _link(sess, form)
    if path == "preview":
        return _preview(sess, form)
    raise Refused(404, "There is no such page.")


# --- the link -----------------------------------------------------------------------------------


def _link_claims(store: Store, token: str) -> tuple[bytes, tokens.Claims]:
    key = tokens.signing_key(store)
    try:
        return key, tokens.read(key, token, "link")
    except tokens.TokenError as exc:
        raise Refused(403, str(exc)) from None


def _open_page(request: Request) -> web.Reply:
    token = request.params.get("t", "")
    if not token:
        return message(
            200,
            "Configure a channel",
            "In the Teams channel, send @Connector configure: the bot answers with your link to this page.",
        )
    store = _store()
    _key, claims = _link_claims(store, token)
    team, channel = _team_and_channel(store, claims)
    name = channel.name if channel is not None else "a channel not linked yet"
    return page("open.html", token=token, who=claims.name, channel=name, team=team.name or team.key)


def _open(request: Request) -> web.Reply:
    form = _form(request)
    store = _store()
    key, claims = _link_claims(store, forms.one(form, "t", tokens.MAX_TOKEN))
    _same_person(request, claims)
    _team_and_channel(store, claims)
    if not tokens.spend(store, claims):
        raise Refused(
            403, "This link has been used already: ask the bot for a new one (@Connector configure)."
        )
    cookie = _cookie(tokens.make_session(key, claims), tokens.SESSION_SECONDS)
    return redirect(f"{PATH}/channel", {"Set-Cookie": cookie})


# --- the page -----------------------------------------------------------------------------------


def _zones() -> list[str]:
    import zoneinfo

    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


def _local(value: datetime | None, tz: str) -> str:
    if value is None:
        return "-"
    from zoneinfo import ZoneInfo

    try:
        return value.astimezone(ZoneInfo(tz)).strftime("%a %d %b %Y %H:%M ") + tz
    except (KeyError, ValueError):
        return value.astimezone(UTC).strftime("%a %d %b %Y %H:%M UTC")


def _channel_page(
    sess: Session,
    *,
    notice: str | None = None,
    edit: str | None = None,
    draft: forms.SubscriptionForm | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    link_error: str | None = None,
) -> web.Reply:
    from shared.actions.changes import recent
    from shared.delivery.allowlist import mask
    from shared.digest.schedule import DAY_NAMES, describe

    store, name = sess.store, sess.channel_name
    subs = store.subscriptions.list(channel=name) if sess.channel is not None else []
    routes = store.routes.for_channel(name) if sess.channel is not None else []
    editing = next((s for s in subs if s.id == edit), None) if edit else None
    if draft is None and editing is not None:
        draft = forms.SubscriptionForm(
            source=editing.source,
            target=editing.target,
            times=", ".join(editing.schedule.times),
            days=[forms.DAYS[d] for d in editing.schedule.days if 0 <= d < 7],
            tz=editing.schedule.tz,
            json_items=str((editing.settings or {}).get("items") or ""),
            json_fields={
                str(k): str(v) for k, v in dict((editing.settings or {}).get("fields") or {}).items()
            },
        )
    rows = [
        {
            "id": s.id,
            "source": s.source,
            "target": s.target,
            "when": describe(s.schedule),
            "next": "paused" if s.paused else _local(s.next_run, s.schedule.tz),
            "last": _local(s.last_run, s.schedule.tz) if s.last_run else "not run yet",
            "result": "failed" if s.last_error else ("sent" if s.last_run else "-"),
            "error": (s.last_error or "")[:300],
            "paused": s.paused,
        }
        for s in subs
    ]
    return page(
        "channel.html",
        status,
        session=sess,
        channel=sess.channel,
        channel_name=name,
        connection=getattr(sess.channel, "connection", None),
        webhook=mask(sess.channel.url) if sess.channel is not None and sess.channel.url else None,
        routes=routes,
        subs=rows,
        changes=recent(store, name) if sess.channel is not None else [],
        notice=notice,
        form=draft or forms.SubscriptionForm(),
        editing=editing.id if editing is not None else (edit if draft is not None and edit else None),
        errors=errors or {},
        link_error=link_error,
        kinds=KIND_LABELS,
        day_names=list(zip(forms.DAYS, DAY_NAMES, strict=False)),
        json_fields=forms.JSON_FIELDS,
        zones=_zones(),
        csrf=sess.csrf,
        renderer=view.renderer_present(),
        fmt=_local,
    )


def _plan(draft: forms.SubscriptionForm) -> Any:
    from shared.actions.subscriptions import plan

    if not draft.days:
        raise ActionError("choose at least one day", field="days")
    return plan(draft.times, draft.days_text(), draft.tz)


def _weather_known(draft: forms.SubscriptionForm) -> None:
    """A weather place the geocoder does not know is refused with what it does know."""
    from shared.configure.lookups import places

    if draft.source != "weather":
        return
    try:
        found = places(draft.target)
    except ActionError:
        return  # the geocoder is down: the digest says so when it runs
    if not found and len(draft.target.strip()) >= 2:
        raise ActionError(f"no place called {draft.target[:60]!r} was found; try a city name", field="target")


def _refused_form(
    sess: Session, draft: forms.SubscriptionForm, exc: ActionError, edit: str | None
) -> web.Reply:
    field_name = exc.field or "form"
    return _channel_page(sess, draft=draft, errors={field_name: str(exc)}, status=400, edit=edit)


def _needs_link(sess: Session) -> None:
    if sess.channel is None:
        raise Refused(409, "Link this channel's Workflows webhook first: digests are posted through it.")


def _add(sess: Session, form: dict[str, list[str]]) -> web.Reply:
    from shared.actions.subscriptions import add

    _needs_link(sess)
    draft = forms.SubscriptionForm.read(form)
    try:
        when = _plan(draft)
        _weather_known(draft)
        add(
            sess.store,
            sess.channel_name,
            sess.actor,
            draft.source,
            draft.target,
            when,
            datetime.now(UTC),
            draft.options(),
        )
    except ActionError as exc:
        return _refused_form(sess, draft, exc, None)
    return redirect(f"{PATH}/channel?done=added")


def _change(sess: Session, sub_id: str, form: dict[str, list[str]]) -> web.Reply:
    from shared.actions import subscriptions as actions

    _needs_link(sess)
    action = forms.one(form, "action", 20)
    now = datetime.now(UTC)
    try:
        if action == "save":
            draft = forms.SubscriptionForm.read(form)
            try:
                when = _plan(draft)
                _weather_known(draft)
                actions.edit(
                    sess.store,
                    sess.channel_name,
                    sess.actor,
                    sub_id,
                    draft.target,
                    when,
                    now,
                    draft.options(),
                )
            except ActionError as exc:
                if exc.code == "not_found":
                    raise
                return _refused_form(sess, draft, exc, sub_id)
            return redirect(f"{PATH}/channel?done=saved")
        if action in ("pause", "resume"):
            actions.set_paused(sess.store, sess.channel_name, sess.actor, sub_id, action == "pause", now)
            return redirect(f"{PATH}/channel?done={action}d")
        if action == "remove":
            actions.remove(sess.store, sess.channel_name, sess.actor, sub_id)
            return redirect(f"{PATH}/channel?done=removed")
    except ActionError as exc:
        return _channel_page(
            sess, notice=None, errors={"list": str(exc)}, status=404 if exc.code == "not_found" else 400
        )
    raise Refused(400, "Say what to do: save, pause, resume or remove.")


def _link(sess: Session, form: dict[str, list[str]]) -> web.Reply:
    from shared.actions.link import connect

    url = forms.one(form, "url", 4000)
    if not url:
        return _channel_page(sess, link_error="paste the Workflows URL of this channel", status=400)
    try:
        connect(
            sess.store,
            team=sess.team.key,
            registration=sess.team.registration,
            teams_channel_id=sess.claims.channel,
            existing=sess.channel,
            foreign=False,
            url=url,
            replace=forms.one(form, "replace", 5) == "yes",
            actor=sess.actor,
        )
    except ActionError as exc:
        text = str(exc) + (
            "; tick 'replace the current link' to change it" if exc.code == "connected" else ""
        )
        return _channel_page(sess, link_error=text, status=400)
    return redirect(f"{PATH}/channel?done=linked")


# --- the form's helpers -------------------------------------------------------------------------


def _next_runs(request: Request) -> web.Reply:
    from shared.configure.lookups import next_runs

    draft = forms.SubscriptionForm(
        times=request.params.get("times", "")[:200],
        days=[d for d in request.params.get("days", "").split(",") if d in forms.DAYS],
        tz=request.params.get("tz", "UTC")[:64],
    )
    try:
        when = _plan(draft)
    except ActionError as exc:
        return json_reply(400, {"error": str(exc), "field": exc.field})
    runs = next_runs(when, datetime.now(UTC))
    return json_reply(200, {"runs": [_local(r, when.tz) for r in runs], "tz": when.tz})


def _places(request: Request) -> web.Reply:
    from shared.configure.lookups import places

    try:
        found = places(request.params.get("q", "")[:100])
    except ActionError as exc:
        return json_reply(503, {"error": str(exc), "field": "target"})
    return json_reply(200, {"places": found})


def _draft_card(sess: Session, form: dict[str, list[str]]) -> dict[str, Any]:
    from shared.configure.lookups import preview_card

    _needs_link(sess)
    draft = forms.SubscriptionForm.read(form)
    when = _plan(draft)
    sub_id = forms.one(form, "id", 40) or None
    if sub_id is not None:
        from shared.actions.subscriptions import own

        own(sess.store, sess.channel_name, sub_id)  # another channel's events are not ours to show
    return preview_card(sess.store, sess.channel_name, draft, when, datetime.now(UTC), sub_id)


def _preview(sess: Session, form: dict[str, list[str]]) -> web.Reply:
    try:
        card = _draft_card(sess, form)
    except ActionError as exc:
        return json_reply(400, {"error": str(exc), "field": exc.field})
    return json_reply(200, {"card": card})


def _test(sess: Session, form: dict[str, list[str]]) -> web.Reply:
    """ "Send a test card": the form's digest card, posted now; the page says what Workflows answered."""
    from shared.cards.builders import CardBuilder
    from shared.delivery import deliver

    draft = forms.SubscriptionForm.read(form)
    try:
        card = _draft_card(sess, form)
    except ActionError as exc:
        return _refused_form(sess, draft, exc, forms.one(form, "id", 40) or None)
    from shared.actions import changes

    try:
        changes.admit(sess.channel_name, "test")
    except ActionError as exc:
        return _refused_form(sess, draft, exc, forms.one(form, "id", 40) or None)
    note = CardBuilder(f"Test card from the configuration page, sent by {sess.actor.name[:60]}").build()
    result = deliver(sess.store, sess.channel_name, note, budget_seconds=3)
    if result.ok:
        result = deliver(sess.store, sess.channel_name, card, budget_seconds=5)
    answers = {
        "accepted": "Workflows accepted the test card: it is in the channel.",
        "queued": "Workflows is busy: the test card waits in the outbox and is posted shortly.",
    }
    text = (
        answers.get(result.state) or f"Workflows did not take the test card: {result.detail or result.state}"
    )
    return _channel_page(sess, notice=text, draft=draft, edit=forms.one(form, "id", 40) or None)


def link_for_tests(base: str, token: str) -> str:
    return f"{base}{PATH}/open?t={quote(token, safe='')}"
