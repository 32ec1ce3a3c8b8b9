"""What a person may change in a channel, once, for every way of asking (the bot, the page).

The bot's commands (`shared.outgoing.commands`) and the configuration page (`shared.configure`)
parse their input their own way and call these actions, so caps, checks and attribution are the
same whichever way a change comes: `subscriptions` (add, edit, pause, remove), `link` (connect a
Workflows URL), `changes` (the card each change posts and the list `status` shows).

Errors are `ActionError`: plain text (callers escape it for Markdown or HTML) naming the form
field it is about, so the page can put it next to that field.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ActionError", "Actor"]


class ActionError(Exception):
    """A person's mistake, safe to show them (no secret, user text cut short)."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


@dataclass(frozen=True)
class Actor:
    """Who asked: shown in the channel's change card and kept in the change log."""

    name: str
    aad_object_id: str | None = None
    #: "bot" or "page"
    via: str = "bot"
