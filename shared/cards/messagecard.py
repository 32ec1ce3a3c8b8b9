"""Legacy MessageCard (Office 365 connector card) and its conversion to an Adaptive Card.

Senders still emit MessageCards (old Alertmanager configs, scripts written for connector URLs),
but Workflows only renders Adaptive Cards well, so we convert, keeping everything visible:
title, summary, text, theme colour (as the header band), sections (activity block, hero image,
facts, images, text) and `OpenUri` buttons. `HttpPOST` and `ActionCard` cannot work through a
webhook any more; they become a visible note (plus a link when there is one), never a silent
drop. The result declares the lowest version it needs (1.2 at most; the Workflows Flow bot
displays up to 1.4). Inputs in the wild are sloppy, so the model is lenient: http or https `@context`, missing
summary, missing `markdown` flags, numbers where strings belong, unknown fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from shared.cards.builders import Status, fact_set, text_block
from shared.cards.envelopes import SCHEMA_URL
from shared.cards.links import http_url
from shared.cards.markdown import defuse_mentions, escape, sender_markdown
from shared.cards.versions import lowest_version

if TYPE_CHECKING:
    from shared.cards.adaptive import AdaptiveCard


def _to_text(value: Any) -> Any:
    """Numbers and booleans where text belongs are common in hand-written cards."""
    if isinstance(value, (int, float, bool)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n\n".join(value)
    return value


def _to_image(value: Any) -> Any:
    return {"image": value} if isinstance(value, str) else value


Text = Annotated[str | None, BeforeValidator(_to_text)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class MessageCardFact(_Lenient):
    name: Any = None
    value: Any = None


class MessageCardImage(_Lenient):
    image: Text = None
    title: Text = None


class MessageCardAction(_Lenient):
    """`OpenUri`, `HttpPOST`, `ActionCard`, `InvokeAddInCommand`; fields vary by type."""

    type: Text = Field(default=None, alias="@type")
    name: Text = None
    targets: list[dict[str, Any]] | None = None
    target: Text = None
    inputs: list[dict[str, Any]] | None = None
    actions: list[MessageCardAction] | None = None


class MessageCardSection(_Lenient):
    title: Text = None
    startGroup: bool | None = None
    activityImage: Text = None
    activityTitle: Text = None
    activitySubtitle: Text = None
    activityText: Text = None
    heroImage: Annotated[MessageCardImage | None, BeforeValidator(_to_image)] = None
    text: Text = None
    facts: list[MessageCardFact] | None = None
    images: list[MessageCardImage] | None = None
    potentialAction: list[MessageCardAction] | None = None
    markdown: bool | None = None


class MessageCard(_Lenient):
    type: Text = Field(default=None, alias="@type")
    context: Text = Field(default=None, alias="@context")
    summary: Text = None
    title: Text = None
    text: Text = None
    themeColor: Text = None
    correlationId: Text = None
    sections: list[MessageCardSection] | None = None
    potentialAction: list[MessageCardAction] | None = None
    heroImage: Annotated[MessageCardImage | None, BeforeValidator(_to_image)] = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> MessageCard:
        return cls.model_validate(data)


def looks_like_message_card(data: Any) -> bool:
    """True for a dict that claims to be a MessageCard (`@type`, any case, with either @context)."""
    return isinstance(data, dict) and str(data.get("@type", "")).lower() == "messagecard"


def _status_for(theme: str | None) -> Status:
    """Nearest Adaptive Card colour for a hex themeColor (cards can't carry arbitrary colours)."""
    if not theme:
        return Status.DEFAULT
    raw = theme.strip().lstrip("#")
    if len(raw) == 3:
        raw = "".join(ch * 2 for ch in raw)
    try:
        r, g, b = (int(raw[i : i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        return Status.ACCENT
    high, low = max(r, g, b), min(r, g, b)
    if high - low < 30:
        return Status.DEFAULT
    if r >= g and r >= b:
        return Status.WARNING if g > 0.55 * r else Status.ATTENTION
    if g >= r and g >= b:
        return Status.WARNING if r > 0.8 * g else Status.GOOD
    return Status.ACCENT


def _md(text: Any, markdown: bool = True) -> str:
    """Sender text into Teams' subset; `<at>` markup defused (MessageCards had no mentions, and
    a route's own mention entities must not match text a sender wrote); links http(s) only."""
    value = "" if text is None else str(text)
    return sender_markdown(value) if markdown else escape(value)


def _uri_of(action: MessageCardAction) -> str | None:
    targets = [t for t in action.targets or [] if isinstance(t, dict) and t.get("uri")]
    for target in targets:
        if str(target.get("os", "default")).lower() == "default":
            return str(target["uri"])
    if targets:
        return str(targets[0]["uri"])
    uri = getattr(action, "uri", None) or action.target
    # The legacy ViewAction's `target` is a list of URLs (joined by _to_text): the first opens.
    return str(uri).split("\n\n", 1)[0].strip() if uri else None


def _convert_actions(actions: list[MessageCardAction], notes: list[str]) -> list[dict[str, Any]]:
    """OpenUri -> Action.OpenUrl; the rest become notes shown on the card."""
    result: list[dict[str, Any]] = []
    for action in actions:
        kind = (action.type or "").lower()
        name = action.name or "Action"
        # ViewAction: OpenUri's legacy name, still posted by e.g. Jenkins' Office 365 Connector plugin
        uri = _uri_of(action) if kind in ("openuri", "viewaction") else None
        link = http_url(uri)
        if link:
            result.append({"type": "Action.OpenUrl", "title": name, "url": link})
        elif kind == "actioncard":
            inner = action.actions or []
            links = [a for a in inner if (a.type or "").lower() == "openuri"]
            others = [a.name or a.type or "action" for a in inner if a not in links]
            note = f"“{escape(name)}”: a form"
            if others:
                note += " (" + ", ".join(escape(str(o)) for o in others) + ")"
            notes.append(note + " that Teams webhooks cannot show; reply in the source app")
            result.extend(_convert_actions(links, notes))
        elif kind == "httppost":
            target = action.target or ""
            note = f"“{escape(name)}” (an HTTP POST action) cannot run from Teams webhooks"
            if http_url(target):
                # Without query or fragment: POST targets often carry a key (`?code=`, `sig=`)
                # that the button hid and a visible note must not hand to every channel member.
                note += f"; its target is {target.split('?')[0].split('#')[0]}"
            notes.append(note)
        else:
            note = f"“{escape(name)}” ({escape(action.type or 'unknown')} action) is not available here"
            if uri:
                note += f": {uri}"
            notes.append(note)
    return result


def _section(section: MessageCardSection, index: int) -> list[dict[str, Any]]:
    markdown = section.markdown is not False
    items: list[dict[str, Any]] = []
    if section.title:
        items.append(text_block(_md(section.title, markdown), weight="Bolder", size="Medium"))
    activity: list[dict[str, Any]] = []
    if section.activityTitle:
        activity.append(text_block(_md(section.activityTitle, markdown), weight="Bolder"))
    if section.activitySubtitle:
        activity.append(text_block(_md(section.activitySubtitle, markdown), isSubtle=True, spacing="None"))
    if section.activityText:
        activity.append(text_block(_md(section.activityText, markdown)))
    if section.activityImage:
        columns: list[dict[str, Any]] = [
            {
                "type": "Column",
                "width": "auto",
                "items": [
                    {
                        "type": "Image",
                        "url": section.activityImage,
                        "size": "Small",
                        "style": "Person",
                        "altText": defuse_mentions(str(section.activityTitle or "activity image")),
                    }
                ],
            }
        ]
        if activity:
            columns.append({"type": "Column", "width": "stretch", "items": activity})
        items.append({"type": "ColumnSet", "columns": columns})
    else:
        items.extend(activity)
    if section.heroImage and section.heroImage.image:
        items.append(_image(section.heroImage, size="Stretch"))
        if section.heroImage.title:
            items.append(text_block(_md(section.heroImage.title, markdown), isSubtle=True))
    if section.text:
        items.append(text_block(_md(section.text, markdown)))
    facts = fact_set((_md(f.name, markdown), _md(f.value, markdown)) for f in section.facts or [])
    if facts:
        items.append(facts)
    images = [img for img in section.images or [] if img.image]
    if images:
        items.append({"type": "ImageSet", "images": [_image(img) for img in images]})
        captions = [str(img.title) for img in images if img.title]
        if captions:
            items.append(text_block(escape(" · ".join(captions)), isSubtle=True, size="Small"))
    if not items:
        return []
    container: dict[str, Any] = {"type": "Container", "items": items}
    if index > 0 or section.startGroup:
        container["separator"] = True
        container["spacing"] = "Medium"
    return [container]


def _image(image: MessageCardImage, **props: Any) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "Image", "url": image.image}
    if image.title:
        element["altText"] = defuse_mentions(str(image.title))
    element.update(props)
    return element


def to_adaptive_dict(mc: MessageCard | dict[str, Any]) -> dict[str, Any]:
    """The converted card as plain data (what `to_adaptive` wraps)."""
    card = mc if isinstance(mc, MessageCard) else MessageCard.parse(mc)
    status = _status_for(card.themeColor)
    notes: list[str] = []

    title = card.title or card.summary or ""
    header_items: list[dict[str, Any]] = []
    if title:
        # default text colour on the status band: see `builders.Status`
        header_items.append(text_block(_md(title), size="Large", weight="Bolder"))
    summary = (card.summary or "").strip()
    if card.title and summary and summary not in (card.title.strip(), (card.text or "").strip()):
        header_items.append(text_block(escape(summary), isSubtle=True, spacing="None"))

    body: list[dict[str, Any]] = []
    if header_items:
        header: dict[str, Any] = {"type": "Container", "id": "header", "items": header_items}
        if status is not Status.DEFAULT:
            header["style"] = status.style
            header["bleed"] = True
        body.append(header)
    if card.text:
        body.append(text_block(_md(card.text)))
    if card.heroImage and card.heroImage.image:
        body.append(_image(card.heroImage, size="Stretch"))
    for index, section in enumerate(card.sections or []):
        body.extend(_section(section, index))
        if section.potentialAction:
            section_actions = _convert_actions(section.potentialAction, notes)
            if section_actions:
                body.append({"type": "ActionSet", "actions": section_actions})
    actions = _convert_actions(card.potentialAction or [], notes)
    if notes:
        body.append(
            text_block(
                defuse_mentions("Not available in Teams:\n" + "\n".join(f"- {note}" for note in notes)),
                isSubtle=True,
                size="Small",
                separator=True,
            )
        )
    if not body:
        body.append(text_block("(empty message)", isSubtle=True))

    result: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA_URL, "version": "1.0", "body": body}
    if actions:
        result["actions"] = actions
    if summary:
        result["fallbackText"] = defuse_mentions(summary)
    result["msteams"] = {"width": "Full"}
    result["version"] = lowest_version(result)  # 1.4 at most: nothing newer is built here
    return result


def to_adaptive(mc: MessageCard | dict[str, Any]) -> AdaptiveCard:
    """Convert a MessageCard (model or raw dict) into an Adaptive Card model."""
    from shared.cards.adaptive import AdaptiveCard  # ~50 models: only when a model is wanted

    return AdaptiveCard.parse(to_adaptive_dict(mc))
