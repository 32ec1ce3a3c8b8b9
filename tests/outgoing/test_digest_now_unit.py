"""`digest <id> now` answers each outcome of the run for what it is (in process, no store)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest

from shared.digest import run as digest
from shared.digest.run import DigestResult, Outcome
from shared.outgoing.activity import parse_activity
from shared.outgoing.commands import Context, cmd_digest
from shared.store.models import Schedule
from tests.outgoing.helpers import activity

if TYPE_CHECKING:
    from shared.store import Store
    from shared.store.models import Channel

pytestmark = pytest.mark.unit

SUB = SimpleNamespace(
    id="s1", channel="ops", source="events", target="alerts", schedule=Schedule(), paused=False
)


def answer(outcome: Outcome, detail: str | None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(
        digest, "send_now", lambda store, sub_id: DigestResult(outcome, sub_id, "ops", detail)
    )
    # A unit test: only these attributes are read.
    store = cast("Store", SimpleNamespace(subscriptions=SimpleNamespace(get=lambda sub_id: SUB)))
    channel = cast("Channel", SimpleNamespace(name="ops"))
    act = parse_activity(activity("digest s1 now"))
    ctx = Context(act, act.command(), "team", lambda: store, _channel=channel, _channel_loaded=True)
    return cmd_digest(ctx)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_outcome_has_its_own_answer(outcome: Outcome, monkeypatch: pytest.MonkeyPatch) -> None:
    reply = answer(outcome, "held until 08:10 UTC" if outcome is Outcome.TAKEN else "boom", monkeypatch)
    says_sent = "sent" in reply.title.lower() and "not sent" not in reply.title.lower()
    assert says_sent == (outcome in (Outcome.SENT, Outcome.RECOVERED)), reply.title
    assert (reply.status == "warning") == (outcome in (Outcome.FAILED, Outcome.NOT_FOUND, Outcome.DEFERRED))


def test_taken_and_failed_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = answer(Outcome.TAKEN, "held until 08:10 UTC", monkeypatch)
    assert taken.title == "Digest already on its way" and "held until 08:10 UTC" in taken.paragraphs[-1]
    failed = answer(Outcome.FAILED, "delivery failed: HTTP 400", monkeypatch)
    assert failed.title == "Digest not sent" and "delivery failed: HTTP 400" in failed.paragraphs[-1]
    queued = answer(Outcome.QUEUED, None, monkeypatch)
    assert queued.title == "Digest queued" and "outbox" in queued.paragraphs[-1]
