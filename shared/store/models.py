"""Records kept in the tables, as pydantic models.

Secrets (team tokens, channel webhook URLs, route secrets) are plain strings because the functions
need them back, but they are `repr=False`, so a logged or printed record never shows them; code
that dumps records for people (the admin CLI) masks them itself.
Times are timezone-aware UTC; a naive datetime is taken to be UTC.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator

ROUTE_SOURCES = (
    "alertmanager",
    "grafana",
    "github",
    "azure-devops",
    "messagecard",
    "adaptivecard",
    "generic",
    "text",
    "jira",
    "gitlab",
    "sentry",
    "datadog",
    "jenkins",
    "sharepoint",
    "trello",
    "salesforce",
    "auto",  # the first source that recognises the payload
)
#: a route name (or team key): a path segment of its URL, so the pipeline and the admin CLI agree on it
ROUTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ROUTE_AUTH = (
    "none",
    "bearer",
    "basic",
    "github",
    "hmac",
    "key",
    "jira",
    "gitlab",
    "sentry",
    "sharepoint",
    "trello",
)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def check_token(token: str) -> str:
    """A Teams outgoing-webhook token: base64 of 32 bytes, as Teams shows it (ValueError otherwise)."""
    text = token.strip()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a team token must be the base64 text Teams shows (44 characters)") from None
    if len(raw) != 32:
        raise ValueError(f"a team token must decode to 32 bytes, this one decodes to {len(raw)}")
    return text


class Record(BaseModel):
    """Base of stored records: carries the ETag of the version it was read as."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    etag: str | None = Field(default=None, exclude=True, repr=False)


class Team(Record):
    """An outgoing-webhook registration; several tokens are valid at once while one is rotated."""

    key: str
    name: str = ""
    tokens: list[str] = Field(default_factory=list, repr=False)
    created: UtcDatetime = Field(default_factory=utcnow)
    #: the Teams team (`channelData.team.id`) and tenant its activities must come from: given at
    #: `team add` or learned from the first signed activity; a token holder cannot pick them
    teams_team_id: str | None = None
    tenant_id: str | None = None
    #: new for every registration (`TeamRepository.add`), so a key removed and added again does
    #: not own the channels of the old one; "" for teams registered before it existed
    registration: str = ""

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, value: list[str]) -> list[str]:
        return [check_token(t) for t in value]


class Channel(Record):
    """A named destination: a Workflows webhook URL (a secret) and the Teams channel it posts to."""

    name: str
    url: str = Field(repr=False)
    teams_channel_id: str | None = None
    team_key: str | None = None
    #: the `Team.registration` of `team_key` when the channel was given to it (see `owned_by`)
    team_registration: str | None = None
    #: set by `admin channel lock`: the bot's `connect` cannot relink the channel
    locked: bool = False
    #: the flow owner whose Flow bot posts for this channel: channels of one connection share its
    #: budget (`shared.delivery.budget`); every Workflows channel shares "default" unless told
    connection: str = "default"
    created: UtcDatetime = Field(default_factory=utcnow)

    # The Teams channel id the stored link row has for this version, so save() can move the link.
    _linked: str | None = PrivateAttr(default=None)


def owned_by(channel: Channel, team_key: str, registration: str) -> bool:
    """Whether the bot may serve `channel` to this team registration: a channel without an owner,
    or owned by another key or by an earlier registration of the same key, is foreign."""
    return channel.team_key == team_key and (channel.team_registration or "") == registration


class Route(Record):
    """An incoming-proxy endpoint: how senders authenticate and where their posts go."""

    name: str
    source: str
    auth: str = "none"
    secret: str | None = Field(default=None, repr=False)
    channels: list[str] = Field(default_factory=list)
    mode: Literal["immediate", "digest"] = "immediate"
    filters: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    created: UtcDatetime = Field(default_factory=utcnow)


#: digests one channel may have: each costs a fetch and a post per run, and `status` lists them
MAX_SUBSCRIPTIONS_PER_CHANNEL = 50

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Schedule(BaseModel):
    """Times of day on some weekdays in an IANA zone, or a 5-field cron expression (in `tz`)."""

    model_config = ConfigDict(extra="ignore")

    times: list[str] = Field(default_factory=list)
    days: list[int] = Field(default_factory=lambda: list(range(7)))
    tz: str = "UTC"
    cron: str | None = None

    @field_validator("times")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _HHMM.match(item):
                raise ValueError(f"time {item!r} is not HH:MM")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in value):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return value


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class Subscription(Record):
    """A scheduled digest into a channel; `next_run` is mirrored in the schedule index."""

    id: str = Field(default_factory=new_id)
    channel: str
    # The kinds of shared.digest.feeds.REGISTRY, the one list (tests/test_plugins.py compares them).
    source: Literal["rss", "weather", "events", "json"]
    target: str = ""
    settings: dict[str, Any] = Field(default_factory=dict)
    schedule: Schedule = Field(default_factory=Schedule)
    next_run: UtcDatetime | None = None
    cursor: dict[str, Any] = Field(default_factory=dict)
    paused: bool = False
    post_empty: bool = False
    last_run: UtcDatetime | None = None
    last_error: str | None = None
    created_by: str = ""
    created_at: UtcDatetime = Field(default_factory=utcnow)

    # The next_run the index holds for this version, so save() can move the index row.
    _indexed: datetime | None = PrivateAttr(default=None)


class Event(Record):
    """A buffered item for a digest; `id` sorts in arrival order."""

    id: str
    subscription_id: str
    data: dict[str, Any] = Field(default_factory=dict)
    created: UtcDatetime = Field(default_factory=utcnow)


class OutboxSummary(BaseModel):
    """What a combined "N updates" card shows of a waiting message (taken at queue time)."""

    model_config = ConfigDict(extra="ignore")

    title: str = ""
    status: str = "default"
    url: str | None = None


class OutboxItem(Record):
    """A message Teams has not accepted yet (or a dead letter, with its reason)."""

    id: str = ""
    channel: str
    message: str = Field(repr=False)
    idempotency_key: str | None = None
    attempts: int = 0
    next_attempt: UtcDatetime = Field(default_factory=utcnow)
    last_error: str | None = None
    created: UtcDatetime = Field(default_factory=utcnow)
    # Set by `requeue`: the give-up age counts from here, while `created` keeps the parts' order.
    requeued_at: UtcDatetime | None = None
    dead: bool = False
    reason: str | None = None
    #: title/status/link of the message, for a combined card when its connection runs short
    summary: OutboxSummary | None = None
    #: the incoming route it came from (fair shares per route), or "digest" for a digest
    origin: str | None = None


#: a connection name (the flow owner): as a route name, so it reads the same in the CLI and the bot
CONNECTION_NAME = ROUTE_NAME
DEFAULT_CONNECTION = "default"


class ConnectionState(Record):
    """One connection's shared budget: the send log of its longest window, and its override.

    `sent` holds epoch milliseconds, oldest first (only what the longest window still counts);
    `budget` overrides DELIVERY_BUDGET_WORKFLOWS (`count/seconds,...`; None: the setting).
    `posts` and `combined` count every post taken and how many originals went out combined;
    `hold_until` keeps other posts off while the sweep drains a backlog (`Budget.hold`), and `short`
    counts the sweep runs that found the connection short.
    """

    name: str
    sent: list[int] = Field(default_factory=list)
    budget: str | None = None
    posts: int = 0
    combined: int = 0
    #: epoch seconds until which only the sweep (and digests) post: it drains a backlog, combined
    hold_until: float = 0.0
    #: sweep runs that found the connection short of budget (each holds it)
    short: int = 0


class KeyStatus(enum.StrEnum):
    """The state of an idempotency key. Stored as its value; `EXPIRED` is derived, never written.

    What each means, and when a key may be taken over, is `shared.idempotency`'s.
    """

    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    EXPIRED = "EXPIRED"


# What a record may hold: expiry is told by its `expires`, never written as a status.
StoredStatus = Literal[KeyStatus.IN_PROGRESS, KeyStatus.COMPLETED]


class DedupeRecord(Record):
    """An idempotency key: IN_PROGRESS while a run holds it, COMPLETED with its result after.

    What the statuses mean, and when a key may be taken over, is `shared.idempotency`'s.
    """

    scope: str
    key: str
    status: StoredStatus = KeyStatus.IN_PROGRESS
    expires: UtcDatetime
    data: dict[str, Any] | None = None


class DeliveryRecord(Record):
    """One delivery outcome, for `recent` (operators' "what happened to my message")."""

    channel: str
    ok: bool
    detail: str = ""
    at: UtcDatetime = Field(default_factory=utcnow)
    count: int = 1  # the same outcome this many times, from `at` on, within one write-behind batch
