"""Salesforce outbound messages (workflow rules and flows "Send outbound message"): SOAP 1.1.

A message is ``Envelope/Body/notifications`` (namespace ``http://soap.sforce.com/2005/09/outbound``)
with ``OrganizationId``, ``ActionId``, ``EnterpriseUrl``/``PartnerUrl`` and up to 100
``Notification`` elements, each an ``Id`` and an ``sObject`` whose children are the fields the
outbound message was set to send. A card per record: its type, id, fields as facts and a link to
the record on the org's instance (the host of ``EnterpriseUrl``/``PartnerUrl``).

Salesforce keeps sending a message, with growing intervals for up to 24 hours, until it is
answered ``<Ack>true</Ack>`` in a ``notificationsResponse``; so ``answer`` gives that body (200,
``text/xml``) only to a post that was kept (accepted, queued, buffered, filtered or a duplicate),
and every refusal keeps its status (4xx, 503) with a SOAP fault saying what is wrong
(``faultcode`` ``soapenv:Client`` for 4xx, ``soapenv:Server`` for 5xx): Salesforce retries those
and shows them in its outbound message queue ("Delivery Failure Reason").

The route setting ``organization_id`` (15 or 18 characters) must match the message's
``OrganizationId``: a message from another org is refused as a wrong credential (401). Outbound
messages are not signed: use ``--auth key`` with ``?code=<secret>`` in the endpoint URL as well.
Retries carry the same notification ids: the de-duplication key.

XML: parsed with the standard library's expat, with any document type declaration refused (a SOAP
message must not have one): without a DTD there are no entities to expand or fetch.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

from shared.incoming.sources.base import (
    BuildContext,
    Card,
    Incoming,
    Notice,
    SourceError,
    Summary,
    content_hash,
    http_url,
    new_card,
    short,
)
from shared.web import Reply

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_TYPES = ("text/xml", "application/xml", "application/soap+xml")
MAX_CARDS = 10
MAX_FIELDS = 20
#: the field that names a record, by object (Account.Name, Case.Subject, ...)
NAME_FIELDS = ("Name", "Subject", "Title", "CaseNumber")

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()


@dataclass
class Record:
    notification_id: str
    sobject_type: str
    record_id: str | None
    fields: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Message:
    organization_id: str
    action_id: str | None
    instance: str | None
    records: list[Record]


def parse_xml(body: bytes) -> Element:
    """The document's root, through expat with DOCTYPE refused (SourceError for anything else)."""
    import xml.parsers.expat
    from xml.etree.ElementTree import TreeBuilder

    builder = TreeBuilder()
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")

    def no_doctype(*_args: object) -> None:
        raise SourceError("not a SOAP message", ["body: a document type declaration is not allowed"])

    def start(name: str, attrs: dict[str, str]) -> None:
        builder.start(_clark(name), {_clark(k): v for k, v in attrs.items()})

    parser.StartDoctypeDeclHandler = no_doctype
    parser.EntityDeclHandler = no_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: builder.end(_clark(name))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(body, True)
    except xml.parsers.expat.ExpatError as exc:
        said = xml.parsers.expat.ErrorString(exc.code)
        problem = f"body: {said} at line {exc.lineno} column {exc.offset}"
        raise SourceError("body is not valid XML", [problem]) from None
    except (LookupError, ValueError):  # an encoding expat does not know (`encoding="x-bogus"`)
        raise SourceError("body is not valid XML", ["body: unknown or invalid character encoding"]) from None
    return builder.close()


def _clark(name: str) -> str:
    """expat's ``uri}local`` as ElementTree's ``{uri}local``."""
    return "{" + name if "}" in name else name


def _text(parent: Element, name: str) -> str | None:
    child = parent.find(f"{{{OUTBOUND}}}{name}")
    text = (child.text or "").strip() if child is not None else ""
    return text or None


def _instance(url: str | None) -> str | None:
    """``https://acme.my.salesforce.com`` from the API URL (``na1-api`` hosts drop ``-api``)."""
    link = http_url(url)
    if not link:
        return None
    parts = urlsplit(link)
    host = parts.hostname or ""
    first, dot, rest = host.partition(".")
    if first.endswith("-api"):
        host = first.removesuffix("-api") + dot + rest
    return f"{parts.scheme}://{host}" if host else None


def read_message(root: Element) -> Message:
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SourceError("not a SOAP message", ["Envelope: a SOAP 1.1 envelope is required"])
    notifications = root.find(f"{{{SOAP_ENV}}}Body/{{{OUTBOUND}}}notifications")
    if notifications is None:
        raise SourceError("not a Salesforce outbound message", ["Body.notifications: field required"])
    org = _text(notifications, "OrganizationId")
    if not org:
        problem = ["notifications.OrganizationId: field required"]
        raise SourceError("not a Salesforce outbound message", problem)
    records = []
    items = notifications.findall(f"{{{OUTBOUND}}}Notification")
    if not items:
        raise SourceError("not a Salesforce outbound message", ["notifications.Notification: field required"])
    for index, item in enumerate(items):
        where = f"notifications.Notification[{index}]"
        nid = _text(item, "Id")
        sobject = item.find(f"{{{OUTBOUND}}}sObject")
        if not nid:
            raise SourceError("not a Salesforce outbound message", [f"{where}.Id: field required"])
        if sobject is None:
            raise SourceError("not a Salesforce outbound message", [f"{where}.sObject: field required"])
        kind = sobject.get(f"{{{XSI}}}type") or "sObject"
        record = Record(nid, short(kind.rpartition(":")[2], 80), None)
        for child in sobject:
            name = child.tag.rpartition("}")[2]
            value = (child.text or "").strip()
            if child.get(f"{{{XSI}}}nil") == "true" or not value or len(child):
                continue
            if name == "Id":
                record.record_id = short(value, 40)
            elif len(record.fields) < MAX_FIELDS:
                record.fields.append((short(name, 80), short(value, 300)))
        records.append(record)
    url = _text(notifications, "EnterpriseUrl") or _text(notifications, "PartnerUrl")
    return Message(org, _text(notifications, "ActionId"), _instance(url), records)


def same_org(expected: str, presented: str) -> bool:
    """15- and 18-character ids name the same org when their first 15 characters match."""
    return hmac.compare_digest(expected.strip()[:15].encode(), presented.strip()[:15].encode())


def fault(status: int, message: str, detail: object = None) -> Reply:
    code = "soapenv:Client" if status < 500 else "soapenv:Server"
    said = message
    if isinstance(detail, list) and detail:
        said += ": " + "; ".join(str(d) for d in detail)
    elif detail:
        said += f": {detail}"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>{code}</faultcode><faultstring>{xml_escape(short(said, 1000))}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Reply(status, body.encode("utf-8"), "text/xml")


class SalesforceSource:
    name = "salesforce"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = XML_TYPES

    def answer(self, reply: Reply) -> Reply:
        """The acknowledgement for a kept post, a SOAP fault (same status) for anything else."""
        payload = reply.json() if reply.body and reply.mimetype == "application/json" else None
        if 200 <= reply.status < 300:  # the pipeline's 2xx is always a post it kept (or had already)
            return Reply(200, ACK, "text/xml")
        if isinstance(payload, dict):
            shaped = fault(reply.status, str(payload.get("error") or "refused"), payload.get("detail"))
        else:
            shaped = fault(reply.status, "refused")
        return Reply(shaped.status, shaped.body, shaped.mimetype, reply.headers)  # Retry-After stays

    def detect(self, req: Incoming) -> bool:
        return req.content_type in XML_TYPES and OUTBOUND.encode() in req.body[:4096]

    def parse(self, req: Incoming) -> Message:
        if req.content_type not in XML_TYPES:
            raise SourceError("not a SOAP message", ["Content-Type: text/xml expected"])
        return read_message(parse_xml(req.body))

    def build(self, message: Message, req: Incoming, ctx: BuildContext) -> Notice:
        from shared.cards.builders import Status
        from shared.incoming.auth import AuthError

        expected = str((ctx.settings or {}).get("organization_id") or "")
        if not expected:
            raise AuthError("the route has no organization_id setting")
        if not same_org(expected, message.organization_id):
            raise AuthError("OrganizationId is not the route's organization")
        cards: list[Card] = []
        shown = message.records[:MAX_CARDS]
        for number, record in enumerate(shown, start=1):
            values = dict(record.fields)
            name = next((values[k] for k in NAME_FIELDS if values.get(k)), None)
            title = f"{record.sobject_type}: {name or record.record_id or record.notification_id}"
            subtitle = f"{record.sobject_type} {record.record_id}" if record.record_id else None
            card = new_card(title, Status.ACCENT, subtitle)
            if record.fields:
                card.facts(record.fields)
            rest = len(message.records) - len(shown)
            if number == len(shown) and rest > 0:
                card.text(f"+{rest} more records in this outbound message")
            if message.instance and record.record_id:
                card.button("Open in Salesforce", f"{message.instance}/{record.record_id}")
            cards.append(ctx.finish(card, Status.ACCENT))
        first = message.records[0]
        kinds = sorted({r.sobject_type for r in message.records})
        ids = sorted(r.notification_id for r in message.records)
        return Notice(
            cards=cards,
            summary=Summary(
                title=f"{first.sobject_type} changed" if len(ids) == 1 else f"{len(ids)} records changed",
                severity="accent",
                state="updated",
                source=self.name,
                url=f"{message.instance}/{first.record_id}" if message.instance and first.record_id else None,
            ),
            dedupe_id=f"salesforce:{content_hash(message.organization_id[:15], *ids)}",
            event=f"{kinds[0].lower()}.notified" if len(kinds) == 1 else "records.notified",
        )


SOURCES = {"salesforce": SalesforceSource()}
