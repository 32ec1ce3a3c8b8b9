"""Property-based fuzzing of every HTTP endpoint's parsing, through the real dev host, store and sink.

Each example is a real fixture (tests/incoming/payloads, ../shared/fixtures when present, the bot's
own activity) mutated at random places: values swapped for hostile ones (lone surrogates, numbers
of thousands of digits, 30 KB strings, NaN, deep nesting, Markdown and mention markup), keys added
or dropped, the body cut or a byte flipped, headers changed. GitHub bodies are signed after the
mutation and bot activities carry a valid HMAC, so the parsers behind authentication are reached.

What must hold for every request:

- the answer is a 2xx, or a 4xx with a JSON body ``{"error": "..."}`` saying what is wrong, or a
  503 with ``Retry-After``; never another 5xx;
- a 2xx is never for something then dropped: an accepted post is at the sink, in the outbox or a
  dead letter of its channel; a buffered one is among its subscription's events.

Bounded for the suite: ``FUZZ_EXAMPLES`` examples per endpoint (default 20), derandomized so CI is
reproducible, no example database. ``FUZZ_EXAMPLES=2000 pytest tests/fuzz`` for a long local run.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.incoming.auth import sign
from tests.conftest import unique
from tests.incoming.helpers import GITHUB_EVENTS, PAYLOADS, SHARED_FIXTURES
from tests.outgoing import helpers as bot_helpers

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
SECRET = "Fuzz" + "-secret-" + "5b1e"
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: a placeholder swapped, after serialising, for a bare integer literal Python will not read
BIG_INT = "\x00big-int\x00"
DEEP = "\x00deep\x00"

NASTY: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(
        [
            "\ud800",
            "title \udfff end",
            BIG_INT,
            DEEP,
            "",
            " ",
            "\u0000\u0007\u001b[31m",
            "\u202eevil",
            "<at>Bot</at>",
            '[Re-login](https://evil.example)',
            "{{ 7 * 7 }}{% for x in range(9) %}",
            "🔥" * 50,
            "a" * 30_000,
            "line\n" * 500,
            "javascript:alert(1)",
            "https://",
            "-1",
            "1e309",
            None,
            True,
            0,
            -1,
            2**63,
            1e308,
            float("nan"),
            float("inf"),
            [],
            {},
            [None],
            {"": None},
        ]
    ),
    st.text(max_size=40),
    st.integers(),
    st.floats(),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=6), st.integers()), max_size=3),
)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*here, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*here, i))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """`document` with one to three mutations at random places."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "replace", "drop", "add", "wrap"]))
        if not path:
            if op == "replace":
                doc = draw(NASTY)
            continue
        parent, last = _at(doc, path[:-1]), path[-1]
        if op == "replace":
            parent[last] = draw(NASTY)
        elif op == "drop":
            del parent[last]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["\ud800", "", "x" * 300, "extra", "@type", "type"]))] = draw(NASTY)
        elif op == "wrap":
            parent[last] = [parent[last]] if draw(st.booleans()) else {"value": parent[last]}
    return doc


def serialise(document: Any) -> bytes:
    text = json.dumps(document, ensure_ascii=True)  # writes lone surrogates as \\ud800 escapes
    text = text.replace(json.dumps(BIG_INT), "9" * 5000)
    text = text.replace(json.dumps(DEEP), "[" * 5000 + "]" * 5000)
    return text.encode("utf-8")


@st.composite
def body_of(draw: st.DrawFn, document: Any) -> bytes:
    body = serialise(draw(mutated(document)))
    damage = draw(st.sampled_from(["none"] * 8 + ["cut", "flip", "bom", "empty"]))
    if damage == "cut" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif damage == "flip" and body:
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1 :]
    elif damage == "bom":
        body = b"\xef\xbb\xbf" + body
    elif damage == "empty":
        body = b""
    return body


CONTENT_TYPES = st.sampled_from(
    ["application/json"] * 6
    + ["application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "", "image/png",
       "application/vnd.api+json", "application/json; charset=\u00e9"]
)
HOSTILE_HEADER = st.sampled_from(
    ["", " ", "Basic \u00e9\u00e9\u00e9\u00e9", "Bearer", "Bearer \u00ff", "HMAC ", "Basic ====", "x" * 4000, "sha256=zz"]
)


# --- the routes under test ----------------------------------------------------------------------


@dataclass
class Target:
    route: str
    channel: str
    documents: list[tuple[Any, dict[str, str]]]  # fixture, its headers
    auth: str = "none"
    subscription: str | None = None
    #: bodies answered 2xx: a legacy sender's "1" does not say "duplicate", so repeats are known here
    answered: set[bytes] = field(default_factory=set)


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _shared(folder: str) -> list[Path]:
    path = SHARED_FIXTURES / folder
    return sorted(path.glob("*.json")) if path.is_dir() else []


def _documents(kind: str) -> list[tuple[Any, dict[str, str]]]:
    own = {
        "alertmanager": ["alertmanager_firing.json", "alertmanager_resolved.json"],
        "grafana": ["grafana_firing.json"],
        "github": ["github_push.json", "github_star.json", "github_workflow_run_failure.json"],
        "azure-devops": ["ado_build_failed.json", "ado_release_other.json"],
        "adaptivecard": ["adaptive_envelope.json"],
        "messagecard": ["messagecard_legacy.json"],
        "generic": ["generic_deploy.json"],
        "auto": ["generic_deploy.json", "alertmanager_firing.json", "messagecard_legacy.json"],
    }[kind]
    events = {"github_push.json": "push", "github_star.json": "star", "github_workflow_run_failure.json": "workflow_run"}
    docs = [(_load(PAYLOADS / name), {"X-GitHub-Event": events[name]} if name in events else {}) for name in own]
    for path in _shared(kind) if kind in ("alertmanager", "grafana", "github", "azure-devops") else []:
        headers = {"X-GitHub-Event": GITHUB_EVENTS[path.stem]} if kind == "github" else {}
        docs.append((_load(path), headers))
    if kind in ("adaptivecard", "messagecard"):
        wanted = "adaptive" if kind == "adaptivecard" else "messagecard"
        docs += [(_load(p), {}) for p in _shared("teams") if wanted in p.name]
    return docs


AUTH = {"alertmanager": "bearer", "github": "github", "azure-devops": "basic", "grafana": "key"}
KINDS = ["alertmanager", "grafana", "github", "azure-devops", "adaptivecard", "messagecard", "generic", "auto"]


@pytest.fixture(scope="module")
def targets(devhost: str, azurite: str, sink: Any, devhost_settings: dict[str, str]) -> Iterator[dict[str, Target]]:
    from shared.store import open_store
    from shared.store.models import Channel, Route, Schedule, Subscription

    store = open_store(connection=azurite, prefix=devhost_settings["TABLE_PREFIX"])
    out: dict[str, Target] = {}
    for kind in [*KINDS, "digest"]:
        channel = unique("fz")
        store.channels.save(Channel(name=channel, url=sink.workflow_url(channel)))
        auth = AUTH.get(kind, "none")
        source = "generic" if kind == "digest" else kind
        route = Route(
            name=unique("fz"), source=source, channels=[channel], auth=auth,
            secret=SECRET if auth != "none" else None, mode="digest" if kind == "digest" else "immediate",
        )  # fmt: skip
        store.routes.save(route)
        target = Target(route.name, channel, _documents(source), auth)
        if kind == "digest":
            sub = store.subscriptions.add(
                Subscription(channel=channel, source="events", target=route.name, schedule=Schedule(times=["03:00"]))
            )
            target.subscription = sub.id
        out[kind] = target
    yield out


@pytest.fixture
def quiet_sink(sink: Any) -> Iterator[Any]:
    sink.set_limits(windows=[])
    yield sink
    sink.set_limits(windows=[])


def _credentials(target: Target, body: bytes) -> dict[str, str]:
    if target.auth == "bearer":
        return {"Authorization": f"Bearer {SECRET}"}
    if target.auth == "basic":
        return {"Authorization": "Basic " + base64.b64encode(f"ado:{SECRET}".encode()).decode()}
    if target.auth == "github":
        return {"X-Hub-Signature-256": sign(SECRET, body), "X-GitHub-Delivery": str(uuid.uuid4())}
    if target.auth == "key":
        return {"x-functions-key": SECRET}
    return {}


def _kept(store: Any, sink: Any, target: Target) -> int:
    """Everything the route's channel holds: messages at the sink, outbox items, dead letters."""
    held: int = len(sink.messages(target.channel)) + store.outbox.backlog(target.channel)
    held += sum(1 for item in store.outbox.list(dead=True) if item.channel == target.channel)
    if target.subscription:
        held += store.events.count(target.subscription)
    return held


def _unsendable(store: Any, target: Target) -> int:
    """Dead letters of cards delivery could not even serialise: the check before 202 should stop them."""
    return sum(
        1
        for item in store.outbox.list(dead=True)
        if item.channel == target.channel and (item.reason or "").startswith("the card cannot be sent")
    )


def check_answer(reply: requests.Response, what: str) -> None:
    """A 2xx, a 4xx naming the problem in JSON, or a 503 to retry; never another 5xx."""
    status = reply.status_code
    if 200 <= status < 300:
        return
    if status == 503:
        assert reply.headers.get("Retry-After"), f"{what}: 503 without Retry-After"
        return
    assert 400 <= status < 500, f"{what}: answered {status}: {reply.text[:300]}"
    assert reply.headers.get("Content-Type", "").startswith("application/json"), f"{what}: {status} not JSON"
    answer = reply.json()
    assert isinstance(answer, dict) and isinstance(answer.get("error"), str) and answer["error"], (what, answer)


def _draw_request(data: st.DataObject, target: Target) -> tuple[bytes, dict[str, str]]:
    document, base_headers = data.draw(st.sampled_from(target.documents), label="fixture")
    body = data.draw(body_of(document), label="body")
    headers = {"Content-Type": data.draw(CONTENT_TYPES, label="content type"), **base_headers}
    headers.update(_credentials(target, body))
    change = data.draw(st.sampled_from(["none"] * 6 + ["drop", "hostile", "event"]), label="header change")
    if change == "drop" and len(headers) > 1:
        headers.pop(data.draw(st.sampled_from(sorted(headers)), label="dropped"))
    elif change == "hostile":
        name = data.draw(st.sampled_from(sorted({*headers, "Authorization", "X-GitHub-Event"})), label="header")
        headers[name] = data.draw(HOSTILE_HEADER, label="value")
    elif change == "event":
        headers["X-GitHub-Event"] = data.draw(st.sampled_from([*GITHUB_EVENTS.values(), "", "zz", "push\t"]))
    return body, headers


def _latin1(headers: dict[str, str]) -> dict[str, str]:
    """Header values as an HTTP client sends them (latin-1, no leading space, no line breaks);
    what a client cannot send is dropped (broken framing is item 19's, left to the host)."""
    kept = {}
    for name, value in headers.items():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            continue
        if value[:1].isspace() or "\r" in value or "\n" in value:
            continue
        kept[name] = value
    return kept


@pytest.mark.undisplayed_ok  # the sink's display verdicts are asserted by the card tests, not here
@pytest.mark.parametrize("kind", [*KINDS, "digest"])
@FUZZ
@given(data=st.data())
def test_incoming_answers_and_keeps(
    kind: str, data: st.DataObject, devhost: str, targets: dict[str, Target], app_store: Any, quiet_sink: Any
) -> None:
    target = targets[kind]
    body, headers = _draw_request(data, target)
    before = _kept(app_store, quiet_sink, target)
    reply = requests.post(f"{devhost}/api/incoming/{target.route}", data=body, headers=_latin1(headers), timeout=60)
    what = f"{kind} {reply.status_code} {body[:200]!r}"
    check_answer(reply, what)
    if not 200 <= reply.status_code < 300:
        return
    if reply.headers.get("Content-Type", "").startswith("text/plain"):
        assert reply.text == "1", what
        status = "duplicate" if body in target.answered else "accepted"  # MessageCards: same body, same key
    else:
        status = reply.json().get("status")
    target.answered.add(body)
    if status in ("duplicate", "filtered"):
        return  # the first copy was kept (asserted then); no route here has filters
    assert status in ("accepted", "buffered"), what
    assert _kept(app_store, quiet_sink, target) > before, f"{what}: answered 2xx, kept nowhere"
    assert _unsendable(app_store, target) == 0, f"{what}: accepted a card that cannot be sent"


# --- the bot -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def team(devhost: str, azurite: str, sink: Any, devhost_settings: dict[str, str]) -> dict[str, str]:
    from shared.store import open_store
    from shared.store.models import Channel, Team

    store = open_store(connection=azurite, prefix=devhost_settings["TABLE_PREFIX"])
    key, token = unique("fzteam"), bot_helpers.new_token()
    store.teams.add(Team(key=key, name=f"Team {key}", tokens=[token]))
    registration = store.teams.get(key).registration
    channel_id = f"19:{unique('fzch')}@thread.tacv2"
    store.channels.save(
        Channel(name=key + "-ch", url=sink.workflow_url(key), teams_channel_id=channel_id, team_key=key,
                team_registration=registration)
    )  # fmt: skip
    return {"key": key, "token": token, "channel_id": channel_id}


COMMAND_TEXTS = ["help", "status", "subscriptions", "routes", "subscriptions page 2", "pause zz", "unsubscribe x",
                 "", "connect", "subscribe rss", "digest", "resume \ud800"]


@pytest.mark.undisplayed_ok
@FUZZ
@given(data=st.data())
def test_bot_answers_signed_mutated_activities(data: st.DataObject, devhost: str, team: dict[str, str]) -> None:
    text = data.draw(st.one_of(st.sampled_from(COMMAND_TEXTS), st.text(max_size=60)), label="text")
    activity = bot_helpers.activity(text, channel_id=team["channel_id"])
    body = data.draw(body_of(activity), label="activity")
    if data.draw(st.booleans(), label="fresh id"):  # else whatever the mutation left (maybe a replay)
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            decoded["id"] = str(uuid.uuid4().int)[:13]
            body = serialise(decoded)
    headers = {"Content-Type": "application/json", "Authorization": bot_helpers.sign(team["token"], body)}
    reply = requests.post(f"{devhost}/api/outgoing/{team['key']}", data=body, headers=headers, timeout=60)
    check_answer(reply, f"bot {reply.status_code} {body[:200]!r}")



# --- names in the URL ----------------------------------------------------------------------------


@FUZZ
@given(name=st.text(min_size=1, max_size=300), function=st.sampled_from(["incoming", "outgoing"]))
def test_any_name_in_the_url_gets_a_json_answer(name: str, function: str, devhost: str) -> None:
    """An unknown route is a 401 like a wrong credential; an unknown team too; never a 5xx."""
    from urllib.parse import quote

    path = quote(name.encode("utf-8", "surrogatepass"), safe="")
    if not path.strip(".") or "%2F" in path or "%5C" in path:
        return  # "/", "\\", "." and ".." are the host's routing, not ours
    reply = requests.post(f"{devhost}/api/{function}/{path}", data=b"{}", headers={"Content-Type": "application/json"}, timeout=30)
    check_answer(reply, f"{function}/{path[:80]} {reply.status_code}")
    if function == "incoming":
        assert reply.status_code == 401, (path[:80], reply.text)
