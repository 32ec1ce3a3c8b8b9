"""Schedules: parsing, validation and next runs across daylight-saving changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.digest.schedule import check_cron, check_tz, describe, next_run, parse_days, parse_times

pytestmark = pytest.mark.unit
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class Sched:
    times: list[str] = field(default_factory=lambda: ["08:00"])
    days: list[int] = field(default_factory=lambda: list(range(7)))
    tz: str = "UTC"
    cron: str | None = None


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def runs(schedule: Sched, start: datetime, n: int) -> list[datetime]:
    out, t = [], start
    for _ in range(n):
        t = next_run(schedule, t)
        out.append(t)
    return out


def test_parse_times_sorts_dedupes_and_pads() -> None:
    assert parse_times("17:00, 8:00,08:00") == ["08:00", "17:00"]


@pytest.mark.parametrize("bad", ["", "8", "24:00", "12:60", "noon", "8:5"])
def test_parse_times_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_times(bad)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", [0, 1, 2, 3, 4]),
        ("mon,wed,fri", [0, 2, 4]),
        ("weekdays", [0, 1, 2, 3, 4]),
        ("daily", [0, 1, 2, 3, 4, 5, 6]),
        ("Sat-Mon", [0, 5, 6]),
        ("sunday", [6]),
    ],
)
def test_parse_days(text: str, days: list[int]) -> None:
    assert parse_days(text) == days


@pytest.mark.parametrize("bad", ["", "funday", "mon-xyz"])
def test_parse_days_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="day"):
        parse_days(bad)


def test_check_tz() -> None:
    assert check_tz("Europe/Berlin") == "Europe/Berlin"
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(ValueError, match="time zone"):
            check_tz(bad)


def test_check_cron() -> None:
    assert check_cron(" 0  8 * * 1-5 ") == "0 8 * * 1-5"
    with pytest.raises(ValueError, match="5 fields"):
        check_cron("0 */5 * * * *")
    with pytest.raises(ValueError, match="invalid"):
        check_cron("61 * * * *")


def test_next_run_is_strictly_after_and_in_utc() -> None:
    s = Sched(times=["08:00", "17:00"], tz="Europe/Berlin")
    first = next_run(s, utc(2025, 1, 15, 6, 0))  # 07:00 Berlin
    assert first == utc(2025, 1, 15, 7, 0) and first.tzinfo == UTC
    assert next_run(s, first) == utc(2025, 1, 15, 16, 0)
    assert next_run(s, datetime(2025, 1, 15, 7, 0)) == utc(2025, 1, 15, 16, 0)  # naive = UTC


def test_weekdays_skip_weekend() -> None:
    s = Sched(times=["09:00"], days=[0, 1, 2, 3, 4], tz="America/New_York")
    friday_after = datetime(2025, 1, 17, 10, 0, tzinfo=NEW_YORK)
    assert next_run(s, friday_after).astimezone(NEW_YORK) == datetime(2025, 1, 20, 9, 0, tzinfo=NEW_YORK)


def test_spring_forward_missing_time_runs_once_at_next_valid_minute() -> None:
    s = Sched(times=["02:30"], tz="Europe/Berlin")  # 2025-03-30 02:00 -> 03:00 in Berlin
    got = runs(s, utc(2025, 3, 29, 12), 3)
    assert [g.astimezone(BERLIN).strftime("%d %H:%M") for g in got] == ["30 03:00", "31 02:30", "01 02:30"]


def test_spring_forward_two_times_in_gap_run_once() -> None:
    s = Sched(times=["02:15", "02:45", "03:00"], tz="Europe/Berlin")
    got = runs(s, utc(2025, 3, 29, 23), 2)
    assert got[0] == utc(2025, 3, 30, 1, 0)  # 03:00 CEST, shared by all three
    assert got[1].astimezone(BERLIN).strftime("%d %H:%M") == "31 02:15"


def test_fall_back_ambiguous_time_runs_once_first_occurrence() -> None:
    s = Sched(times=["02:30"], tz="Europe/Berlin")  # 2025-10-26 03:00 CEST -> 02:00 CET
    got = runs(s, utc(2025, 10, 25, 12), 2)
    assert got[0] == utc(2025, 10, 26, 0, 30)  # 02:30 CEST, the first one
    assert got[1] == utc(2025, 10, 27, 1, 30)  # next day, CET
    # Asking from between the two occurrences does not give the second one.
    assert next_run(s, utc(2025, 10, 26, 0, 45)) == utc(2025, 10, 27, 1, 30)


def test_us_dst_edges() -> None:
    s = Sched(times=["02:30"], tz="America/New_York")
    spring = next_run(s, utc(2025, 3, 9, 0))  # 2025-03-09 02:00 -> 03:00 EDT
    assert spring.astimezone(NEW_YORK).strftime("%m-%d %H:%M %Z") == "03-09 03:00 EDT"
    s = Sched(times=["01:30"], tz="America/New_York")
    fall = runs(s, utc(2025, 11, 2, 0), 2)  # 01:30 happens twice on 2025-11-02
    assert fall[0] == utc(2025, 11, 2, 5, 30) and fall[1] == utc(2025, 11, 3, 6, 30)


def test_local_time_kept_across_dst() -> None:
    s = Sched(times=["08:00"], tz="Europe/Berlin")
    got = runs(s, utc(2025, 3, 28, 12), 4)
    assert {g.astimezone(BERLIN).strftime("%H:%M") for g in got} == {"08:00"}
    assert got[1] - got[0] == timedelta(hours=23)  # the short day


def test_cron_in_zone_across_dst() -> None:
    s = Sched(cron="*/30 * * * *", tz="Europe/Berlin")
    got = runs(s, utc(2025, 10, 25, 23, 0), 6)
    # 02:00 and 02:30 happen twice: each runs once (first occurrence), no duplicates.
    assert [g.strftime("%H:%M") for g in got] == ["23:30", "00:00", "00:30", "02:00", "02:30", "03:00"]
    spring = Sched(cron="30 2 * * *", tz="Europe/Berlin")
    assert next_run(spring, utc(2025, 3, 29, 12)) == utc(2025, 3, 30, 1, 0)


def test_next_run_rejects_bad_schedules() -> None:
    with pytest.raises(ValueError):
        next_run(Sched(days=[]), utc(2025, 1, 1))
    with pytest.raises(ValueError):
        next_run(Sched(tz="Nowhere/Land"), utc(2025, 1, 1))


def test_describe() -> None:
    assert describe(Sched(times=["08:00"], days=[0, 1, 2, 3, 4], tz="UTC")) == "weekdays at 08:00 (UTC)"
    assert "cron" in describe(Sched(cron="0 8 * * *"))
