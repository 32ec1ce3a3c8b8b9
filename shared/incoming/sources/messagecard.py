"""Legacy Office 365 connector senders: the MessageCard body they used to post to an old
``*.webhook.office.com`` URL, converted to an Adaptive Card. They expect ``200`` with body ``1``.

Only the route URL changes for such a sender; a bare ``{"text": "..."}`` is a MessageCard too.
"""

from __future__ import annotations

from typing import Any

from shared.incoming.sources.base import (
    BuildContext,
    Card,
    Incoming,
    Notice,
    SourceError,
    Summary,
    content_hash,
    first_line,
    short,
)


class MessageCardSource:
    name = "messagecard"
    legacy_reply = True
    # Old scripts often post with `curl -d '{...}'` and no Content-Type: curl then says it is a form.
    extra_content_types: tuple[str, ...] = ("application/x-www-form-urlencoded",)

    def detect(self, req: Incoming) -> bool:
        data = req.data
        if not isinstance(data, dict):
            return False
        if str(data.get("@type", "")).lower() == "messagecard":
            return True
        return isinstance(data.get("text"), str) and set(data) <= {"text", "title", "summary", "themeColor"}

    def parse(self, req: Incoming) -> Any:
        from pydantic import ValidationError

        from shared.cards.messagecard import MessageCard
        from shared.incoming.sources.base import validation_detail

        data = req.data
        if not isinstance(data, dict):
            raise SourceError("not a valid MessageCard", ["body: must be a JSON object"])
        kind = data.get("@type")
        if kind is not None and str(kind).lower() != "messagecard":
            raise SourceError("not a valid MessageCard", ["@type: must be MessageCard"])
        if not (data.get("text") or data.get("summary") or data.get("sections") or data.get("title")):
            # The connector service answered "Summary or Text is required." to the same body.
            raise SourceError(
                "not a valid MessageCard", ["text: field required (or summary, title, sections)"]
            )
        try:
            return MessageCard.model_validate(data)
        except ValidationError as exc:
            raise SourceError("not a valid MessageCard", validation_detail(exc)) from None

    def build(self, mc: Any, req: Incoming, ctx: BuildContext) -> Notice:
        from shared.cards.limits import CardRuleError
        from shared.cards.messagecard import to_adaptive_dict
        from shared.cards.workflows import for_workflows

        try:
            # The converter builds 1.4 content with links only; this is the same guard delivery
            # applies, run here so that a card with no Workflows form is a 400, never a lost post.
            card: Card = for_workflows(to_adaptive_dict(mc))
        except CardRuleError as exc:
            raise SourceError("card cannot be shown in a Teams channel", [short(exc, 300)]) from None
        data = req.data if isinstance(req.data, dict) else {}
        title = str(data.get("title") or data.get("summary") or data.get("text") or "MessageCard")
        return Notice(
            cards=[card],
            summary=Summary(
                title=first_line(title) or "MessageCard",
                severity="default",
                source=self.name,
                text=short(data.get("text"), 300) if data.get("text") else None,
            ),
            dedupe_id=f"mc:{content_hash(req.body)}",
        )


SOURCES = {"messagecard": MessageCardSource()}
