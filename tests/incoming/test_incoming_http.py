"""The incoming proxy through real HTTP (dev host), the real store (Azurite) and the Teams sink."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from shared.incoming.auth import sign
from tests.conftest import start_devhost, unique
from tests.incoming.helpers import GITHUB_EVENTS, payload, shared_fixtures
from tests.support.cardschema import assert_valid_message
from tools import stack

SECRET = "Tok" + "en-" + "7f1d9c2e5a"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def env(sink: Any) -> Iterator[None]:
    sink.reset()
    sink.set_limits(windows=[])
    yield
    sink.reset()


def make_channel(app_store: Any, sink: Any) -> str:
    from shared.store.models import Channel

    name = unique("ch")
    app_store.channels.save(Channel(name=name, url=sink.workflow_url(name)))
    return name


def make_route(app_store: Any, sink: Any, source: str, channels: int = 1, **kw: Any) -> tuple[str, list[str]]:
    from shared.store.models import Route

    names = [make_channel(app_store, sink) for _ in range(channels)]
    route = Route(name=unique("r"), source=source, channels=names, **kw)
    app_store.routes.save(route)
    return route.name, names


def post(base: str, route: str, body: bytes, headers: dict[str, str] | None = None, **params: str) -> requests.Response:
    return requests.post(
        f"{base}/api/incoming/{route}", data=body, headers={**JSON, **(headers or {})}, params=params, timeout=30
    )


def delivered(sink: Any, channel: str, count: int = 1) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sink.wait_for_messages(channel, count, timeout=10)
    for message in messages:
        assert_valid_message(message)
    return messages


CASES = [
    ("alertmanager", "alertmanager_firing.json", {}),
    ("grafana", "grafana_firing.json", {}),
    ("github", "github_push.json", {"X-GitHub-Event": "push"}),
    ("github", "github_star.json", {"X-GitHub-Event": "star"}),
    ("azure-devops", "ado_build_failed.json", {}),
    ("adaptivecard", "adaptive_envelope.json", {}),
    ("generic", "generic_deploy.json", {}),
]


@pytest.mark.parametrize(("source", "name", "headers"), CASES)
def test_each_source_reaches_the_channel(
    devhost: str, app_store: Any, sink: Any, env: None, source: str, name: str, headers: dict[str, str]
) -> None:
    route, (channel,) = make_route(app_store, sink, source)
    reply = post(devhost, route, payload(name), headers)
    assert reply.status_code == 202, reply.text
    assert reply.json()["channels"] == ["accepted"]
    assert channel not in reply.text  # no channel names for the sender
    assert len(delivered(sink, channel)) == 1


def test_messagecard_answers_200_one_and_plain_text(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, (channel,) = make_route(app_store, sink, "messagecard")
    reply = post(devhost, route, payload("messagecard_legacy.json"))
    assert (reply.status_code, reply.text) == (200, "1")
    assert reply.headers["Content-Type"].startswith("text/plain")
    message = delivered(sink, channel)[0]
    assert "42 GB" in json.dumps(message)
    # `curl -d '{"text": ...}' URL` without -H: curl sends it as a form; old scripts did just that.
    curl_d = post(devhost, route, b'{"text": "Sent the curl -d way"}', {"Content-Type": "application/x-www-form-urlencoded"})
    assert (curl_d.status_code, curl_d.text) == (200, "1")
    assert "Sent the curl -d way" in json.dumps(delivered(sink, channel, 2)[1])
    route, (channel,) = make_route(app_store, sink, "text")
    reply = post(devhost, route, b"Disk cleanup done\nfreed 3 GB", {"Content-Type": "text/plain"})
    assert reply.status_code == 202
    assert "freed 3 GB" in json.dumps(delivered(sink, channel)[0])


def test_auto_route_takes_plain_text_as_text(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """`auto` asks the catch-all last: a text/plain body is the `text` source's (first line = title)."""
    route, (channel,) = make_route(app_store, sink, "auto")
    reply = post(devhost, route, b"Disk cleanup done\nfreed 3 GB", {"Content-Type": "text/plain"})
    assert reply.status_code == 202, reply.text
    card = delivered(sink, channel)[0]["attachments"][0]["content"]
    assert "Disk cleanup done" in card["body"][0]["items"][0]["text"]
    assert "Notification" not in json.dumps(card)


def test_third_party_examples_over_http(
    devhost: str, app_store: Any, sink: Any, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posted back to back: the client-side rate limit may queue some; the outbox delivers them."""
    from shared.delivery import sweep

    route, (channel,) = make_route(app_store, sink, "github")
    github = shared_fixtures("github")
    for path in github:
        headers = {"X-GitHub-Event": GITHUB_EVENTS[path.stem], "X-GitHub-Delivery": unique("d")}
        reply = post(devhost, route, path.read_bytes(), headers)
        assert reply.status_code == 202 and reply.json()["channels"][0] in {"accepted", "queued"}, path.name
    ado_route, (ado_channel,) = make_route(app_store, sink, "azure-devops")
    ado = shared_fixtures("azure-devops")
    for path in ado:
        reply = post(devhost, ado_route, path.read_bytes())
        assert reply.status_code == 202 and reply.json()["channels"][0] in {"accepted", "queued"}
    am_route, (am_channel,) = make_route(app_store, sink, "alertmanager")
    am = [p for p in shared_fixtures("alertmanager") if "without_mandatory" not in p.name]
    for path in am:
        assert post(devhost, am_route, path.read_bytes()).status_code == 202, path.name
    monkeypatch.setenv("DELIVERY_EXTRA_ALLOWED_URLS", sink.url + "/")
    monkeypatch.setenv("DELIVERY_RATE_WORKFLOWS", "1000/1")
    sweep.sweep(app_store, now=datetime.now(UTC) + timedelta(hours=1))
    assert len(delivered(sink, channel, len(github))) == len(github)
    assert len(delivered(sink, ado_channel, len(ado))) == len(ado)
    # prom2teams' examples repeat one notification under several names: retries are shown once.
    assert 1 <= len(delivered(sink, am_channel)) <= len(am)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_authentication_modes_good_and_bad(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    body = payload("github_push.json")
    modes = {
        "github": ({"X-Hub-Signature-256": sign(SECRET, body)}, {}, {"X-Hub-Signature-256": sign("Bad" + "Value1", body)}),
        "hmac": ({"X-Signature-256": sign(SECRET, body)}, {}, {"X-Signature-256": "sha256=00"}),
        "bearer": ({"Authorization": f"Bearer {SECRET}"}, {}, {"Authorization": "Bearer BadValue1"}),
        "basic": ({"Authorization": _basic("ado", SECRET)}, {}, {"Authorization": _basic("ado", "BadValue1")}),
        "key": ({}, {"code": SECRET}, {"x-functions-key": "BadValue1"}),
    }
    for mode, (good, params, bad) in modes.items():
        route, (channel,) = make_route(app_store, sink, "github", auth=mode, secret=SECRET)
        event = {"X-GitHub-Event": "push", "X-GitHub-Delivery": unique("d")}
        for headers in ({}, bad):
            reply = post(devhost, route, body, {**event, **headers})
            assert reply.status_code == 401, (mode, reply.text)
            assert reply.json()["error"] == "unauthorized" and reply.json()["detail"]
            assert SECRET not in reply.text and "BadValue1" not in reply.text
        reply = post(devhost, route, body, {**event, **good}, **params)
        assert reply.status_code == 202, (mode, reply.text)
        assert len(delivered(sink, channel)) == 1
    route, _ = make_route(app_store, sink, "github", auth="key", secret=SECRET)
    reply = post(devhost, route, body, {"X-GitHub-Event": "push", "x-functions-key": SECRET})
    assert reply.status_code == 202


def test_bad_requests_get_json_4xx(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    reply = post(devhost, unique("missing"), b"{}")
    assert reply.status_code == 401 and reply.json()["error"] == "unauthorized"  # as a wrong credential
    route, (channel,) = make_route(app_store, sink, "alertmanager")
    reply = post(devhost, route, b"{" + b" " * (1024 * 1024 + 10) + b"}")
    assert reply.status_code == 413 and "limit" in reply.json()["detail"]
    reply = post(devhost, route, b"a=b", {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status_code == 415
    reply = post(devhost, route, b'{"a":' * 200 + b"1" + b"}" * 200)
    assert reply.status_code == 400 and "nested" in reply.json()["error"]
    reply = post(devhost, route, b'{"receiver": "x", "alerts": [{}]}')
    assert reply.status_code == 400
    assert reply.json()["detail"] == ["status: field required", "alerts[0].labels: field required"]
    assert sink.messages(channel) == []


def test_retries_are_not_shown_twice(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, (channel,) = make_route(app_store, sink, "github")
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": unique("d")}
    first = post(devhost, route, payload("github_push.json"), headers)
    second = post(devhost, route, payload("github_push.json"), headers)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == {"status": "duplicate"}
    am_route, (am_channel,) = make_route(app_store, sink, "alertmanager")
    for _ in range(3):
        assert post(devhost, am_route, payload("alertmanager_firing.json")).status_code == 202
    resolved = json.loads(payload("alertmanager_firing.json"))
    resolved["status"] = "resolved"
    for alert in resolved["alerts"]:
        alert["status"] = "resolved"
    assert post(devhost, am_route, json.dumps(resolved).encode()).status_code == 202
    mc_route, (mc_channel,) = make_route(app_store, sink, "messagecard")
    for _ in range(2):
        reply = post(devhost, mc_route, payload("messagecard_legacy.json"))
        assert (reply.status_code, reply.text) == (200, "1")
    assert len(delivered(sink, channel)) == 1
    assert len(delivered(sink, am_channel, 2)) == 2  # firing once, then resolved once
    assert len(delivered(sink, mc_channel)) == 1
    assert len(sink.messages(channel)) == 1 and len(sink.messages(mc_channel)) == 1


def test_fan_out_to_several_channels(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, channels = make_route(app_store, sink, "alertmanager", channels=3)
    reply = post(devhost, route, payload("alertmanager_resolved.json"))
    assert reply.status_code == 202
    assert reply.json()["channels"] == ["accepted"] * len(channels)
    for name in channels:
        assert len(delivered(sink, name)) == 1


def test_mentions_reach_the_channel(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    settings = {"mentions": [{"id": "ada@example.org", "name": "Ada"}]}
    route, (channel,) = make_route(app_store, sink, "alertmanager", settings=settings)
    assert post(devhost, route, payload("alertmanager_firing.json")).status_code == 202
    card = delivered(sink, channel)[0]["attachments"][0]["content"]
    assert card["msteams"]["entities"][0]["mentioned"]["id"] == "ada@example.org"


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_and_faults_end_in_outbox_then_delivered(
    devhost: str, app_store: Any, sink: Any, env: None, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    from shared.delivery import sweep

    route, (channel, other) = make_route(app_store, sink, "alertmanager", channels=2)
    sink.fault(channel, count=20, status=status)
    reply = post(devhost, route, payload("alertmanager_firing.json"))
    assert reply.status_code == 202, reply.text
    assert reply.json()["channels"] == ["queued", "accepted"]  # in the route's order
    assert sink.messages(channel) == [] and len(delivered(sink, other)) == 1
    assert app_store.outbox.backlog(channel) >= 1

    sink.reset()
    sink.set_limits(windows=[])
    monkeypatch.setenv("DELIVERY_EXTRA_ALLOWED_URLS", sink.url + "/")
    sweep.sweep(app_store, now=datetime.now(UTC) + timedelta(hours=1))
    assert len(delivered(sink, channel)) == 1
    assert app_store.outbox.backlog(channel) == 0


def test_digest_mode_buffers_for_following_subscriptions(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    from shared.store.models import Schedule, Subscription

    route, (channel,) = make_route(app_store, sink, "github", mode="digest")
    sub = app_store.subscriptions.add(
        Subscription(channel=channel, source="events", target=route, schedule=Schedule(times=["08:00"]))
    )
    reply = post(devhost, route, payload("github_push.json"), {"X-GitHub-Event": "push"})
    assert reply.status_code == 202 and reply.json() == {"status": "buffered", "source": "github", "subscriptions": 1}
    events = app_store.events.pending(sub.id)
    assert len(events) == 1
    assert events[0].data["title"] == "acme/shop: 2 commits pushed to main"
    assert events[0].data["url"].startswith("https://github.com/acme/shop/compare")
    assert sink.messages(channel) == []


def test_severity_filter_delivers_firing_alerts(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """Alertmanager and Grafana used to put "firing" where the other senders put a severity, so a
    route filtered on "attention" silently dropped every alert; the filter now reads the severity."""
    for source, name, wanted in (
        ("alertmanager", "alertmanager_firing.json", "attention"),  # severity critical
        ("grafana", "grafana_firing.json", "warning"),  # severity warning
    ):
        route, (channel,) = make_route(app_store, sink, source, filters={"statuses": [wanted]})
        reply = post(devhost, route, payload(name))
        assert reply.status_code == 202 and reply.json()["channels"] == ["accepted"], (source, reply.text)
        assert len(delivered(sink, channel)) == 1


def test_digest_of_posted_alerts_reads_severity_and_state(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """Events buffered now carry severity and state; one buffered before (a single "status") still counts."""
    from tests.digest.conftest import make_sub

    route, (channel,) = make_route(app_store, sink, "alertmanager", mode="digest")
    sub = make_sub(app_store, channel, "events", route, due=datetime.now(UTC) - timedelta(minutes=2))
    app_store.events.append(sub.id, {"title": "Disk full on db-1", "status": "firing", "source": "alertmanager"})
    for name in ("alertmanager_firing.json", "alertmanager_resolved.json"):
        reply = post(devhost, route, payload(name))
        assert reply.status_code == 202 and reply.json()["status"] == "buffered", reply.text
    kinds = [(e.data.get("severity"), e.data.get("state")) for e in app_store.events.pending(sub.id)]
    assert kinds == [(None, None), ("attention", "firing"), ("good", "resolved")]
    assert requests.post(devhost + "/admin/functions/scheduled_connector", json={}, timeout=10).status_code == 202
    (message,) = delivered(sink, channel)
    card = message["attachments"][0]["content"]
    text = json.dumps(card, ensure_ascii=False)
    assert "3 events: 1 resolved, 2 still firing" in text
    assert "firing: **Disk full on db-1**" in text and "resolved: " in text
    assert card["body"][0]["style"] == "warning"


def test_route_filters_from_the_cli_drop_or_deliver(
    devhost: str, devhost_settings: dict[str, str], app_store: Any, sink: Any, env: None, tmp_path: Any
) -> None:
    """Filters set with `admin route add --filter`: what does not match is answered 202 filtered and
    never reaches the channel; what matches is delivered."""
    from tests.admin.test_cli import base_env, run_cli

    cli_env = base_env(TEAMS_STORAGE=devhost_settings["TEAMS_STORAGE"], TABLE_PREFIX=devhost_settings["TABLE_PREFIX"])
    channel = make_channel(app_store, sink)
    gh, am = unique("r"), unique("r")
    for args in (
        ["--filter", "event=workflow_run", "--filter", "state=failed,cancelled", "--source", "github", gh],
        ["--filter", "severity=attention", "--filter", "state=firing", "--source", "alertmanager", am],
    ):
        run = run_cli(["route", "add", args[-1], "--to", channel, "--auth", "none", *args[:-1]], cli_env, tmp_path)
        assert run.code == 0, run.err
    dropped = [
        post(devhost, gh, payload("github_push.json"), {"X-GitHub-Event": "push"}),
        post(devhost, am, payload("alertmanager_resolved.json")),
    ]
    assert [r.status_code for r in dropped] == [202, 202]
    assert dropped[0].json() == {"status": "filtered", "event": "push", "severity": "accent", "state": "pushed"}
    assert dropped[1].json() == {"status": "filtered", "severity": "good", "state": "resolved"}
    kept = [
        post(devhost, gh, payload("github_workflow_run_failure.json"), {"X-GitHub-Event": "workflow_run"}),
        post(devhost, am, payload("alertmanager_firing.json")),
    ]
    for reply in kept:
        assert reply.status_code == 202 and reply.json()["channels"] == ["accepted"], reply.text
    text = json.dumps(delivered(sink, channel, 2), ensure_ascii=False)
    assert len(sink.messages(channel)) == 2
    assert "FIRING" in text and "CI #42 failure" in text
    assert "pushed to" not in text and "RESOLVED" not in text


@pytest.fixture(scope="module")
def down_host(devhost_settings: dict[str, str]) -> Iterator[str]:
    """A dev host whose store is unreachable (nobody listens on its table port)."""
    settings = dict(devhost_settings)
    settings["TEAMS_STORAGE"] = re.sub(
        r"127\.0\.0\.1:\d+", f"127.0.0.1:{stack.free_port()}", settings["TEAMS_STORAGE"]
    )
    settings["STORE_TIMEOUT_SECONDS"] = "1"
    port = stack.free_port()
    process = start_devhost(settings, port)
    yield f"http://127.0.0.1:{port}"
    process.stop()


def test_store_unreachable_answers_503_with_retry_after(down_host: str) -> None:
    reply = post(down_host, "anything", payload("alertmanager_firing.json"))
    assert reply.status_code == 503
    assert int(reply.headers["Retry-After"]) > 0
    assert reply.json()["error"].startswith("storage is unavailable")
    assert "AccountKey" not in reply.text


def test_many_alerts_split_under_the_cap_none_dropped(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """All alerts shown (max_alerts raised): one notification becomes numbered parts, each under 28 KB."""
    from tests.incoming.helpers import alertmanager_notification

    note = alertmanager_notification(80)
    route, (channel,) = make_route(app_store, sink, "alertmanager", settings={"max_alerts": 80})
    reply = post(devhost, route, json.dumps(note).encode())
    assert reply.status_code == 202 and reply.json()["channels"] == ["accepted"], reply.text
    request_sizes = [r["size"] for r in sink.requests(channel)]
    messages = sink.wait_for_messages(channel, len(request_sizes), timeout=10)
    assert len(messages) >= 2 and all(size < 28672 for size in request_sizes)
    shown = json.dumps(delivered(sink, channel, len(messages)))
    assert all(f"checkout-{i:04d}" in shown for i in range(80))
    assert f"(1/{len(messages)})" in shown and f"({len(messages)}/{len(messages)})" in shown


def test_same_post_after_the_window_is_shown_again(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """Alertmanager's repeat_interval or a daily script: a retry inside the window is dropped, a repeat is not."""
    import time

    route, (channel,) = make_route(app_store, sink, "messagecard", settings={"dedupe_window_seconds": 1})
    body = b'{"text": "Nightly backup finished"}'
    assert post(devhost, route, body).text == "1"
    assert post(devhost, route, body).text == "1"  # the sender's retry: not shown twice
    time.sleep(2.1)
    assert post(devhost, route, body).text == "1"
    assert len(delivered(sink, channel, 2)) == 2
    time.sleep(0.3)
    assert len(sink.messages(channel)) == 2
