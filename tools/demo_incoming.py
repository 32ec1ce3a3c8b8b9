"""Incoming proxy: routes made with the admin CLI, then an Alertmanager alert, a signed GitHub push
and an old MessageCard posted over HTTP, and the cards that reached the channels."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import requests

from shared.incoming.auth import sign

PAYLOADS = Path(__file__).resolve().parent.parent / "tests" / "incoming" / "payloads"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def _title(message: dict[str, Any]) -> str:
    card = message["attachments"][0]["content"]
    header = card["body"][0]
    items = header.get("items") or [header]
    return str(items[0].get("text", "")).replace("\\", "")[:100]


def run(ctx: Any) -> None:
    channels = {"alerts": "incoming-alerts", "dev": "incoming-dev", "legacy": "incoming-legacy"}
    for name in channels.values():
        ctx.admin("channel", "add", name, "--url", ctx.sink.workflow_url(name))
    bearer = secrets.token_urlsafe(16)
    hook_secret = secrets.token_urlsafe(16)
    key = secrets.token_urlsafe(16)
    routes = (
        ("prometheus", "alertmanager", channels["alerts"], "bearer", bearer),
        ("github", "github", channels["dev"], "github", hook_secret),
        ("legacy", "messagecard", channels["legacy"], "key", key),
    )
    for name, source, channel, auth, secret in routes:
        out = ctx.admin(
            "route", "add", name, "--source", source, "--to", channel, "--auth", auth, input_text=secret
        )
        ctx.print(out.stdout.strip().splitlines()[-1])

    base = f"{ctx.devhost_url}/api/incoming"
    json_type = {"Content-Type": "application/json"}

    body = payload("alertmanager_firing.json")
    reply = requests.post(
        f"{base}/prometheus",
        data=body,
        headers={**json_type, "Authorization": f"Bearer {bearer}"},
        timeout=30,
    )
    ctx.print(f"Alertmanager notification (3 alerts) -> HTTP {reply.status_code} {reply.text}")
    retry = requests.post(
        f"{base}/prometheus",
        data=body,
        headers={**json_type, "Authorization": f"Bearer {bearer}"},
        timeout=30,
    )
    ctx.print(f"the same notification retried     -> HTTP {retry.status_code} {retry.text} (not shown twice)")

    body = payload("github_push.json")
    headers = {
        **json_type,
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "demo-delivery-1",
        "X-Hub-Signature-256": sign(hook_secret, body),
    }
    reply = requests.post(f"{base}/github", data=body, headers=headers, timeout=30)
    ctx.print(f"GitHub push (signed)              -> HTTP {reply.status_code} {reply.text}")
    bad = requests.post(
        f"{base}/github", data=body, headers={**headers, "X-Hub-Signature-256": "sha256=00"}, timeout=30
    )
    ctx.print(f"GitHub push with a bad signature  -> HTTP {bad.status_code} {bad.text}")

    body = payload("messagecard_legacy.json")
    reply = requests.post(f"{base}/legacy", data=body, headers=json_type, params={"code": key}, timeout=30)
    ctx.print(f"old MessageCard client            -> HTTP {reply.status_code} body {reply.text!r}")

    for label, name in channels.items():
        messages = ctx.sink.wait_for_messages(name, 1, timeout=10)
        for message in messages:
            card = message["attachments"][0]["content"]
            ctx.print(f"[{name}] {_title(message)}  ({len(json.dumps(card))} B, {label})")
    if len(ctx.sink.messages(channels["alerts"])) != 1:
        raise RuntimeError("the retried Alertmanager notification was shown twice")
