"""Pure logic of the dev host: route templates, schedules, settings files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tools.devhost import ConfigError, Schedule, apply_settings, compile_route, read_settings_file

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("route", "path", "expected"),
    [
        ("items/{id:int}", "/api/items/5", {"id": "5"}),
        ("items/{id:int}", "/api/items/-5", {"id": "-5"}),
        ("items/{id:int}", "/api/items/2147483648", None),
        ("items/{id:long}", "/api/items/2147483648", {"id": "2147483648"}),
        ("a/{x?}", "/api/a", {}),
        ("a/{x?}", "/api/a/1", {"x": "1"}),
        ("a/{x=dflt}", "/api/a", {"x": "dflt"}),
        ("a/{x?}/{y?}", "/api/a/1/2", {"x": "1", "y": "2"}),
        ("a/{x?}/{y?}", "/api/a/1", {"x": "1"}),
        ("a/{*rest}", "/api/a/b/c", {"rest": "b/c"}),
        ("a/{*rest}", "/api/a", {}),
        ("f/{name}.{ext}", "/api/f/report.pdf", {"name": "report", "ext": "pdf"}),
        ("g/{id:guid}", "/api/g/6f1c2f7e-4b1a-4c55-9a0e-2f6f1b8e0c11", {"id": "6f1c2f7e-4b1a-4c55-9a0e-2f6f1b8e0c11"}),
        ("g/{id:guid}", "/api/g/nope", None),
        ("b/{flag:bool}", "/api/b/TRUE", {"flag": "TRUE"}),
        ("r/{code:regex(^[a-z]{{2}}$)}", "/api/r/ab", None),
        ("r/{code:regex(^[a-z]+$)}", "/api/r/AbC", {"code": "AbC"}),
        ("r/{code:regex(^[a-z]+$)}", "/api/r/a1", None),
        ("l/{s:minlength(2):maxlength(3)}", "/api/l/abc", {"s": "abc"}),
        ("l/{s:minlength(2):maxlength(3)}", "/api/l/abcd", None),
        ("n/{v:min(3)}", "/api/n/2", None),
        ("Mixed/Case", "/API/mixed/CASE", {}),
        ("enc/{v}", "/api/enc/a%20b", {"v": "a b"}),
        ("x", "/api/x/", {}),
        ("x", "/api/xy", None),
    ],
)
def test_route_templates(route: str, path: str, expected: dict[str, str] | None) -> None:
    assert compile_route("api", route).match(path) == expected


@pytest.mark.parametrize(
    ("route", "problem"),
    [
        ("a/{id:nope}", "unknown route constraint 'nope'"),
        ("a/{*rest}/b", "catch-all"),
        ("a/{x?}/b", "optional parameter before"),
        ("a/{x}/{X}", "repeat"),
        ("a/{x", "unbalanced"),
        ("a/{n:range(1)}", "takes 2 arguments"),
    ],
)
def test_bad_route_templates(route: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        compile_route("api", route)


def test_route_precedence_literal_before_parameter() -> None:
    literal = compile_route("api", "items/new")
    constrained = compile_route("api", "items/{id:int}")
    plain = compile_route("api", "items/{name}")
    catch_all = compile_route("api", "items/{*rest}")
    ordered = sorted([catch_all, plain, literal, constrained], key=lambda r: r.precedence)
    assert ordered == [literal, constrained, plain, catch_all]


def test_ncrontab_seconds_first() -> None:
    schedule = Schedule("30 */5 * * * *")
    start = datetime(2024, 1, 1, 10, 2, 0, tzinfo=UTC)
    assert schedule.next_after(start) == datetime(2024, 1, 1, 10, 5, 30, tzinfo=UTC)
    assert Schedule("*/1 * * * * *").next_after(start) == datetime(2024, 1, 1, 10, 2, 1, tzinfo=UTC)


def test_timespan_schedule_and_bad_schedules() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert Schedule("00:10:00").next_after(start) == datetime(2024, 1, 1, 0, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="6"):
        Schedule("*/5 * * * *")
    with pytest.raises(ValueError, match="not valid"):
        Schedule("0 0 25 * * *")


def test_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": {"A": "1", "B": 2, "C": True, "D": None}}))
    assert read_settings_file(path) == {"A": "1", "B": "2", "C": "true"}
    path.write_text('{"Values": ')
    with pytest.raises(ConfigError, match="invalid JSON"):
        read_settings_file(path)
    path.write_text(json.dumps({"IsEncrypted": True, "Values": {}}))
    with pytest.raises(ConfigError, match="IsEncrypted"):
        read_settings_file(path)


def test_environment_wins_over_settings() -> None:
    env = {"KEEP": "env"}
    applied = apply_settings({"KEEP": "file", "NEW": "file"}, env)
    assert env == {"KEEP": "env", "NEW": "file"}
    assert applied == {"NEW": "file"}
