"""The Bot Framework activity Teams posts to an outgoing webhook, read tolerantly.

Teams adds fields over time (channelData.team/channel/tenant replaced teamsTeamId/teamsChannelId),
so unknown fields are kept and every field we read is optional.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "MAX_TEXT_CHARS",
    "Account",
    "Activity",
    "ActivityError",
    "ChannelData",
    "Command",
    "TextTooLong",
    "clean_text",
    "parse_activity",
    "split_command",
]


class ActivityError(ValueError):
    """The body is not an activity we can read; the message says why (safe to show the sender)."""


# A command is a line or two; Teams caps a whole message near 28 KB. Longer text is refused
# rather than cleaned, since cleaning is regex work that must stay far inside the reply deadline.
MAX_TEXT_CHARS = 16_000


class TextTooLong(ActivityError):
    """The message is a valid activity, but far longer than any command."""


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class IdRef(_Loose):
    id: str | None = None
    name: str | None = None


class Account(_Loose):
    id: str | None = None
    name: str | None = None
    aad_object_id: str | None = Field(default=None, alias="aadObjectId")


class ChannelData(_Loose):
    team: IdRef | None = None
    channel: IdRef | None = None
    tenant: IdRef | None = None
    teams_team_id: str | None = Field(default=None, alias="teamsTeamId")
    teams_channel_id: str | None = Field(default=None, alias="teamsChannelId")


class Activity(_Loose):
    type: str = ""
    id: str | None = None
    timestamp: datetime | None = None
    text: str | None = None
    text_format: str | None = Field(default=None, alias="textFormat")
    locale: str | None = None
    sender: Account | None = Field(default=None, alias="from")
    recipient: Account | None = None
    conversation: IdRef | None = None
    channel_data: ChannelData | None = Field(default=None, alias="channelData")
    entities: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("entities", mode="before")
    @classmethod
    def _only_objects(cls, value: Any) -> Any:
        # One odd entity must not make the whole message unreadable.
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
        return [] if value is None else value

    @property
    def team_id(self) -> str | None:
        data = self.channel_data
        if data is None:
            return None
        return (data.team.id if data.team else None) or data.teams_team_id

    @property
    def channel_id(self) -> str | None:
        """The channel's thread id; the conversation id (minus `;messageid=`) when channelData lacks it."""
        data = self.channel_data
        found = ((data.channel.id if data.channel else None) or data.teams_channel_id) if data else None
        if not found and self.conversation and self.conversation.id:
            found = self.conversation.id.split(";", 1)[0]
        return found or None

    @property
    def tenant_id(self) -> str | None:
        data = self.channel_data
        return data.tenant.id if data and data.tenant else None

    @property
    def sender_name(self) -> str:
        return (self.sender.name if self.sender else None) or "someone"

    @property
    def sender_id(self) -> str | None:
        return self.sender.id if self.sender else None

    @property
    def client_timezone(self) -> str | None:
        """The IANA time zone of the sender's client (clientInfo entity), when Teams sent it."""
        for entity in self.entities:
            if entity.get("type") == "clientInfo":
                tz = entity.get("timezone")
                if isinstance(tz, str) and tz.strip():
                    return tz.strip()
        return None

    def bot_mentions(self) -> set[str]:
        """Mention texts that address a bot (ids starting `28:`): ours, never a user's."""
        found: set[str] = set()
        for entity in self.entities:
            if entity.get("type") != "mention":
                continue
            mentioned = entity.get("mentioned")
            text = entity.get("text")
            is_bot = isinstance(mentioned, dict) and str(mentioned.get("id", "")).startswith("28:")
            if is_bot and isinstance(text, str):
                found.add(_mention_name(text))
        return found

    def command(self) -> Command:
        """The command typed after our @mention; TextTooLong for text no command could need."""
        text = self.text or ""
        if len(text) > MAX_TEXT_CHARS:
            raise TextTooLong(
                f"That message is too long for a command ({len(text)} characters; "
                f"the limit is {MAX_TEXT_CHARS})."
            )
        return split_command(clean_text(text, self.bot_mentions()))


#: The longest id the bot accepts (activity, channel, team, tenant, conversation, sender):
#: Teams' are under 100 characters, and they become table keys (at most 512 characters escaped).
MAX_ID_CHARS = 256
#: The longest display name kept (Entra ID allows 256).
MAX_NAME_CHARS = 256
_IDS = (
    ("id",),
    ("conversation", "id"),
    ("from", "id"),
    ("from", "aadObjectId"),
    ("channelData", "team", "id"),
    ("channelData", "channel", "id"),
    ("channelData", "tenant", "id"),
    ("channelData", "teamsTeamId"),
    ("channelData", "teamsChannelId"),
)
_NAMES = (("from", "name"), ("channelData", "team", "name"), ("channelData", "channel", "name"))


def _lone_surrogate(data: Any) -> str | None:
    """The path of the first string (or key) holding a lone surrogate, which no UTF-8 can carry:
    JSON may write one (`"\\ud800"`), Teams never does, and it would fail far from here."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return path or "body"
        elif isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _lone_surrogate(key) is not None:
                    return where
                stack.append((where, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}", item) for i, item in enumerate(value))
    return None


def _too_long(data: dict[str, Any]) -> str | None:
    """The first id or name over its bound, as `path: limit`."""
    for paths, limit in ((_IDS, MAX_ID_CHARS), (_NAMES, MAX_NAME_CHARS)):
        for path in paths:
            value: Any = data
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, str) and len(value) > limit:
                return f"{'.'.join(path)}: longer than {limit} characters"
    return None


def parse_activity(data: Any) -> Activity:
    """Validate decoded JSON as an activity; ActivityError with a readable reason otherwise.

    Ids and names are bounded and every string must be valid Unicode, so what cannot be stored
    or shown is refused here (a 400 naming the field), not half way through a command.
    """
    if not isinstance(data, dict):
        raise ActivityError("the body must be a JSON object (a Bot Framework activity)")
    bad = _lone_surrogate(data)
    if bad is not None:
        raise ActivityError(f"invalid activity field {bad}: not valid Unicode (a lone surrogate)")
    long = _too_long(data)
    if long is not None:
        raise ActivityError(f"invalid activity field {long}")
    try:
        return Activity.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise ActivityError(f"invalid activity field {where}: {first.get('msg', 'invalid')}") from None


# --- text cleaning -------------------------------------------------------------------------------

# Every pattern is linear in the text: tags stop at the next `<`, and what a match may span after
# its start is bounded (a mention's name, a link's text), so a message full of unclosed `<at>` or
# `<a href>` costs one bounded scan per tag, not a scan to the end of the text per tag.
_AT_RE = re.compile(r"<at\b[^<>]{0,256}>(.{0,512}?)</at>", re.IGNORECASE | re.DOTALL)
_LINK_RE = re.compile(
    r"""<a\b[^<>]{0,256}?\bhref[ \t]{0,8}=[ \t]{0,8}(?:"([^"<>]{0,2048})"|'([^'<>]{0,2048})')[^<>]{0,256}>"""
    r"""(.{0,2048}?)</a>""",
    re.IGNORECASE | re.DOTALL,
)
_BREAK_RE = re.compile(r"<\s*(?:br|/p|/div|/li|p|div|li)\b[^<>]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^<>]*>")
_SENTINEL_RE = re.compile("\ue000(\\d+)\ue001")
# Invisible characters that Teams and keyboards slip into text (they would glue to command words),
# and control characters other than whitespace (they would be echoed into cards and records).
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u2060\ufeff\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
_INVISIBLE.update(dict.fromkeys(c for c in (*range(32), 127) if not chr(c).isspace()))


def _mention_name(markup: str) -> str:
    match = _AT_RE.search(markup)
    inner = match.group(1) if match else markup
    return " ".join(html.unescape(_TAG_RE.sub("", inner)).split())


def _link_target(match: re.Match[str]) -> str:
    href = match.group(1) or match.group(2)
    return f" {html.unescape(href)} " if href else match.group(3)


def _visible(markup: str) -> str:
    return html.unescape(_TAG_RE.sub("", markup)).translate(_INVISIBLE).strip()


def clean_text(text: str, own_mentions: set[str] | None = None) -> str:
    """Plain command text from Teams' `text`: our @mention removed, markup and entities decoded.

    The first mention is the one that addressed us (Teams only delivers messages that start by
    @mentioning the webhook); mentions of bots are ours too. Other mentions stay as `@Name`.
    """
    own = own_mentions or set()
    kept: list[str] = []
    first = True

    def replace_mention(match: re.Match[str]) -> str:
        nonlocal first
        name = _mention_name(match.group(0))
        # Only the first mention can be the leading one: looking at the text before every
        # mention would make a message full of mentions cost quadratic time.
        is_leading = first and not _visible(text[: match.start()])
        first = False
        if is_leading or name in own:
            return " "
        kept.append(name)
        return f" \ue000{len(kept) - 1}\ue001 "

    out = _AT_RE.sub(replace_mention, text)
    # Teams turns typed URLs into links whose text may be shortened: the href is the real value.
    out = _LINK_RE.sub(_link_target, out)
    out = _BREAK_RE.sub(" ", out)
    out = _TAG_RE.sub("", out)
    out = html.unescape(out)
    out = unicodedata.normalize("NFC", out).translate(_INVISIBLE)
    out = " ".join(out.split())
    return _SENTINEL_RE.sub(lambda m: "@" + kept[int(m.group(1))].replace(" ", "\u00a0"), out)


@dataclass(frozen=True)
class Command:
    """The command word (lower case) and its arguments; mentions are single `@Name` arguments."""

    name: str
    args: list[str] = field(default_factory=list)
    text: str = ""

    @property
    def rest(self) -> str:
        """Everything after the command word, as typed (after cleaning)."""
        return self.text


def split_command(cleaned: str) -> Command:
    parts = cleaned.split(" ") if cleaned else []
    if not parts:
        return Command(name="", args=[], text="")
    args = [a.replace("\u00a0", " ") for a in parts[1:]]
    rest = cleaned.partition(" ")[2].replace("\u00a0", " ")
    return Command(name=parts[0].casefold(), args=args, text=rest)
