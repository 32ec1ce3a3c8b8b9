"""Outgoing bot: a team registered with the admin CLI, then signed @mentions and the bot's replies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

TEAM = "contoso"
TEAMS_CHANNEL_ID = "19:demo-general@thread.tacv2"


def _activity(text: str) -> bytes:
    """A message activity shaped like the ones Teams posts (bot mention first, clientInfo entity)."""
    data = {
        "type": "message",
        "id": str(uuid.uuid4().int)[:13],
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "channelId": "msteams",
        "from": {"id": "29:demo-user", "name": "Demo User"},
        "conversation": {"id": f"{TEAMS_CHANNEL_ID};messageid=1"},
        "textFormat": "plain",
        "text": f"<at>Connector</at> {text}",
        "entities": [
            {
                "type": "mention",
                "mentioned": {"id": "28:demo-bot", "name": "Connector"},
                "text": "<at>Connector</at>",
            },
            {"type": "clientInfo", "locale": "de-DE", "timezone": "Europe/Berlin"},
        ],
        "channelData": {
            "teamsChannelId": TEAMS_CHANNEL_ID,
            "teamsTeamId": "19:demo-team@thread.tacv2",
            "channel": {"id": TEAMS_CHANNEL_ID},
            "team": {"id": "19:demo-team@thread.tacv2"},
            "tenant": {"id": "demo-tenant"},
        },
    }
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _send(ctx: Any, token: str, text: str, shown: str | None = None) -> dict[str, Any]:
    body = _activity(text)
    digest = hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()
    started = time.monotonic()
    response = requests.post(
        f"{ctx.devhost_url}/api/outgoing/{TEAM}",
        data=body,
        headers={
            "Authorization": "HMAC " + base64.b64encode(digest).decode(),
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    elapsed = (time.monotonic() - started) * 1000
    ctx.print(f"@Connector {shown or text}  ->  HTTP {response.status_code} in {elapsed:.0f} ms")
    if response.status_code != 200:
        raise RuntimeError(f"the bot answered {response.status_code}: {response.text[:200]}")
    reply: dict[str, Any] = response.json()
    cards = [a.get("content", {}) for a in reply.get("attachments", [])]
    lines = (cards[0].get("fallbackText") if cards else None) or reply.get("text", "")
    for line in str(lines).split("\n\n")[:14]:
        ctx.print("    " + line.replace("\n", " ")[:150])
    return reply


def run(ctx: Any) -> None:
    token = base64.b64encode(secrets.token_bytes(32)).decode()
    ctx.admin("team", "add", TEAM, "--name", "Contoso", input_text=token + "\n")
    endpoint = f"{ctx.devhost_url}/api/outgoing/{TEAM}"
    ctx.print(f"registered team '{TEAM}' with the admin CLI; Teams calls {endpoint}")

    _send(ctx, token, "help")
    url = ctx.sink.workflow_url("contoso-general") + "?sig=" + secrets.token_urlsafe(16)
    connect = _send(ctx, token, f"connect {url}", shown="connect <the channel's Workflows URL>")
    if url in json.dumps(connect):
        raise RuntimeError("the connect reply shows the secret URL")
    _send(ctx, token, "subscribe weather Berlin at 07:30 on mon-fri")
    _send(ctx, token, "status")

    body = _activity("help")
    wrong = requests.post(endpoint, data=body, headers={"Authorization": "HMAC AAAA"}, timeout=10)
    ctx.print(f"a request with a wrong signature  ->  HTTP {wrong.status_code} {wrong.text}")
    if wrong.status_code != 401:
        raise RuntimeError("a wrongly signed request was not refused")
