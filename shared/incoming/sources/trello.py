"""Trello webhooks: an action on a board, list or card (``{"action": {...}, "model": {...}}``).

Cards for the common actions: a card created, moved between lists (``updateCard`` with
``listBefore``/``listAfter``), renamed, archived, its due date changed, commented, a member added,
a checklist item checked; any other action type gets a card with its type, who did it and where
(``action.display.translationKey`` when sent). Creating a webhook, Trello first sends a ``HEAD`` to
the callback URL and wants a 200: the pipeline answers every ``HEAD`` so (``pipeline.handle``).

Authentication: ``--auth trello``, ``X-Trello-Webhook`` = base64 HMAC-SHA1 of the body followed by
the callback URL, keyed with the Trello app's secret; the route setting ``callback_url`` holds
that URL exactly as given to Trello (``shared.incoming.auth``). Trello retries a post that was not
answered 2xx (three times, up to 15 minutes later) with the same action id: the de-duplication key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from shared.incoming.sources.base import (
    BuildContext,
    Incoming,
    Notice,
    Payload,
    Summary,
    content_hash,
    http_url,
    literal,
    new_card,
    short,
    validate,
)
from shared.incoming.vocabulary import State, severity_of

if TYPE_CHECKING:
    from shared.cards.builders import CardBuilder, Status

DEDUPE_WINDOW = 3600


class Named(Payload):
    id: str | None = None
    name: str | None = None
    shortLink: str | None = None
    idShort: int | None = None
    due: str | None = None
    closed: bool | None = None
    state: str | None = None
    desc: str | None = None


class Member(Payload):
    id: str | None = None
    username: str | None = None
    fullName: str | None = None
    name: str | None = None  # `data.member` of addMemberToCard


class ActionData(Payload):
    card: Named | None = None
    list: Named | None = None
    board: Named | None = None
    listBefore: Named | None = None
    listAfter: Named | None = None
    checklist: Named | None = None
    checkItem: Named | None = None
    member: Member | None = None
    old: dict[str, Any] = Field(default_factory=dict)
    text: str | None = None


class Display(Payload):
    translationKey: str | None = None


class Action(Payload):
    id: str
    type: str
    date: str | None = None
    data: ActionData = Field(default_factory=ActionData)
    memberCreator: Member | None = None
    member: Member | None = None
    display: Display | None = None


class Model(Payload):
    id: str | None = None
    name: str | None = None
    url: str | None = None


class Webhook(Payload):
    action: Action
    model: Model | None = None


def _who(member: Member | None) -> str | None:
    if member is None:
        return None
    return member.fullName or member.name or member.username


def _card_url(card: Named | None) -> str | None:
    return f"https://trello.com/c/{card.shortLink}" if card and card.shortLink else None


def _board_url(board: Named | None, model: Model | None) -> str | None:
    if board and board.shortLink:
        return f"https://trello.com/b/{board.shortLink}"
    return http_url(model.url) if model else None


def _card_name(data: ActionData) -> str:
    return short(data.card.name, 150) if data.card and data.card.name else "a card"


#: (title, status, state) of an action, from its data
Told = tuple[str, "Status", State | None]


def _create_card(data: ActionData) -> Told:
    from shared.cards.builders import Status

    where = f" in {data.list.name}" if data.list and data.list.name else ""
    return f"Card created{where}: {_card_name(data)}", Status.ACCENT, "opened"


def _update_card(data: ActionData) -> Told:
    from shared.cards.builders import Status

    name = _card_name(data)
    if data.listBefore and data.listAfter:
        return f"{name} moved from {data.listBefore.name} to {data.listAfter.name}", Status.ACCENT, "updated"
    if "due" in data.old:
        due = data.card.due if data.card else None
        what = f"due date set to {_day(due)}" if due else "due date removed"
        return f"{name}: {what}", Status.WARNING if due else Status.DEFAULT, "updated"
    if "closed" in data.old:
        archived = bool(data.card and data.card.closed)
        what = "archived" if archived else "sent back to the board"
        return f"{name} {what}", Status.DEFAULT, "closed" if archived else "opened"
    if "name" in data.old:
        return f"Card renamed: {short(data.old.get('name'), 100)} → {name}", Status.DEFAULT, "updated"
    if "desc" in data.old:
        return f"{name}: description changed", Status.DEFAULT, "updated"
    if "dueComplete" in data.old:
        return f"{name}: due date marked complete", Status.GOOD, "updated"
    return f"{name} updated", Status.DEFAULT, "updated"


def _day(value: str | None) -> str:
    """Trello writes ISO times in UTC; the day and hour read best in a title."""
    text = value or ""
    return text[:16].replace("T", " ") + " UTC" if len(text) >= 16 else text


def _comment(data: ActionData) -> Told:
    from shared.cards.builders import Status

    return f"Comment on {_card_name(data)}", Status.DEFAULT, None


def _member_added(data: ActionData) -> Told:
    from shared.cards.builders import Status

    who = _who(data.member) or "a member"
    return f"{who} added to {_card_name(data)}", Status.DEFAULT, "updated"


def _check_item(data: ActionData) -> Told:
    from shared.cards.builders import Status

    item = short(data.checkItem.name, 150) if data.checkItem and data.checkItem.name else "an item"
    done = bool(data.checkItem and data.checkItem.state == "complete")
    what = "checked" if done else "unchecked"
    return f"{_card_name(data)}: “{item}” {what}", Status.GOOD if done else Status.DEFAULT, "updated"


HANDLERS: dict[str, Callable[[ActionData], Told]] = {
    "createCard": _create_card,
    "updateCard": _update_card,
    "commentCard": _comment,
    "addMemberToCard": _member_added,
    "updateCheckItemStateOnCard": _check_item,
}


def _other(action: Action) -> Told:
    """An action type without a card of its own: its type (or Trello's key for it) and where."""
    from shared.cards.builders import Status

    key = action.display.translationKey if action.display and action.display.translationKey else None
    what = (key or action.type).removeprefix("action_").replace("_", " ")
    data = action.data
    target = data.card.name if data.card and data.card.name else data.list.name if data.list else None
    return (f"{what}: {short(target, 150)}" if target else what), Status.DEFAULT, None


class TrelloSource:
    name = "trello"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def detect(self, req: Incoming) -> bool:
        data = req.data
        action = data.get("action") if isinstance(data, dict) else None
        return isinstance(action, dict) and "type" in action and "data" in action and "model" in data

    def parse(self, req: Incoming) -> Webhook:
        return validate(Webhook, req.data, "Trello webhook")

    def build(self, hook: Webhook, req: Incoming, ctx: BuildContext) -> Notice:
        action = hook.action
        data = action.data
        handler = HANDLERS.get(action.type)
        title, status, state = handler(data) if handler else _other(action)
        board = data.board.name if data.board and data.board.name else None
        board = board or (hook.model.name if hook.model else None)
        who = _who(action.memberCreator)
        parts = (f"board {board}" if board else None, f"by {who}" if who else None)
        subtitle = " · ".join(p for p in parts if p)
        card = new_card(title, status, subtitle or None)
        if action.type == "commentCard" and data.text:
            card.text(literal(short(data.text, 1000)))
        _facts(card, action)
        url = _card_url(data.card) or _board_url(data.board, hook.model)
        card.button("Open card" if data.card else "Open board", url)
        if data.card:
            card.button("Board", _board_url(data.board, hook.model))
        return Notice(
            cards=[ctx.finish(card, status)],
            summary=Summary(
                title=title, severity=severity_of(status), state=state, source=self.name, url=url
            ),
            dedupe_id=f"trello:{content_hash(action.id)}",
            dedupe_window=DEDUPE_WINDOW,
            event=action.type,
        )


def _facts(card: CardBuilder, action: Action) -> None:
    data = action.data
    facts: list[tuple[str, str]] = []
    if data.list and data.list.name and action.type != "createCard":
        facts.append(("List", short(data.list.name, 150)))
    if data.checklist and data.checklist.name:
        facts.append(("Checklist", short(data.checklist.name, 150)))
    if data.card and data.card.due and action.type != "updateCard":
        facts.append(("Due", _day(data.card.due)))
    if facts:
        card.facts(facts)


SOURCES = {"trello": TrelloSource()}
