"""SharePoint list webhooks: the subscription's validation, then "items changed in <list>".

Creating a subscription, SharePoint POSTs ``?validationtoken=<token>`` with an empty body and
creates it only if the token comes back as ``text/plain`` with a 200 within 5 seconds: the
``handshake`` below answers that before authentication (SharePoint sends no credential with it)
and before any store write. Notifications, ``{"value": [{subscriptionId, clientState, resource,
siteUrl, webId, tenantId, expirationDateTime}]}``, carry ids only: which list changed, never what.
Fetching the changed items would need an app identity with SharePoint permissions and the list's
``GetChanges`` call (README, "SharePoint"); this source posts one card per list with a link.

Authentication: ``--auth sharepoint`` compares every notification's ``clientState`` with the
route's secret (``shared.incoming.auth``). Route settings:

- ``site_host``: ``https://contoso.sharepoint.com``, to make links (``siteUrl`` is server-relative);
- ``lists``: ``{"<list id>": "Contracts"}`` or ``{"<list id>": {"name": ..., "url": ...}}``: the
  names and links of the lists (a notification names a list by id only);
- ``renew_warning_days`` (default 14): a card says when the subscription expires within that many
  days (subscriptions last at most 180 days and must be renewed).

SharePoint retries a notification it could not deliver (5 minutes apart), and two changes of one
list send identical bodies: the key is the lists notified, so changes of a list within the dedupe
window (default 10 minutes, ``dedupe_window_seconds``) are one card.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from shared.incoming.sources.base import (
    BuildContext,
    Card,
    Incoming,
    Notice,
    Payload,
    Summary,
    content_hash,
    http_url,
    int_setting,
    new_card,
    short,
    structured,
    validate,
)
from shared.web import Reply, error

if TYPE_CHECKING:
    from shared.cards.builders import Status

DEDUPE_WINDOW = 600
MAX_LISTS = 10
MAX_TOKEN = 1024
#: what a validation token may hold: it is echoed, so nothing a browser or a log could misread
TOKEN = re.compile(r"^[A-Za-z0-9._~+/=:-]{1,1024}$")
GUID = re.compile(r"^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?$")


class Change(Payload):
    subscriptionId: str
    clientState: str | None = None
    resource: str
    siteUrl: str | None = None
    webId: str | None = None
    tenantId: str | None = None
    expirationDateTime: str | None = None


class Notifications(Payload):
    value: list[Change] = Field(min_length=1)


def validation_reply(token: str) -> Reply:
    """The echo SharePoint waits for; a token that is not one is a 400, never reflected."""
    if not TOKEN.match(token):
        problem = ["validationtoken: unexpected characters"]
        return error(400, "validationtoken is not a SharePoint token", problem)
    return Reply(200, token.encode("ascii"), "text/plain", {"X-Content-Type-Options": "nosniff"})


def _list_info(settings: Mapping[str, Any], list_id: str) -> tuple[str | None, str | None]:
    lists = structured(settings.get("lists"))
    if not isinstance(lists, Mapping):
        return None, None
    wanted = list_id.strip("{}").lower()
    for key, value in lists.items():
        if str(key).strip("{}").lower() != wanted:
            continue
        if isinstance(value, Mapping):
            name = value.get("name")
            return (str(name) if name else None), http_url(value.get("url"))
        return (str(value) if value else None), None
    return None, None


def _site_link(settings: Mapping[str, Any], site_url: str | None, list_id: str) -> str | None:
    host = http_url(settings.get("site_host"))
    if not host:
        return None
    path = site_url or "/"
    if not path.startswith("/"):
        return http_url(path)  # an absolute siteUrl, should one come
    base = host.rstrip("/") + path.rstrip("/")
    if GUID.match(list_id):
        return f"{base}/_layouts/15/listedit.aspx?List=%7B{list_id.strip('{}')}%7D"
    return f"{base}/_layouts/15/viewlsts.aspx"


def _days_left(expires: str | None) -> int | None:
    """Days until a UTC time as SharePoint writes it (``2026-04-30T17:27:00.0000000Z``)."""
    try:
        moment = datetime.fromisoformat((expires or "")[:19]).replace(tzinfo=UTC)
    except ValueError:
        return None
    return (moment - datetime.now(UTC)).days


class SharePointSource:
    name = "sharepoint"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def handshake(self, req: Incoming) -> Reply | None:
        token = req.param("validationtoken")
        if token is None or req.body.strip():
            return None
        return validation_reply(token[: MAX_TOKEN + 1])

    def detect(self, req: Incoming) -> bool:
        data = req.data
        value = data.get("value") if isinstance(data, dict) else None
        return (
            isinstance(value, list)
            and bool(value)
            and isinstance(value[0], dict)
            and "subscriptionId" in value[0]
            and "resource" in value[0]
        )

    def parse(self, req: Incoming) -> Notifications:
        return validate(Notifications, req.data, "SharePoint webhook notification")

    def build(self, n: Notifications, req: Incoming, ctx: BuildContext) -> Notice:
        from shared.cards.builders import Status

        settings = ctx.settings or {}
        warn_days = int_setting(settings, "renew_warning_days", 14, low=0, high=180)
        lists: dict[str, Change] = {}
        for change in n.value:
            lists.setdefault(change.resource.strip("{}").lower(), change)
        cards: list[Card] = []
        titles: list[str] = []
        first_url: str | None = None
        renew = False
        for change in list(lists.values())[:MAX_LISTS]:
            name, url = _list_info(settings, change.resource)
            url = url or _site_link(settings, change.siteUrl, change.resource)
            first_url = first_url or url
            shown = name or f"list {short(change.resource, 64)}"
            title = f"Items changed in {shown}"
            titles.append(title)
            days = _days_left(change.expirationDateTime)
            status: Status = Status.ACCENT
            subtitle = f"site {short(change.siteUrl, 200)}" if change.siteUrl else None
            if days is not None and days <= warn_days:
                status, renew = Status.WARNING, True
                subtitle = (
                    f"the webhook subscription expires in {days} days: renew it"
                    if days >= 0
                    else "the webhook subscription has expired: create it again"
                )
            card = new_card(title, status, subtitle)
            card.text("SharePoint says which list changed, not what changed: open the list to see.")
            facts = [("List id", short(change.resource, 64))]
            if change.expirationDateTime:
                facts.append(("Subscription expires", short(change.expirationDateTime, 40)))
            facts.append(("Subscription", short(change.subscriptionId, 64)))
            card.facts(facts)
            card.button("Open list", url)
            cards.append(ctx.finish(card, status))
        keys = sorted(lists)
        return Notice(
            cards=cards,
            summary=Summary(
                title=titles[0] if len(titles) == 1 else f"Items changed in {len(titles)} lists",
                severity="warning" if renew else "accent",
                state="updated",
                source=self.name,
                url=first_url,
            ),
            dedupe_id=f"sharepoint:{content_hash(*keys)}",
            dedupe_window=DEDUPE_WINDOW,
            event="items.changed",
        )


SOURCES = {"sharepoint": SharePointSource()}
