"""Build and sign Teams activities the way Teams does, for the outgoing-webhook tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

BOT_ID = "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c"

# Every command word the bot has (issue 4), as `help` must list them.
COMMANDS = (
    "help",
    "connect",
    "subscribe",
    "subscriptions",
    "unsubscribe",
    "pause",
    "resume",
    "digest",
    "routes",
    "status",
    "configure",
)


def new_token() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def sign(token: str, body: bytes) -> str:
    digest = hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()
    return "HMAC " + base64.b64encode(digest).decode()


def activity(
    text: str,
    *,
    bot: str = "Bot",
    channel_id: str | None = None,
    team_id: str = "19:team@thread.tacv2",
    timestamp: datetime | None = None,
    activity_id: str | None = None,
    timezone: str | None = None,
    mentions: Sequence[tuple[str, str]] = (),
    legacy: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A message activity whose text is `<at>bot</at> text` (pass text="" for a bare mention)."""
    channel_id = channel_id or f"19:{uuid.uuid4().hex}@thread.tacv2"
    ts = timestamp or datetime.now(UTC)
    entities: list[dict[str, Any]] = [
        {"type": "mention", "mentioned": {"id": BOT_ID, "name": bot}, "text": f"<at>{bot}</at>"}
    ]
    for user_id, name in mentions:
        entities.append(
            {"type": "mention", "mentioned": {"id": user_id, "name": name}, "text": f"<at>{name}</at>"}
        )
    client: dict[str, Any] = {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"}
    if timezone:
        client["timezone"] = timezone
    entities.append(client)
    channel_data: dict[str, Any] = {"teamsChannelId": channel_id, "teamsTeamId": team_id}
    if not legacy:
        channel_data.update(
            {"channel": {"id": channel_id}, "team": {"id": team_id}, "tenant": {"id": "tenant-1"}}
        )
    data: dict[str, Any] = {
        "type": "message",
        "id": activity_id or str(uuid.uuid4().int)[:13],
        "timestamp": ts.isoformat().replace("+00:00", "Z"),
        "localTimestamp": ts.isoformat(),
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams",
        "from": {"id": "29:user-1", "name": "Ada Lovelace", "aadObjectId": "aad-1"},
        "conversation": {"id": f"{channel_id};messageid=1485983194839"},
        "recipient": {"id": "null", "name": "null"},
        "textFormat": "plain",
        "text": f"<at>{bot}</at> {text}".rstrip(),
        "attachments": [{"contentType": "text/html", "content": f"<div>{text}</div>"}],
        "entities": entities,
        "channelData": channel_data,
        "locale": "en-US",
    }
    data.update(extra)
    return data


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def stale(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)
