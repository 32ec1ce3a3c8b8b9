"""Every card the project can emit, enumerated once for the schema and render tests.

- incoming: each source on its own payloads (tests/incoming/payloads), the sender cards of
  tests/cards/samples.py through the Adaptive Card source, and the third-party payloads in
  ../shared/fixtures (empty when absent: the caller skips);
- digests: one of every feed kind with entries, and each kind empty;
- parts: what `limits.fit` makes of a long card: `(k/n)` parts and one part ending in `+N more`.

Bot replies need the running bot; tests/render runs every command through the dev host.
Building a card is pure logic: `pipeline.prepare` authenticates, parses and builds, no network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.cards import limits
from shared.digest.card import build_digest_card
from shared.digest.feeds.base import Entry, Gathered
from tests.incoming import vendors
from tests.incoming.helpers import (
    GITHUB_EVENTS,
    GRAFANA_LEGACY,
    PAYLOADS,
    SHARED_FIXTURES,
    alertmanager_notification,
    payload,
)

WHEN = datetime(2025, 3, 30, 8, 0, tzinfo=UTC)
ADAPTIVE = "application/vnd.microsoft.card.adaptive"

MENTIONS = {
    "mentions": [
        {"id": "ada@example.org", "name": "Ada"},
        {"id": "4a2b7a9e-1111-4b1e-9d3f-5f5e5f5e5f5e", "name": "On-call"},
    ]
}
TEMPLATE = {
    "title": "{{ service }} deploy {{ status }}",
    "status": "{{ status }}",
    "text": "{{ message }}",
    "facts": [{"name": "Env", "value": "{{ env }}"}, {"name": "Team", "value": "{{ owner.team }}"}],
    "buttons": [{"title": "Open run", "url": "{{ url }}"}],
    "id": "{{ service }}-{{ status }}",
}


@dataclass(frozen=True)
class Case:
    """One post to the incoming proxy: what a sender sends, and the route it arrives on."""

    name: str
    source: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    #: a sender may send this and be refused (a 4xx): then no card is emitted
    may_refuse: bool = False

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Emitted:
    """One card the project posts or answers with."""

    name: str  # unique, e.g. "incoming/github/push.json" or "digest/rss" or "parts/split 2/3"
    group: str  # incoming | digest | parts | reply
    kind: str  # the source or feed kind (gallery sections)
    card: dict[str, Any]


def envelope(card: dict[str, Any]) -> bytes:
    """A sender's Workflows-style message carrying `card`."""
    message = {"type": "message", "attachments": [{"contentType": ADAPTIVE, "content": card}]}
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


def own_cases() -> list[Case]:
    """Each source on the project's own payloads, with the route settings that change a card."""
    from tests.cards.samples import EDGE_CARDS, KITCHEN_SINK

    cases = [
        Case("alertmanager/firing", "alertmanager", payload("alertmanager_firing.json")),
        Case("alertmanager/resolved", "alertmanager", payload("alertmanager_resolved.json")),
        Case(
            "alertmanager/firing, 60 alerts",
            "alertmanager",
            json.dumps(alertmanager_notification(60)).encode(),
        ),
        Case(
            "alertmanager/firing, mentions",
            "alertmanager",
            payload("alertmanager_firing.json"),
            settings=MENTIONS,
        ),
        Case("grafana/firing", "grafana", payload("grafana_firing.json")),
        Case("grafana/legacy alerting", "grafana", json.dumps(GRAFANA_LEGACY).encode()),
        Case("github/push", "github", payload("github_push.json"), {"x-github-event": "push"}),
        Case(
            "github/workflow_run failure",
            "github",
            payload("github_workflow_run_failure.json"),
            {"x-github-event": "workflow_run"},
        ),
        Case(
            "github/star (any other event)", "github", payload("github_star.json"), {"x-github-event": "star"}
        ),
        Case("azure-devops/build failed", "azure-devops", payload("ado_build_failed.json")),
        Case("azure-devops/release (other event)", "azure-devops", payload("ado_release_other.json")),
        Case("generic/deploy", "generic", payload("generic_deploy.json")),
        Case(
            "generic/deploy, template",
            "generic",
            payload("generic_deploy.json"),
            settings={"template": TEMPLATE},
        ),
        Case("generic/plain text", "generic", b"just text", {"content-type": "text/plain"}),
        Case("text/plain text", "text", b"Backup done\nall 3 volumes", {"content-type": "text/plain"}),
        Case("auto/alertmanager", "auto", payload("alertmanager_firing.json")),
        Case("messagecard/legacy", "messagecard", payload("messagecard_legacy.json")),
        Case("messagecard/text only", "messagecard", b'{"text": "Hello World"}'),
        Case("adaptivecard/envelope", "adaptivecard", payload("adaptive_envelope.json")),
        Case(
            "adaptivecard/envelope, mentions",
            "adaptivecard",
            payload("adaptive_envelope.json"),
            settings=MENTIONS,
        ),
        Case("adaptivecard/sample kitchen-sink", "adaptivecard", envelope(KITCHEN_SINK), may_refuse=True),
    ]
    cases += connector_cases()
    for name, card in EDGE_CARDS.items():
        cases.append(Case(f"adaptivecard/sample {name}", "adaptivecard", envelope(card), may_refuse=True))
    cases += [Case(f"{p.vendor}/{p.name}", p.vendor, p.body, p.lower_headers) for p in vendors.ALL]  # issue 16
    return cases


def connector_cases() -> list[Case]:
    """Issue 16's Jenkins, SharePoint, Trello and Salesforce payloads (tests/incoming/payloads/<vendor>)."""
    cases: list[Case] = []
    for path in sorted((PAYLOADS / "jenkins").glob("*.json")):
        source = "messagecard" if path.name.startswith("o365_") else "jenkins"
        cases.append(Case(f"{source}/jenkins {path.stem}", source, path.read_bytes()))
    lists = {"0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c": "Contracts"}
    for path in sorted((PAYLOADS / "sharepoint").glob("*.json")):
        settings = {"site_host": "https://contoso.sharepoint.com", "lists": lists}
        cases.append(Case(f"sharepoint/{path.stem}", "sharepoint", path.read_bytes(), settings=settings))
    for path in sorted((PAYLOADS / "trello").glob("*.json")):
        cases.append(Case(f"trello/{path.stem}", "trello", path.read_bytes()))
    org = {"organization_id": "00D5g000004AbCdEAK"}
    xml = {"content-type": "text/xml; charset=utf-8"}
    for path in sorted((PAYLOADS / "salesforce").glob("*.xml")):
        cases.append(Case(f"salesforce/{path.stem}", "salesforce", path.read_bytes(), xml, settings=org))
    return cases


def third_party_cases() -> list[Case]:
    """The third-party payloads in ../shared/fixtures, each on its source (empty when absent)."""
    cases: list[Case] = []
    folders = {"alertmanager": "alertmanager", "grafana": "grafana", "azure-devops": "azure-devops"}
    for folder, source in folders.items():
        for path in sorted((SHARED_FIXTURES / folder).glob("*.json")):
            refused = "without_mandatory_field" in path.name  # the one example Alertmanager never sends
            cases.append(Case(f"{source}/{path.name}", source, path.read_bytes(), may_refuse=refused))
    for path in sorted((SHARED_FIXTURES / "github").glob("*.json")):
        event = GITHUB_EVENTS.get(path.stem, path.stem)
        headers = {"x-github-event": event, "x-github-delivery": "d-" + path.stem}
        cases.append(Case(f"github/{path.name}", "github", path.read_bytes(), headers))
    for path in sorted((SHARED_FIXTURES / "teams").glob("incoming_webhook_*.json")):
        source = "messagecard" if "messagecard" in path.name else "adaptivecard"
        cases.append(Case(f"{source}/{path.name}", source, path.read_bytes()))
    return cases


def prepare(case: Case) -> list[dict[str, Any]] | None:
    """The cards the proxy would post for `case` (None when it answers a 4xx instead)."""
    from shared.incoming import pipeline
    from shared.store.models import Route

    route = Route(name="r1", source=case.source, settings=case.settings)
    headers = {"content-type": "application/json", **case.headers}
    try:
        prepared = pipeline.prepare(route, headers, case.body)
    except pipeline.Refusal as refused:
        if case.may_refuse and 400 <= refused.reply.status < 500:
            return None
        raise AssertionError(
            f"{case.name}: refused with {refused.reply.status} {refused.reply.json()}"
        ) from None
    return list(prepared.notice.cards)


def incoming(case: Case) -> list[Emitted]:
    cards = prepare(case) or []
    many = len(cards) > 1
    return [
        Emitted(f"incoming/{case.name}" + (f" #{i + 1}" if many else ""), "incoming", case.source, card)
        for i, card in enumerate(cards)
    ]


# --- digests -------------------------------------------------------------------------------------


def events_gathered(count: int = 30) -> Gathered:
    """An events digest: buffered alerts, every other one firing, with the text that must not format."""
    entries = [
        Entry(
            id=str(i),
            title=f"[FIRING:{i}] HighErrorRate on api_{i}",
            url=f"https://alerts.example/{i}",
            summary="p99 > 2 s for *all* routes <at>Ops</at>",
            published=datetime(2025, 3, 30, 1, 30, tzinfo=UTC),
            severity="attention" if i % 2 else "good",
            state="firing" if i % 2 else "resolved",
        )
        for i in range(count)
    ]
    return Gathered(
        source="events",
        title="Alerts [prod]",
        entries=entries,
        facts=[("Routes", "2"), ("Window", "24 h")],
        headline="# 30 events",
        more=5,
        link="https://alerts.example/all",
    )


def digest_samples() -> list[tuple[str, Gathered]]:
    """One digest of every feed kind as its feed gathers it, and each kind empty."""
    published = datetime(2025, 3, 29, 18, 5, tzinfo=UTC)
    rss = Gathered(
        source="rss",
        title="Example engineering blog",
        entries=[
            Entry(
                str(i),
                f"Post {i}: shipping faster",
                f"https://blog.example.org/{i}",
                "What we learnt.",
                published,
            )
            for i in range(3)
        ],
        more=2,
        link="https://blog.example.org/",
    )
    weather = Gathered(
        source="weather",
        title="Weather: Berlin",
        facts=[("Today", "3 to 11 °C"), ("Conditions", "Partly cloudy"), ("Rain", "0.4 mm (20% chance)")],
        headline="Forecast for 2025-03-30",
        always_post=True,
    )
    jsonfeed = Gathered(
        source="json",
        title="Releases",
        entries=[Entry("v2.4.1", "v2.4.1", "https://example.org/r/2.4.1", "Bug fixes", published)],
    )
    samples = [("events", events_gathered()), ("rss", rss), ("weather", weather), ("json", jsonfeed)]
    samples += [
        (f"{kind} (empty)", Gathered(source=kind, title="Nothing"))
        for kind in ("events", "rss", "weather", "json")
    ]
    return samples


def digests() -> list[Emitted]:
    return [
        Emitted(f"digest/{name}", "digest", gathered.source, build_digest_card(gathered, when=WHEN))
        for name, gathered in digest_samples()
    ]


# --- parts ---------------------------------------------------------------------------------------


def parts() -> Iterator[Emitted]:
    """A card too long for one message: numbered parts, and one part ending in `+N more`."""
    card = build_digest_card(events_gathered(120), when=WHEN)
    split = limits.fit(card, max_bytes=8192)
    for i, part in enumerate(split):
        yield Emitted(f"parts/split {i + 1} of {len(split)}", "parts", "split", part)
    for part in limits.fit(card, max_bytes=8192, more_url="https://alerts.example/all"):
        yield Emitted("parts/+N more", "parts", "more", part)


def all_offline(third_party: bool = True) -> list[Emitted]:
    """Every card that needs no running bot (the gallery, the demo's index)."""
    found: list[Emitted] = []
    cases = own_cases() + (third_party_cases() if third_party else [])
    for case in cases:
        found += incoming(case)
    return found + digests() + list(parts())
