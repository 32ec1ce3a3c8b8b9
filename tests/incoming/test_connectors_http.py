"""Issue 16's connectors that answer requests themselves or post legacy cards: Jenkins, SharePoint,
Trello, Salesforce, through the dev host, Azurite and the Teams sink."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import unique
from tests.incoming.helpers import PAYLOADS
from tests.support.cardschema import assert_valid_message

SECRET = "Tok" + "en-" + "c0nnect0rs9"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def env(sink: Any) -> Iterator[None]:
    sink.reset()
    sink.set_limits(windows=[])
    yield
    sink.reset()


def vendor(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def make_route(app_store: Any, sink: Any, source: str, **kw: Any) -> tuple[str, str]:
    from shared.store.models import Channel, Route

    channel = unique("ch")
    app_store.channels.save(Channel(name=channel, url=sink.workflow_url(channel)))
    route = Route(name=unique("r"), source=source, channels=[channel], **kw)
    app_store.routes.save(route)
    return route.name, channel


def post(
    base: str, route: str, body: bytes, headers: dict[str, str] | None = None, **params: str
) -> requests.Response:
    return requests.post(
        f"{base}/api/incoming/{route}", data=body, headers={**JSON, **(headers or {})}, params=params, timeout=30
    )


def delivered(sink: Any, channel: str, count: int = 1) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sink.wait_for_messages(channel, count, timeout=10)
    for message in messages:
        assert_valid_message(message)
    return messages


def card_text(message: dict[str, Any]) -> str:
    return json.dumps(message["attachments"][0]["content"], ensure_ascii=False)


# --- Jenkins ---------------------------------------------------------------------------------------

JENKINS = [
    ("notification_queued.json", "nightly-e2e #9 queued"),
    ("notification_started.json", "payments-api #212 started"),
    ("notification_completed_failure.json", "payments-api #212 finished: failure"),
    ("notification_completed_unstable.json", "mobile-app #1204 finished: unstable"),
    ("notification_completed_aborted.json", "mobile-app #1205 finished: aborted"),
    ("notification_finalized_success.json", "docs-site #88 finished: success"),
]


@pytest.mark.parametrize(("name", "title"), JENKINS)
def test_jenkins_notification_phases(
    devhost: str, app_store: Any, sink: Any, env: None, name: str, title: str
) -> None:
    route, channel = make_route(app_store, sink, "jenkins", auth="key", secret=SECRET)
    reply = post(devhost, route, vendor(f"jenkins/{name}"), code=SECRET)
    assert reply.status_code == 202, reply.text
    text = card_text(delivered(sink, channel)[0])
    assert title in text
    assert "Open build" in text and "/console" in text


def test_jenkins_auth_dedupe_and_bad_payloads(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, channel = make_route(app_store, sink, "jenkins", auth="key", secret=SECRET)
    started = vendor("jenkins/notification_started.json")
    for params in ({}, {"code": "BadValue1"}):
        reply = requests.post(f"{devhost}/api/incoming/{route}", data=started, headers=JSON, params=params, timeout=30)
        assert reply.status_code == 401 and reply.json()["error"] == "unauthorized"
        assert "BadValue1" not in reply.text
    bearer, bearer_channel = make_route(app_store, sink, "jenkins", auth="bearer", secret=SECRET)
    assert post(devhost, bearer, started, {"Authorization": "Bearer BadValue1"}).status_code == 401
    assert post(devhost, bearer, started, {"Authorization": f"Bearer {SECRET}"}).status_code == 202
    # the plugin's retries of one phase, and FINALIZED after COMPLETED: one card each build phase
    assert post(devhost, route, started, code=SECRET).status_code == 202
    again = post(devhost, route, started, code=SECRET)
    assert again.status_code == 202 and again.json() == {"status": "duplicate"}
    completed = json.loads(vendor("jenkins/notification_completed_failure.json"))
    assert post(devhost, route, json.dumps(completed).encode(), code=SECRET).status_code == 202
    completed["build"]["phase"] = "FINALIZED"
    final = post(devhost, route, json.dumps(completed).encode(), code=SECRET)
    assert final.json() == {"status": "duplicate"}
    # unreadable: a 400 naming the field; a phase we do not know: a card saying it as sent
    bad = post(devhost, route, b'{"name": "x", "build": {"number": "twelve"}}', code=SECRET)
    assert bad.status_code == 400
    assert any(d.startswith("build.number") for d in bad.json()["detail"])
    assert any(d.startswith("build.phase") for d in bad.json()["detail"])
    odd = {"name": "x", "build": {"number": 3, "phase": "PAUSED", "full_url": "https://ci.example.org/job/x/3/"}}
    assert post(devhost, route, json.dumps(odd).encode(), code=SECRET).status_code == 202
    messages = delivered(sink, channel, 3)
    assert "x #3 paused" in card_text(messages[2])
    assert len(delivered(sink, bearer_channel)) == 1
    assert len(sink.messages(channel)) == 3


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("o365_started.json", "Update from payments-api."),
        ("o365_completed_failed.json", "Build Failed"),
        ("o365_back_to_normal.json", "View Pull Request"),
    ],
)
def test_jenkins_office365_plugin_cards_on_messagecard_route(
    devhost: str, app_store: Any, sink: Any, env: None, name: str, shown: str
) -> None:
    """The Office 365 Connector plugin posts MessageCards and reads the old `200 1` answer."""
    route, channel = make_route(app_store, sink, "messagecard", auth="key", secret=SECRET)
    reply = post(devhost, route, vendor(f"jenkins/{name}"), code=SECRET)
    assert (reply.status_code, reply.text) == (200, "1")
    text = card_text(delivered(sink, channel)[0])
    assert shown in text and "Latest status of build" in text
    assert "display/redirect" in text  # the ViewAction became an Action.OpenUrl


# --- SharePoint ------------------------------------------------------------------------------------

LIST_ID = "0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c"
SHAREPOINT_SETTINGS = {"site_host": "https://contoso.sharepoint.com", "lists": {LIST_ID: "Contracts"}}


def sharepoint(name: str, state: str = SECRET) -> bytes:
    return vendor(f"sharepoint/{name}").replace(b"CLIENT_STATE", state.encode())


def test_sharepoint_validation_is_echoed_as_text(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    import time

    route, channel = make_route(app_store, sink, "sharepoint", auth="sharepoint", secret=SECRET)
    token = "d8f1f2a0-9b3c-4e5f-8a7b-6c5d4e3f2a1b:637000000000000000"
    started = time.monotonic()
    reply = requests.post(f"{devhost}/api/incoming/{route}", params={"validationtoken": token}, timeout=5)
    assert time.monotonic() - started < 5
    assert (reply.status_code, reply.text) == (200, token)
    assert reply.headers["Content-Type"].startswith("text/plain")
    bad = requests.post(f"{devhost}/api/incoming/{route}", params={"validationtoken": "<script>"}, timeout=5)
    assert bad.status_code == 400 and "<script>" not in bad.text
    assert "validationtoken" in bad.json()["detail"][0]
    # a route that does not exist, or of another source, does not echo: the usual 401
    other, _ = make_route(app_store, sink, "jenkins", auth="key", secret=SECRET)
    for name in (unique("missing"), other):
        reply = requests.post(f"{devhost}/api/incoming/{name}", params={"validationtoken": token}, timeout=5)
        assert reply.status_code == 401 and token not in reply.text
    assert sink.messages(channel) == []


def test_sharepoint_notifications(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, channel = make_route(
        app_store, sink, "sharepoint", auth="sharepoint", secret=SECRET, settings=SHAREPOINT_SETTINGS
    )
    for body in (sharepoint("notification.json", "BadValue1"), vendor("sharepoint/notification.json").replace(
        b'"clientState": "CLIENT_STATE",', b""
    )):
        reply = post(devhost, route, body)
        assert reply.status_code == 401 and "BadValue1" not in reply.text
    reply = post(devhost, route, sharepoint("notification.json"))
    assert reply.status_code == 202, reply.text
    text = card_text(delivered(sink, channel)[0])
    assert "Items changed in Contracts" in text and "not what changed" in text
    assert "https://contoso.sharepoint.com/sites/legal/_layouts/15/listedit.aspx?List=%7B" + LIST_ID in text
    # SharePoint's retry of the same notification (and another change of the list soon after): one card
    again = post(devhost, route, sharepoint("notification.json"))
    assert again.status_code == 202 and again.json() == {"status": "duplicate"}
    # a batch of two lists, one subscription about to expire: a card each, the second says renew
    batch, batch_channel = make_route(app_store, sink, "sharepoint", auth="sharepoint", secret=SECRET)
    reply = post(devhost, batch, sharepoint("notification_batch_expiring.json"))
    assert reply.status_code == 202 and reply.json()["cards"] == 2
    cards = [card_text(m) for m in delivered(sink, batch_channel, 2)]
    assert sum("has expired: create it again" in card for card in cards) == 1
    # unreadable: 400 naming the field (the credential is right, the list id missing)
    body = json.loads(sharepoint("notification.json"))
    del body["value"][0]["resource"]
    bad = post(devhost, route, json.dumps(body).encode())
    assert bad.status_code == 400 and bad.json()["detail"] == ["value[0].resource: field required"]
    assert len(sink.messages(channel)) == 1


# --- Trello ----------------------------------------------------------------------------------------

TRELLO = [
    ("create_card.json", "Card created in To do: Write the press release"),
    ("move_card.json", "Write the press release moved from To do to Doing"),
    ("comment_card.json", "Comment on Write the press release"),
    ("due_date.json", "due date set to 2026-12-09 17:00 UTC"),
    ("add_member.json", "Jake Peralta added to Write the press release"),
    ("check_item.json", "“Legal review” checked"),
    ("archive_card.json", "Write the press release archived"),
    ("create_list.json", "added list to board: Done"),  # no card of its own: the generic one
]


def trello_route(app_store: Any, sink: Any, devhost: str) -> tuple[str, str, str]:
    from shared.store.models import Route

    route, channel = make_route(app_store, sink, "trello", auth="trello", secret=SECRET)
    callback = f"https://proxy.example.org/api/incoming/{route}"
    saved = app_store.routes.get(route)
    app_store.routes.save(Route(**{**saved.model_dump(), "settings": {"callback_url": callback}}))
    return route, channel, callback


@pytest.mark.parametrize(("name", "title"), TRELLO)
def test_trello_actions(devhost: str, app_store: Any, sink: Any, env: None, name: str, title: str) -> None:
    from shared.incoming.auth import trello_sign

    route, channel, callback = trello_route(app_store, sink, devhost)
    body = vendor(f"trello/{name}")
    reply = post(devhost, route, body, {"X-Trello-Webhook": trello_sign(SECRET, body, callback)})
    assert reply.status_code == 202, reply.text
    text = card_text(delivered(sink, channel)[0])
    assert title in text and "board Launch plan" in text and "Rosa Díaz" in text
    assert "https://trello.com/" in text


def test_trello_head_auth_and_retries(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    from shared.incoming.auth import trello_sign

    route, channel, callback = trello_route(app_store, sink, devhost)
    # Trello's check of the callback URL before it creates the webhook
    head = requests.head(f"{devhost}/api/incoming/{route}", timeout=5)
    assert (head.status_code, head.content) == (200, b"")
    assert requests.head(f"{devhost}/api/incoming/{unique('missing')}", timeout=5).status_code == 200  # alike
    body = vendor("trello/comment_card.json")
    for headers in (
        {},
        {"X-Trello-Webhook": trello_sign("Bad" + "Value1", body, callback)},
        {"X-Trello-Webhook": trello_sign(SECRET, body, callback + "?x=1")},  # another callback URL
        {"X-Trello-Webhook": trello_sign(SECRET, body + b" ", callback)},
    ):
        reply = post(devhost, route, body, headers)
        assert reply.status_code == 401 and reply.json()["error"] == "unauthorized", reply.text
    good = {"X-Trello-Webhook": trello_sign(SECRET, body, callback)}
    assert post(devhost, route, body, good).status_code == 202
    again = post(devhost, route, body, good)  # Trello's retry: the same action id
    assert again.status_code == 202 and again.json() == {"status": "duplicate"}
    text = card_text(delivered(sink, channel)[0])
    assert "Draft is in the \\\\*shared\\\\* folder" in text  # the comment, literally
    bad = json.loads(body)
    del bad["action"]["id"]
    raw = json.dumps(bad).encode()
    reply = post(devhost, route, raw, {"X-Trello-Webhook": trello_sign(SECRET, raw, callback)})
    assert reply.status_code == 400 and reply.json()["detail"] == ["action.id: field required"]
    # a route without its callback_url cannot check a signature: refused, as misconfigured
    bare, _ = make_route(app_store, sink, "trello", auth="trello", secret=SECRET)
    assert post(devhost, bare, body, good).status_code == 401
    assert len(sink.messages(channel)) == 1


# --- Salesforce ------------------------------------------------------------------------------------

XML = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
ORG = "00D5g000004AbCdEAK"
ACKED = "<Ack>true</Ack>"


def salesforce_route(app_store: Any, sink: Any, org: str | None = ORG) -> tuple[str, str]:
    settings = {"organization_id": org} if org else {}
    return make_route(app_store, sink, "salesforce", auth="key", secret=SECRET, settings=settings)


def soap(base: str, route: str, body: bytes, **params: str) -> requests.Response:
    return requests.post(f"{base}/api/incoming/{route}", data=body, headers=XML, params=params, timeout=30)


def assert_fault(reply: requests.Response, status: int, code: str, said: str) -> None:
    from shared.incoming.sources.salesforce import parse_xml

    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"].startswith("text/xml")
    envelope = "{http://schemas.xmlsoap.org/soap/envelope/}"
    fault = parse_xml(reply.content).find(f"{envelope}Body/{envelope}Fault")
    assert fault is not None and fault.findtext("faultcode") == code
    assert said in (fault.findtext("faultstring") or "")
    assert ACKED not in reply.text and SECRET not in reply.text


def test_salesforce_outbound_messages(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, channel = salesforce_route(app_store, sink)
    reply = soap(devhost, route, vendor("salesforce/opportunity.xml"), code=SECRET)
    assert reply.status_code == 200 and ACKED in reply.text and "notificationsResponse" in reply.text
    assert reply.headers["Content-Type"].startswith("text/xml")
    text = card_text(delivered(sink, channel)[0])
    assert "Opportunity: Globex & Co - 300 seats" in text and "Negotiation/Review" in text
    assert "https://acme.my.salesforce.com/0065g00000QrStUAAZ" in text
    assert "Description" not in text  # nil fields are left out
    # Salesforce's retry of an unacknowledged message: acknowledged again, not shown twice
    again = soap(devhost, route, vendor("salesforce/opportunity.xml"), code=SECRET)
    assert again.status_code == 200 and ACKED in again.text
    # two records in one message: a card each, linked on the instance (na139-api -> na139)
    batch, batch_channel = salesforce_route(app_store, sink)
    reply = soap(devhost, batch, vendor("salesforce/cases_batch.xml"), code=SECRET)
    assert reply.status_code == 200 and ACKED in reply.text
    cards = [card_text(m) for m in delivered(sink, batch_channel, 2)]
    assert any("Case: Checkout fails for \\\\*all\\\\* EU cards" in c for c in cards)
    assert all("https://na139.salesforce.com/500" in c for c in cards)
    assert len(sink.messages(channel)) == 1


def test_salesforce_refusals_are_soap_faults(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, channel = salesforce_route(app_store, sink)
    body = vendor("salesforce/opportunity.xml")
    assert_fault(soap(devhost, route, body), 401, "soapenv:Client", "unauthorized")
    assert_fault(soap(devhost, route, body, code="BadValue1"), 401, "soapenv:Client", "unauthorized")
    other_org = body.replace(ORG.encode(), b"00D000000000001EAA")
    assert_fault(soap(devhost, route, other_org, code=SECRET), 401, "soapenv:Client", "unauthorized")
    unset, _ = salesforce_route(app_store, sink, org=None)  # no organization_id: nothing is let in
    assert_fault(soap(devhost, unset, body, code=SECRET), 401, "soapenv:Client", "unauthorized")
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        b"]><soapenv:Envelope>&b;</soapenv:Envelope>"
    )
    assert_fault(soap(devhost, route, laughs, code=SECRET), 400, "soapenv:Client", "document type declaration")
    assert_fault(soap(devhost, route, b"<soapenv:Envelope", code=SECRET), 400, "soapenv:Client", "not valid XML")
    bogus = b'<?xml version="1.0" encoding="x-bogus"?><soapenv:Envelope/>'  # a 500 before (LookupError)
    assert_fault(soap(devhost, route, bogus, code=SECRET), 400, "soapenv:Client", "not valid XML")
    no_id = body.replace(b"<Id>04l5g00000AbCdE1AK</Id>", b"")
    assert_fault(soap(devhost, route, no_id, code=SECRET), 400, "soapenv:Client", "Notification[0].Id: field required")
    json_body = requests.post(
        f"{devhost}/api/incoming/{route}", data=b"{}", headers=JSON, params={"code": SECRET}, timeout=30
    )
    assert_fault(json_body, 400, "soapenv:Client", "Content-Type: text/xml expected")
    assert sink.messages(channel) == []
