"""Form bodies, bounded, and the subscription form's fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs

#: a form body longer than this is refused before parsing (the longest form is a URL and a few fields)
MAX_FORM_BYTES = 16 * 1024
MAX_FIELDS = 40
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
JSON_FIELDS = ("id", "title", "url", "summary", "time")


class FormError(ValueError):
    """The body is not a form we read (too large, wrong type, not UTF-8)."""


def parse(content_type: str, body: bytes) -> dict[str, list[str]]:
    if len(body) > MAX_FORM_BYTES:
        raise FormError(f"the form is larger than {MAX_FORM_BYTES // 1024} KB")
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise FormError("send the form as application/x-www-form-urlencoded")
    try:
        text = body.decode("utf-8")
        return parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise FormError("the form could not be read") from None


def one(form: dict[str, list[str]], name: str, limit: int = 2000) -> str:
    values = form.get(name) or [""]
    return values[0].strip()[:limit]


@dataclass
class SubscriptionForm:
    """What the add/edit form holds (kept as typed, to show it again with its errors)."""

    source: str = "weather"
    target: str = ""
    times: str = "08:00"
    days: list[str] = field(default_factory=lambda: list(DAYS))
    tz: str = "UTC"
    json_items: str = ""
    json_fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, form: dict[str, list[str]]) -> SubscriptionForm:
        return cls(
            source=one(form, "source", 20),
            target=one(form, "target"),
            times=one(form, "times", 200),
            days=[d for d in (form.get("days") or []) if d in DAYS],
            tz=one(form, "tz", 64),
            json_items=one(form, "json_items", 200),
            json_fields={k: one(form, f"json_{k}", 200) for k in JSON_FIELDS if one(form, f"json_{k}", 200)},
        )

    def days_text(self) -> str:
        return ",".join(self.days)

    def options(self) -> dict[str, object] | None:
        """The feed settings of a JSON subscription (items path, field mapping); None otherwise."""
        if self.source != "json":
            return None
        out: dict[str, object] = {}
        if self.json_items:
            out["items"] = self.json_items
        if self.json_fields:
            out["fields"] = dict(self.json_fields)
        return out
