"""Every source, in process: our own payloads and the third-party examples build cards Workflows
displays (the 1.4 schema, version <= 1.4, links only).

Pure logic (no store, no HTTP): `pipeline.prepare` authenticates, checks, parses and builds.
The same payloads also go through the real dev host and store in test_incoming_http.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from shared.cards import envelopes
from shared.incoming import pipeline
from shared.store.models import Route
from tests.incoming.helpers import (
    GITHUB_EVENTS,
    GRAFANA_LEGACY,
    alertmanager_notification,
    payload,
    payload_json,
    shared_fixtures,
)
from tests.support.cardschema import assert_valid_card, assert_valid_message

pytestmark = pytest.mark.unit

JSON = {"content-type": "application/json"}


def prepare(source: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None, **route: Any):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = Route(name="r1", source=source, **route)
    return pipeline.prepare(r, {**JSON, **(headers or {})}, raw)


def refusal(source: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None, **route: Any):
    with pytest.raises(pipeline.Refusal) as info:
        prepare(source, body, headers, **route)
    return info.value.reply.status, info.value.reply.json()


def texts(card: dict[str, Any]) -> str:
    """All visible text of a card, for assertions."""
    return json.dumps(card, ensure_ascii=False, separators=(",", ":"))


def valid(prepared: Any) -> dict[str, Any]:
    assert prepared.notice.cards
    for each in prepared.notice.cards:
        assert_valid_card(each)
        assert_valid_message(envelopes.workflows_message(each))
    first: dict[str, Any] = prepared.notice.cards[0]
    return first


# --- Alertmanager ------------------------------------------------------------------------------


def test_alertmanager_one_card_per_notification_with_common_and_per_alert_facts() -> None:
    p = prepare("alertmanager", payload("alertmanager_firing.json"))
    assert len(p.notice.cards) == 1
    card = valid(p)
    text = texts(card)
    header = card["body"][0]
    assert header["style"] == "attention"
    assert "FIRING:2" in header["items"][0]["text"]
    assert "severity critical" in text
    assert text.count('"title":"team"') == 1  # common label once
    assert "checkout-7d9f:8081" in text and "/api/refund" in text  # per-alert labels
    assert "2 firing, 1 resolved" in text
    buttons = {a["title"]: a["url"] for a in card["actions"]}
    assert buttons["Runbook"].startswith("https://runbooks.example.org")
    assert "Silence" in buttons and "Alertmanager" in buttons
    assert "https://grafana.example.org/d/pay" in text  # per-alert dashboard link
    assert (p.notice.summary.severity, p.notice.summary.state) == ("attention", "firing")


def test_alertmanager_resolved_is_green_and_worded() -> None:
    card = valid(prepare("alertmanager", payload("alertmanager_resolved.json")))
    assert card["body"][0]["style"] == "good"
    assert "RESOLVED" in card["body"][0]["items"][0]["text"]
    assert "Silence" not in {a["title"] for a in card.get("actions", [])}


def test_alertmanager_many_alerts_more_link_and_under_cap() -> None:
    p = prepare("alertmanager", alertmanager_notification(60))
    card = valid(p)
    assert "+50 more" in texts(card)
    assert len(envelopes.dumps(envelopes.workflows_message(card))) < 28672


def test_alertmanager_max_alerts_setting() -> None:
    card = valid(prepare("alertmanager", alertmanager_notification(5), settings={"max_alerts": 2}))
    assert "+3 more" in texts(card)


def test_alertmanager_dedupe_key_is_group_status_content() -> None:
    a = prepare("alertmanager", alertmanager_notification(3)).notice.dedupe_id
    b = prepare("alertmanager", alertmanager_notification(3)).notice.dedupe_id
    c = prepare("alertmanager", alertmanager_notification(3, status="resolved")).notice.dedupe_id
    d = prepare("alertmanager", alertmanager_notification(4)).notice.dedupe_id
    assert a == b and len({a, c, d}) == 3


def test_alertmanager_missing_field_named() -> None:
    body = payload_json("alertmanager_firing.json")
    del body["status"]
    del body["alerts"][0]["labels"]
    status, reply = refusal("alertmanager", body)
    assert status == 400
    assert "status: field required" in reply["detail"]
    assert "alerts[0].labels: field required" in reply["detail"]


def test_alertmanager_third_party_examples() -> None:
    for path in shared_fixtures("alertmanager"):
        body = path.read_bytes()
        if "without_mandatory_field" in path.name:
            status, reply = refusal("alertmanager", body)
            assert status == 400 and "status: field required" in reply["detail"], path.name
            continue
        valid(prepare("alertmanager", body))  # lenient: no groupKey/version in prom2teams' examples


# --- Grafana -----------------------------------------------------------------------------------


def test_grafana_state_values_and_links() -> None:
    card = valid(prepare("grafana", payload("grafana_firing.json")))
    text = texts(card)
    assert card["body"][0]["style"] == "warning"
    assert "1204" in text  # value A, formatted
    buttons = {a["title"] for a in card["actions"]}
    assert {"Panel", "Dashboard", "Silence", "Image"} <= buttons


def test_grafana_default_message_not_repeated_custom_kept() -> None:
    """Grafana's default template text repeats the alert sections below it; a custom one is news."""
    body = payload_json("grafana_firing.json")
    card = valid(prepare("grafana", body))
    assert "Labels:" not in texts(card) and "**Firing**" not in texts(card)
    assert "p99 latency above 800 ms" in texts(card)  # the alert's own section
    for path in shared_fixtures("grafana"):  # Grafana's documented example, two alerts
        example = texts(valid(prepare("grafana", path.read_bytes())))
        assert "Annotations:" not in example and "Silence: https" not in example
    body["message"] = "Search is slow: see the runbook"
    assert "Search is slow: see the runbook" in texts(valid(prepare("grafana", body)))
    del body["alerts"]  # without alert sections even the default text is all there is
    body["message"] = "**Firing**\n\nLabels:\n - alertname = Latency p99\n"
    assert "Labels:" in texts(valid(prepare("grafana", body)))


def test_alertmanager_common_message_not_repeated_per_alert() -> None:
    body = payload_json("alertmanager_firing.json")
    body["commonAnnotations"] = {"message": "Disk is filling up"}
    for alert in body["alerts"]:
        alert["annotations"]["message"] = "Disk is filling up"
        alert["annotations"].pop("description", None)
    assert texts(valid(prepare("alertmanager", body))).count("Disk is filling up") == 1


def test_times_shown_in_the_readers_zone() -> None:
    """Raw ISO 8601 (nanoseconds, offsets) becomes Teams' DATE/TIME functions on whole-second UTC."""
    card = valid(prepare("grafana", payload("grafana_firing.json")))
    since = {"title": "Since", "value": "{{DATE(2026-03-01T11:00:00Z, SHORT)}} {{TIME(2026-03-01T11:00:00Z)}}"}
    assert since in next(e for e in card["body"] if e["type"] == "FactSet")["facts"]
    assert "Ended" not in texts(card)  # Go's zero time: not ended
    notification = alertmanager_notification(1, status="resolved")
    notification["alerts"][0]["startsAt"] = "2018-03-07T06:33:21.873077559-05:00"
    notification["alerts"][0]["endsAt"] = "2018-03-07T07:03:21.1-05:00"
    text = texts(valid(prepare("alertmanager", notification)))
    assert "{{DATE(2018-03-07T11:33:21Z, SHORT)}} {{TIME(2018-03-07T11:33:21Z)}}" in text
    assert "{{TIME(2018-03-07T12:03:21Z)}}" in text and ".873077559" not in text
    generic = valid(prepare("generic", {"title": "Backup", "finished": "2024-05-01T02:03:04.5+02:00", "size": "3 GB"}))
    facts = next(e for e in generic["body"] if e["type"] == "FactSet")["facts"]
    assert {"title": "finished", "value": "{{DATE(2024-05-01T00:03:04Z, SHORT)}} {{TIME(2024-05-01T00:03:04Z)}}"} in facts
    assert {"title": "size", "value": "3 GB"} in facts


def test_grafana_third_party_examples() -> None:
    for path in shared_fixtures("grafana"):
        card = valid(prepare("grafana", path.read_bytes()))
        assert "High memory usage" in texts(card) or "zone us-1" in texts(card)


def test_grafana_legacy_webhook() -> None:
    card = valid(prepare("grafana", GRAFANA_LEGACY))
    assert "97.25" in texts(card) and card["actions"][0]["title"] == "Rule"


def test_grafana_needs_state() -> None:
    status, reply = refusal("grafana", {"title": "x"})
    assert status == 400 and "status or state" in json.dumps(reply)


# --- GitHub ------------------------------------------------------------------------------------


def test_github_third_party_examples_every_event() -> None:
    for path in shared_fixtures("github"):
        event = GITHUB_EVENTS[path.stem]
        p = prepare("github", path.read_bytes(), {"x-github-event": event, "x-github-delivery": "d-" + path.stem})
        card = valid(p)
        assert p.notice.dedupe_id == "gh:d-" + path.stem
        assert card["body"][0]["items"][0]["text"], path.name
        assert p.notice.event and p.notice.event.startswith(event)


def test_github_push_commits_escaped_and_compare_button() -> None:
    card = valid(prepare("github", payload("github_push.json"), {"x-github-event": "push"}))
    text = texts(card)
    assert "2 commits pushed to main" in text
    # Underscores inside a word never format in CommonMark, so they are left as typed.
    assert "bob_the_builder" in text and "bob\\\\_" not in text
    assert card["actions"][0]["title"] == "Compare"


def test_github_workflow_failure_is_red() -> None:
    card = valid(prepare("github", payload("github_workflow_run_failure.json"), {"x-github-event": "workflow_run"}))
    assert card["body"][0]["style"] == "attention"
    assert card["actions"][0]["url"] == "https://github.com/acme/shop/actions/runs/42"


def test_github_any_other_event_gets_a_generic_card() -> None:
    card = valid(prepare("github", payload("github_star.json"), {"x-github-event": "star"}))
    assert "star created" in texts(card)


def test_github_needs_event_header_and_known_shape() -> None:
    status, reply = refusal("github", payload("github_push.json"))
    assert status == 400 and "X-GitHub-Event" in reply["error"]
    status, reply = refusal("github", {"zen": "x"}, {"x-github-event": "pull_request"})
    assert status == 400 and "pull_request: field required" in reply["detail"]


def test_github_form_encoded_payload() -> None:
    from urllib.parse import urlencode

    body = urlencode({"payload": payload("github_push.json").decode()}).encode()
    headers = {"content-type": "application/x-www-form-urlencoded", "x-github-event": "push"}
    valid(prepare("github", body, headers))


# --- Azure DevOps ------------------------------------------------------------------------------


def test_azure_devops_third_party_examples() -> None:
    for path in shared_fixtures("azure-devops"):
        p = prepare("azure-devops", path.read_bytes())
        valid(p)
        assert p.notice.event == json.loads(path.read_bytes())["eventType"]


def test_azure_devops_build_failed_and_generic() -> None:
    card = valid(prepare("azure-devops", payload("ado_build_failed.json")))
    assert card["body"][0]["style"] == "attention"
    assert card["actions"][0]["url"].endswith("buildId=7")
    card = valid(prepare("azure-devops", payload("ado_release_other.json")))
    assert "prod" in texts(card) and card["actions"][0]["url"].endswith("releaseId=3")


def test_azure_devops_missing_event_type() -> None:
    status, reply = refusal("azure-devops", {"resource": {}})
    assert status == 400 and "eventType: field required" in reply["detail"]


# --- MessageCard, Adaptive Card, generic, text --------------------------------------------------


def test_messagecard_converted_and_legacy_reply_flag() -> None:
    p = prepare("messagecard", payload("messagecard_legacy.json"))
    card = valid(p)
    assert p.source.legacy_reply
    assert "42 GB" in texts(card)
    for path in shared_fixtures("teams"):
        if "messagecard" in path.name:
            valid(prepare("messagecard", path.read_bytes()))
    valid(prepare("messagecard", {"text": "Hello World"}))
    status, reply = refusal("messagecard", {"themeColor": "FF0000"})
    assert status == 400 and "text: field required" in reply["detail"][0]


def test_adaptive_envelope_passed_through_unchanged() -> None:
    body = payload_json("adaptive_envelope.json")
    p = prepare("adaptivecard", body)
    valid(p)
    assert p.notice.cards[0] == body["attachments"][0]["content"]
    for path in shared_fixtures("teams"):
        if "incoming_webhook_adaptive" in path.name:
            valid(prepare("adaptivecard", path.read_bytes()))


def test_adaptive_card_rules_checked() -> None:
    body = payload_json("adaptive_envelope.json")
    body["attachments"][0]["content"]["version"] = "1.7"
    status, reply = refusal("adaptivecard", body)
    assert status == 400 and "attachments[0].content.version" in reply["detail"][0]
    body = payload_json("adaptive_envelope.json")
    body["attachments"][0]["content"]["actions"] = [{"type": "Action.Submit", "title": "Go"}]
    status, reply = refusal("adaptivecard", body)
    assert status == 400 and reply["error"] == "card cannot be shown in a Teams channel"
    assert reply["detail"][0].startswith("attachments[0].content.actions[0] (Action.Submit): only Action.OpenUrl")
    status, reply = refusal("adaptivecard", {"type": "message", "attachments": []})
    assert status == 400 and "attachments" in reply["detail"][0]


def test_adaptive_card_in_workflows_form_or_refused_with_its_path() -> None:
    """A 1.5/1.6 card is relabelled or converted at parse time; what has no 1.4 form is a 400."""
    body = payload_json("adaptive_envelope.json")
    content = body["attachments"][0]["content"]
    content["version"] = "1.6"
    content["body"][0]["style"] = "heading"
    content["body"].append(
        {"type": "ActionSet", "actions": [{"type": "Action.ShowCard", "title": "Details", "card": {
            "type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "rolled out to 3 regions"}]}}]}
    )
    card = valid(prepare("adaptivecard", body))
    assert card["version"] == "1.4" and "style" not in card["body"][0]
    assert card["body"][0]["weight"] == "Bolder" and "rolled out to 3 regions" in texts(card)
    assert "Action.ShowCard" not in texts(card)
    bare = {**content, "body": [{"type": "Container", "items": [{"type": "Input.Text", "id": "x",
            "inlineAction": {"type": "Action.Execute", "verb": "go"}}]}]}
    status, reply = refusal("adaptivecard", bare)
    assert status == 400
    assert reply["detail"] == [
        "body.body[0].items[0].inlineAction (Action.Execute): only Action.OpenUrl works in a Teams "
        "Workflows post (nothing there can receive its data); use an Action.OpenUrl link instead"
    ]
    mentions = {**content, "msteams": {"entities": [
        {"type": "mention", "text": f"<at>u{i}</at>", "mentioned": {"id": f"u{i}@example.com", "name": f"u{i}"}}
        for i in range(21)]}}
    status, reply = refusal("adaptivecard", mentions)
    assert status == 400 and "attachments" not in reply["detail"][0]
    assert reply["detail"][0].startswith("body.msteams.entities: 21 users mentioned")


TEMPLATE = {
    "title": "{{ service }} deploy {{ status }}",
    "status": "{{ status }}",
    "text": "{{ message }}",
    "facts": [{"name": "Env", "value": "{{ env }}"}, {"name": "Team", "value": "{{ owner.team }}"}],
    "buttons": [{"title": "Open run", "url": "{{ url }}"}, {"title": "Missing", "url": "{{ nope.url }}"}],
    "id": "{{ service }}-{{ status }}",
}


def test_generic_template_renders_values_so_json_cannot_break() -> None:
    body = payload_json("generic_deploy.json")
    p = prepare("generic", body, settings={"template": TEMPLATE})
    card = valid(p)
    title = card["body"][0]["items"][0]["text"]
    assert 'checkout "v2" deploy failure' in title.replace("\\", "")
    assert card["body"][0]["style"] == "attention"
    assert body["message"] in texts(json.loads(texts(card))) or "unexpected token" in texts(card)
    assert [a["title"] for a in card["actions"]] == ["Open run"]  # missing link left out
    assert {"title": "Team", "value": "payments"} in card["body"][2]["facts"]


def test_generic_template_sandboxed() -> None:
    bad = {"title": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}
    status, reply = refusal("generic", {"a": 1}, settings={"template": bad})
    assert status == 400 and reply["detail"] == ["template.title: unsafe operation"]
    status, reply = refusal("generic", {"a": 1}, settings={"template": {"title": "{{ a }"}})
    assert status == 400 and reply["detail"][0].startswith("template.title")


def test_generic_without_template_and_plain_text() -> None:
    card = valid(prepare("generic", payload("generic_deploy.json")))
    assert card["actions"][0]["url"] == "https://deploy.example.org/runs/99"
    card = valid(prepare("text", b"Backup done\nall 3 volumes", {"content-type": "text/plain"}))
    assert "Backup done" in card["body"][0]["items"][0]["text"]
    card = valid(prepare("generic", b"just text", {"content-type": "text/plain"}))
    card = valid(prepare("auto", payload("alertmanager_firing.json")))
    assert "FIRING" in card["body"][0]["items"][0]["text"]


# --- enrichment and limits ---------------------------------------------------------------------


def test_mentions_from_route_settings() -> None:
    settings = {
        "mentions": [
            {"id": "ada@example.org", "name": "Ada"},
            {"id": "4a2b7a9e-1111-4b1e-9d3f-5f5e5f5e5f5e", "name": "On-call"},
            {"id": "not valid", "name": "x"},
        ]
    }
    card = valid(prepare("alertmanager", payload("alertmanager_firing.json"), settings=settings))
    entities = card["msteams"]["entities"]
    assert [e["mentioned"]["id"] for e in entities] == ["ada@example.org", "4a2b7a9e-1111-4b1e-9d3f-5f5e5f5e5f5e"]
    assert "<at>Ada</at>" in texts(card)
    card = valid(prepare("adaptivecard", payload("adaptive_envelope.json"), settings=settings))
    assert len(card["msteams"]["entities"]) == 2
    quiet = {**settings, "mention_statuses": ["attention"]}
    card = valid(prepare("alertmanager", payload("alertmanager_resolved.json"), settings=quiet))
    assert "entities" not in card.get("msteams", {})


def test_route_mentions_capped_at_teams_limit() -> None:
    """Teams shows at most 20 user mentions per message: the route's list is cut, with the
    pass-through card's own mentions counted, so our cards never carry more."""
    people = [{"id": f"user{i}@example.org", "name": f"User {i}"} for i in range(25)]
    card = valid(prepare("alertmanager", payload("alertmanager_firing.json"), settings={"mentions": people}))
    assert len(card["msteams"]["entities"]) == 20
    body = payload_json("adaptive_envelope.json")
    content = body["attachments"][0]["content"]
    content["body"].append({"type": "TextBlock", "text": " ".join(f"<at>s{i}</at>" for i in range(15))})
    content["msteams"] = {"entities": [
        {"type": "mention", "text": f"<at>s{i}</at>", "mentioned": {"id": f"s{i}@example.org", "name": f"s{i}"}}
        for i in range(15)
    ]}
    card = valid(prepare("adaptivecard", body, settings={"mentions": people}))
    assert len(card["msteams"]["entities"]) == 20


def test_limits_content_type_depth_and_json() -> None:
    status, reply = refusal("alertmanager", b"<xml/>", {"content-type": "application/xml"})
    assert status == 415 and "application/json" in reply["detail"]
    status, reply = refusal("alertmanager", b"[" * 100 + b"]" * 100)
    assert status == 400 and "nested" in reply["error"]
    status, reply = refusal("alertmanager", b"[" * 100000)
    assert status == 400
    status, reply = refusal("alertmanager", b'{"status": "firing",')
    assert status == 400 and reply["error"] == "body is not valid JSON"
    with pytest.raises(pipeline.Refusal) as info:
        pipeline.check_size({"content-length": str(2 * 1024 * 1024)}, b"")
    assert info.value.reply.status == 413


# --- hostile input: always a 4xx naming the field, never a 500 ----------------------------------

OWN_PAYLOADS = [
    ("alertmanager", "alertmanager_firing.json", {}),
    ("grafana", "grafana_firing.json", {}),
    ("github", "github_push.json", {"x-github-event": "push"}),
    ("github", "github_star.json", {"x-github-event": "star"}),
    ("azure-devops", "ado_build_failed.json", {}),
    ("azure-devops", "ado_release_other.json", {}),
    ("adaptivecard", "adaptive_envelope.json", {}),
    ("messagecard", "messagecard_legacy.json", {}),
    ("generic", "generic_deploy.json", {}),
]
ODD_VALUES: list[Any] = [None, "", " \n", 0, 1.5, True, [], {}, [None], '"}]{\\']


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a payload (the first two items of each list), to put an odd value there."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:2]):
            found += _paths(value, (*prefix, i))
    return found


def _shape(node: Any) -> Any:
    """A card with its free text blanked: enum-like words (types, styles, sizes) and structure stay."""
    if isinstance(node, dict):
        return {key: _shape(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_shape(value) for value in node]
    if isinstance(node, str) and not re.fullmatch(r"[A-Za-z.]{1,24}|[0-9.]{1,5}", node):
        return "text" if node else ""
    return node


@pytest.mark.parametrize(("source", "name", "headers"), OWN_PAYLOADS)
def test_odd_values_anywhere_give_a_valid_card_or_a_4xx(source: str, name: str, headers: dict[str, str]) -> None:
    import copy

    original = payload_json(name)
    checked: set[str] = set()
    for path in _paths(original):
        for odd in ODD_VALUES:
            body = copy.deepcopy(original)
            node = body
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = copy.deepcopy(odd)
            try:
                p = prepare(source, body, headers)
            except pipeline.Refusal as refused:
                reply = refused.reply
                assert 400 <= reply.status < 500 and reply.json()["error"], (path, odd)
                continue
            if source == "adaptivecard":  # a sender's own card passes with the types it chose
                continue
            for card in p.notice.cards:
                # Only the card's shape can break the schema: check each shape once (the schema is slow).
                shape = json.dumps(_shape(card), sort_keys=True)
                if shape not in checked:
                    checked.add(shape)
                    assert_valid_card(card)


def test_route_settings_with_bad_numbers_fall_back() -> None:
    from shared.incoming.sources.base import int_setting

    assert int_setting({"n": "abc"}, "n", 10) == 10
    assert int_setting({"n": "-3"}, "n", 10) == 1
    assert int_setting({"n": True}, "n", 10) == 10
    assert int_setting({"n": "7"}, "n", 10) == 7
    for value in ("abc", "-3", "0", ""):
        card = valid(prepare("alertmanager", alertmanager_notification(12), settings={"max_alerts": value}))
        assert "more" in texts(card)
        valid(prepare("grafana", payload("grafana_firing.json"), settings={"max_alerts": value}))


def test_form_body_with_too_many_fields() -> None:
    body = "&".join(f"f{i}=1" for i in range(60)).encode()
    status, reply = refusal("github", body, {"content-type": "application/x-www-form-urlencoded", "x-github-event": "push"})
    assert status == 400 and reply["detail"] == ["body: at most 50 fields"]


def test_blank_titles_do_not_break_cards() -> None:
    body = payload_json("ado_release_other.json")
    body["message"] = {"text": "  \n "}
    body["eventType"] = ""
    card = valid(prepare("azure-devops", body))
    assert card["body"][0]["items"][0]["text"]
    envelope = payload_json("adaptive_envelope.json")
    envelope["attachments"][0]["content"]["body"][0]["text"] = " \n"
    assert prepare("adaptivecard", envelope).notice.summary.title == "Adaptive Card"


def test_adaptive_card_structure_checked() -> None:
    envelope = payload_json("adaptive_envelope.json")
    content = envelope["attachments"][0]["content"]
    content["body"] = [{"type": "TextBlock"}, {"text": "no type"}, {"type": "FactSet", "facts": [{"title": "a"}]}]
    content["actions"] = [{"type": "Action.OpenUrl", "title": "x"}]
    status, reply = refusal("adaptivecard", envelope)
    where = "attachments[0].content"
    assert status == 400 and sorted(reply["detail"]) == sorted(
        [
            f"{where}.body[0].text: a string is required",
            f"{where}.body[1].type: must be a non-empty string",
            f"{where}.body[2].facts[0]: title and value must be strings",
            f"{where}.actions[0].url: a string is required",
        ]
    )
    content["body"] = None
    content.pop("actions")
    status, reply = refusal("adaptivecard", envelope)
    assert status == 400 and reply["detail"] == [f"{where}.body: must be a list"]


def test_alertmanager_silence_link_quotes_label_values() -> None:
    from urllib.parse import unquote

    body = payload_json("alertmanager_firing.json")
    body["groupLabels"] = {"alertname": 'say "hi"\\now'}
    card = valid(prepare("alertmanager", body))
    silence = next(a["url"] for a in card["actions"] if a["title"] == "Silence")
    assert unquote(silence).endswith('{alertname="say \\"hi\\"\\\\now"}')


def test_every_source_module_can_be_chosen_for_a_route() -> None:
    """The admin CLI offers store.models.ROUTE_SOURCES: it must name exactly the source modules' kinds."""
    from shared.incoming import sources
    from shared.store.models import ROUTE_SOURCES

    offered = {kind.replace("-", "_") for kind in ROUTE_SOURCES} - {"auto"}
    assert offered == set(sources.kinds())
    for kind in ROUTE_SOURCES:
        if kind != "auto":
            assert sources.get(kind).name.replace("_", "-") in ROUTE_SOURCES


# --- severity and state ------------------------------------------------------------------------

KINDS = [
    ("alertmanager", "alertmanager_firing.json", {}, ("attention", "firing")),
    ("alertmanager", "alertmanager_resolved.json", {}, ("good", "resolved")),
    ("grafana", "grafana_firing.json", {}, ("warning", "firing")),
    ("github", "github_push.json", {"x-github-event": "push"}, ("accent", "pushed")),
    ("github", "github_workflow_run_failure.json", {"x-github-event": "workflow_run"}, ("attention", "failed")),
    ("github", "github_star.json", {"x-github-event": "star"}, ("default", None)),
    ("azure-devops", "ado_build_failed.json", {}, ("attention", "failed")),
    ("azure-devops", "ado_release_other.json", {}, ("default", None)),
    ("generic", "generic_deploy.json", {}, ("attention", "failed")),
    ("messagecard", "messagecard_legacy.json", {}, ("default", None)),
    ("adaptivecard", "adaptive_envelope.json", {}, ("default", None)),
]


@pytest.mark.parametrize(("source", "name", "headers", "kind"), KINDS)
def test_every_source_fills_severity_and_state(
    source: str, name: str, headers: dict[str, str], kind: tuple[str, str | None]
) -> None:
    summary = prepare(source, payload(name), headers).notice.summary
    assert (summary.severity, summary.state) == kind
    assert summary.as_dict()["severity"] == kind[0] and summary.as_dict()["state"] == kind[1]
    assert "status" not in summary.as_dict()


def test_third_party_examples_stay_in_the_vocabularies() -> None:
    from shared.incoming.vocabulary import SEVERITIES, STATES

    seen: set[tuple[str, str | None]] = set()
    for folder, source in (("github", "github"), ("azure-devops", "azure-devops"), ("grafana", "grafana"), ("alertmanager", "alertmanager")):
        for path in shared_fixtures(folder):
            if "without_mandatory" in path.name:
                continue
            headers = {"x-github-event": GITHUB_EVENTS[path.stem]} if source == "github" else {}
            summary = prepare(source, path.read_bytes(), headers).notice.summary
            assert summary.severity in SEVERITIES and (summary.state is None or summary.state in STATES), path.name
            seen.add((path.stem, summary.state))
    assert {("pull_request_opened", "opened"), ("release_published", "released"), ("workitem.updated", "updated")} <= seen
    assert {("git.pullrequest.merged", "merged"), ("workflow_run_completed", "succeeded")} <= seen


def test_state_words_of_other_senders() -> None:
    def kind(**settings: Any) -> tuple[str, str | None]:
        data = {"title": "x", "status": settings.pop("word")}
        summary = prepare("generic", data, settings=settings).notice.summary
        return summary.severity, summary.state

    assert kind(word="firing") == ("attention", "firing")
    assert kind(word="resolved") == ("good", "resolved")
    assert kind(word="success") == ("good", "succeeded")
    assert kind(word="merged") == ("default", "merged")
    assert kind(word="warning") == ("warning", None)
    assert kind(word="ok") == ("good", None)  # fine, but not saying what happened
    template = {"template": {"status": "{{ status | upper }}"}}  # the rendered word counts
    assert kind(word="failure", **template) == ("attention", "failed")
    legacy = {"ruleName": "CPU", "state": "ok", "evalMatches": []}
    summary = prepare("grafana", legacy).notice.summary
    assert (summary.severity, summary.state) == ("good", "resolved")
    paused = prepare("grafana", {**legacy, "state": "paused"}).notice.summary
    assert (paused.severity, paused.state) == ("default", None)
