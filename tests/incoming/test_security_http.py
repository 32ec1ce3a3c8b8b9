"""Issue 13, items 5, 12, 15 and 16, attacked over real HTTP (dev host, Azurite, the Teams sink)."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
import requests

from shared.incoming.auth import sign
from tests.conftest import unique
from tests.incoming.helpers import payload, payload_json
from tests.incoming.test_incoming_http import SECRET, delivered, env, make_route, post

__all__ = ["env"]  # fixture

#: headers that differ between any two answers (time, length of a different body)
VARYING = {"date", "content-length", "server"}


def _shape(reply: requests.Response) -> tuple[int, Any, dict[str, str]]:
    headers = {k.lower(): v for k, v in reply.headers.items() if k.lower() not in VARYING}
    return reply.status_code, reply.json(), headers


# --- item 5: routes cannot be told apart from outside -------------------------------------------


def test_unknown_route_answers_as_a_known_route_to_wrong_credentials(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    body = payload("alertmanager_firing.json")
    wrong = {
        "bearer": {"Authorization": "Bearer BadValue1"},
        "basic": {"Authorization": "Basic " + base64.b64encode(b"u:BadValue1").decode()},
        "github": {"X-Hub-Signature-256": sign("BadValue1", body), "X-GitHub-Event": "push"},
        "hmac": {"X-Signature-256": sign("BadValue1", body)},
        "key": {"x-functions-key": "BadValue1"},
    }
    answers = []
    for mode, headers in wrong.items():
        route, _ = make_route(app_store, sink, "alertmanager", auth=mode, secret=SECRET)
        for presented in (headers, {}):  # wrong, and missing
            answers.append(_shape(post(devhost, route, body, presented)))
            answers.append(_shape(post(devhost, unique("nosuch"), body, presented)))
    answers.append(_shape(post(devhost, "bad%20name!", body)))
    first = answers[0]
    assert first[0] == 401 and first[1] == {"error": "unauthorized", "detail": "missing or wrong credentials for this route"}
    assert "www-authenticate" not in first[2]  # no scheme named: it would tell how a route is guarded
    assert all(answer == first for answer in answers), [a for a in answers if a != first][:2]


def test_accepted_answer_names_no_channel(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, channels = make_route(app_store, sink, "alertmanager", channels=2)
    reply = post(devhost, route, payload("alertmanager_firing.json"))
    assert reply.status_code == 202, reply.text
    assert reply.json()["channels"] == ["accepted", "accepted"]
    assert all(name not in reply.text for name in channels)
    for name in channels:
        assert len(delivered(sink, name)) == 1


# --- item 12: a signed GitHub body replayed under a fresh delivery id -----------------------------


def test_github_replay_under_a_new_delivery_id_is_not_shown_again(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    route, (channel,) = make_route(app_store, sink, "github", auth="github", secret=SECRET)
    body = payload("github_push.json")
    signed = {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(SECRET, body)}
    first = post(devhost, route, body, {**signed, "X-GitHub-Delivery": unique("d")})
    assert first.status_code == 202 and first.json()["status"] == "accepted", first.text
    replayed = post(devhost, route, body, {**signed, "X-GitHub-Delivery": unique("d")})
    assert replayed.status_code == 202 and replayed.json() == {"status": "duplicate"}
    # A genuinely new event differs in its body, and is shown.
    other = json.loads(body)
    other["after"] = "f" * 40
    other_body = json.dumps(other).encode()
    other_headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(SECRET, other_body), "X-GitHub-Delivery": unique("d")}
    new = post(devhost, route, other_body, other_headers)
    assert new.status_code == 202 and new.json()["status"] == "accepted", new.text
    # GitHub's own redelivery keeps the id (and the body): a duplicate, as before.
    again = post(devhost, route, other_body, other_headers)
    assert again.status_code == 202 and again.json() == {"status": "duplicate"}
    assert len(delivered(sink, channel, 2)) == 2
    assert len(sink.messages(channel)) == 2


# --- item 15: what used to be a 500 --------------------------------------------------------------


def test_long_number_non_ascii_basic_and_lone_surrogates_are_4xx(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    route, (channel,) = make_route(app_store, sink, "generic")
    reply = post(devhost, route, b'{"title": "x", "count": 1' + b"0" * 5000 + b"}")
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "body has a number too long"
    assert "4300 digits at line 1 column 25" in reply.json()["detail"][0]

    basic, _ = make_route(app_store, sink, "azure-devops", auth="basic", secret=SECRET)
    for value in ("Basic \u00e9\u00e9\u00e9\u00e9", "Basic " + "\u00ff" * 8):
        reply = post(devhost, basic, payload("ado_build_failed.json"), {"Authorization": value})
        assert reply.status_code == 401 and reply.json()["error"] == "unauthorized", reply.text

    am, (am_channel,) = make_route(app_store, sink, "alertmanager")
    for field in ("receiver", "groupKey", "status"):
        data = payload_json("alertmanager_firing.json")
        data[field] = "x\ud800"
        reply = post(devhost, am, json.dumps(data).encode())  # json.dumps writes the \ud800 escape
        assert reply.status_code == 400, (field, reply.text)
        assert reply.json() == {"error": "text is not valid Unicode", "detail": [f"{field}: a lone surrogate escape is not a character"]}
    assert sink.messages(channel) == [] and sink.messages(am_channel) == []


def test_non_finite_numbers_are_4xx(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """`1e999`, `NaN` and `Infinity`: Python's json reads them, JSON has no such numbers, and a
    source's `int(duration)` raised on them (GitLab's pipeline duration: a 500 before)."""
    route, (channel,) = make_route(app_store, sink, "generic")
    for literal, said in ((b"1e999", "'1e999' is too large"), (b"NaN", "NaN is not"), (b"-Infinity", "-Infinity is not")):
        reply = post(devhost, route, b'{"title": "x", "duration": ' + literal + b"}")
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"] == "body has a number JSON does not allow"
        assert said in reply.json()["detail"][0], reply.text
    assert sink.messages(channel) == []


# --- item 16: never accepted, then lost ----------------------------------------------------------

SURROGATE_CASES = [
    ("alertmanager", "alertmanager_firing.json", {}, ("alerts", 0, "annotations", "description")),
    ("grafana", "grafana_firing.json", {}, ("title",)),
    ("github", "github_push.json", {"X-GitHub-Event": "push"}, ("commits", 0, "message")),
    ("azure-devops", "ado_build_failed.json", {}, ("message", "text")),
    ("adaptivecard", "adaptive_envelope.json", {}, ("attachments", 0, "content", "body", 0, "text")),
    ("generic", "generic_deploy.json", {}, ("message",)),
    ("messagecard", "messagecard_legacy.json", {}, ("summary",)),
]


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(data)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(("source", "name", "headers", "path"), SURROGATE_CASES)
def test_lone_surrogate_in_any_source_is_refused_not_lost(
    devhost: str, app_store: Any, sink: Any, env: None, source: str, name: str, headers: dict[str, str], path: tuple[Any, ...]
) -> None:
    route, (channel,) = make_route(app_store, sink, source)
    data = _set(payload_json(name), path, "broken \udc00 text")
    reply = post(devhost, route, json.dumps(data).encode(), headers)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "text is not valid Unicode"
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    assert reply.json()["detail"] == [f"{where}: a lone surrogate escape is not a character"]
    assert sink.messages(channel) == []


def test_card_that_cannot_be_fitted_is_refused(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, (channel,) = make_route(app_store, sink, "adaptivecard")
    data = payload_json("adaptive_envelope.json")
    content = data["attachments"][0]["content"]
    content["actions"] = [{"type": "Action.OpenUrl", "title": "T" * 30_000, "url": "https://example.org"}]
    reply = post(devhost, route, json.dumps(data).encode())
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "card cannot be sent to Teams"
    assert "card-level content (header, actions, mentions) takes" in reply.json()["detail"][0]
    assert sink.messages(channel) == [] and app_store.outbox.backlog(channel) == 0


def test_digest_route_nobody_follows_says_so(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    from shared.store.models import Schedule, Subscription

    route, (channel,) = make_route(app_store, sink, "generic", mode="digest")
    body = payload("generic_deploy.json")
    reply = post(devhost, route, body)
    assert reply.status_code == 409, reply.text
    assert reply.json() == {"error": "no subscription follows this route", "detail": "the route is in digest mode"}
    sub = app_store.subscriptions.add(
        Subscription(channel=channel, source="events", target=route, schedule=Schedule(times=["08:00"]))
    )
    reply = post(devhost, route, body)  # the same post again: not a duplicate, it was never kept
    assert reply.status_code == 202 and reply.json()["status"] == "buffered", reply.text
    assert len(app_store.events.pending(sub.id)) == 1


def test_post_to_a_removed_channel_is_kept_as_a_dead_letter(
    devhost: str, app_store: Any, sink: Any, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A route still naming a removed channel: the other channel gets it, and the removed one's copy
    is a dead letter that is delivered once the channel is back and the letter requeued."""
    from shared.delivery.sweep import sweep
    from shared.store.models import Channel

    route, (kept, removed) = make_route(app_store, sink, "alertmanager", channels=2)
    app_store.channels.remove(removed)
    reply = post(devhost, route, payload("alertmanager_firing.json"))
    assert reply.status_code == 202, reply.text
    assert reply.json()["channels"] == ["accepted", "dead"]
    delivered(sink, kept)
    [dead] = [item for item in app_store.outbox.list(dead=True) if item.channel == removed]
    assert dead.reason.startswith(f"no channel named {removed!r}")

    app_store.channels.save(Channel(name=removed, url=sink.workflow_url(removed)))
    app_store.outbox.requeue(dead.id)
    monkeypatch.setenv("DELIVERY_EXTRA_ALLOWED_URLS", sink.url + "/")  # the sweep runs here, not in the host
    sweep(app_store)
    [message] = delivered(sink, removed)
    assert "HighErrorRate" in json.dumps(message)
