"""Route filters (shared.incoming.filters): what the admin CLI stores and the pipeline applies."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from shared.incoming import filters
from shared.incoming.filters import FilterError, describe, matches, update

pytestmark = pytest.mark.unit


def passes(stored: Mapping[str, object], event: str | None, severity: str, state: str | None) -> bool:
    return matches(stored, event=event, severity=severity, state=state)


def test_every_key_must_match_and_any_value_of_a_key() -> None:
    stored = update(None, ["event=pull_request,push", "state=opened,merged"])
    assert stored == {"event": ["pull_request", "push"], "state": ["opened", "merged"]}
    assert passes(stored, "pull_request.opened", "accent", "opened")  # an event matches its actions
    assert passes(stored, "push", "accent", None) is False  # no state: a state filter drops it
    assert passes(stored, "issues.opened", "accent", "opened") is False
    assert passes({}, None, "default", None) and passes({"severity": []}, None, "default", None)
    wild = update(None, ["event=workflow_*.completed"])
    assert passes(wild, "workflow_job.completed", "good", "succeeded")
    assert passes(wild, "workflow_job.in_progress", "accent", "started") is False
    assert passes(wild, None, "attention", "firing") is False  # senders without an event


def test_routes_saved_before_the_cli_keep_working() -> None:
    old = {"events": ["push"], "statuses": ["attention", "firing"], "unknown": ["x"]}
    assert passes(old, "push", "attention", None) and passes(old, "push", "good", "firing")
    assert passes(old, "push", "good", "resolved") is False
    assert filters.normalized(old) == {"event": ["push"], "statuses": ["attention", "firing"]}
    assert update(old, ["event=release"]) == {"event": ["release"], "statuses": ["attention", "firing"]}
    assert update(old, [], clear=True) == {}


def test_update_replaces_given_keys_and_clears() -> None:
    stored = update(None, ["severity=Attention", "severity=warning,attention", "state=firing"])
    assert stored == {"severity": ["attention", "warning"], "state": ["firing"]}
    assert update(stored, ["state="]) == {"severity": ["attention", "warning"]}
    assert update(stored, ["state=resolved"], clear=True) == {"state": ["resolved"]}
    assert describe(stored) == "severity=attention,warning state=firing" and describe({}) == ""


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("severity=critical", "unknown severity 'critical': use good, warning, attention, accent, default"),
        ("state=alerting", "unknown state 'alerting': use firing, resolved"),
        ("color=red", "unknown filter 'color'"),
        ("severity", "KEY=VALUE"),
        ("=push", "KEY=VALUE"),
        ("event=push;rm", "not allowed"),
        ("event=" + ",".join(f"e{i}" for i in range(21)), "at most 20"),
    ],
)
def test_bad_filters_say_what_is_allowed(spec: str, says: str) -> None:
    with pytest.raises(FilterError) as info:
        update(None, [spec])
    assert says in str(info.value)
