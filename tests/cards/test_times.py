"""Times on cards: one helper turns senders' ISO 8601 into Teams' {{DATE}}/{{TIME}} functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.cards import times

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "stamp"),
    [
        ("2018-03-07T06:33:21.873077559-05:00", "2018-03-07T11:33:21Z"),  # Alertmanager: nanoseconds
        ("2021-10-12T09:51:03.157076+02:00", "2021-10-12T07:51:03Z"),  # Grafana
        ("2016-05-02T19:00:39.5893296Z", "2016-05-02T19:00:39Z"),  # Azure DevOps: 7 digits
        ("2015-04-07T18:04:06.83Z", "2015-04-07T18:04:06Z"),
        ("2014-07-15T16:48:44", "2014-07-15T16:48:44Z"),  # naive: UTC
        ("2020-01-01 10:00+0530", "2020-01-01T04:30:00Z"),
        ("2020-01-01T10:00:00+05", "2020-01-01T05:00:00Z"),
        ("2026-03-01t11:00:00z", "2026-03-01T11:00:00Z"),
        (datetime(2025, 3, 30, 1, 30, tzinfo=timezone(timedelta(hours=2))), "2025-03-29T23:30:00Z"),
    ],
)
def test_rfc3339_in_utc_without_fractions(value: str | datetime, stamp: str) -> None:
    assert times.rfc3339(value) == stamp
    assert times.local(value) == f"{{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}}"


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00", "nope", "2020-13-01T00:00:00Z", "", None, "12:00", "2020-01-01"]
)
def test_not_a_time(value: str | None) -> None:
    assert times.rfc3339(value) is None and times.local(value) is None
    if value is not None:
        assert times.shown(value) == value and times.shown(value, "n/a") == "n/a"


def test_function_syntax_is_strict() -> None:
    """Upper case, no spaces inside the braces or brackets: else Teams shows the raw text."""
    text = times.local(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) or ""
    assert text == "{{DATE(2025-01-02T03:04:05Z, SHORT)}} {{TIME(2025-01-02T03:04:05Z)}}"
    assert "{{ " not in text and "( " not in text
