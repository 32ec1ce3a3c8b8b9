"""Shared helpers of the incoming tests: payload files, third-party fixtures, routes, posting."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
PAYLOADS = HERE / "payloads"
SHARED_FIXTURES = HERE.parents[1].parent / "shared" / "fixtures"

GITHUB_EVENTS = {
    "check_suite_completed": "check_suite",
    "issue_comment_created": "issue_comment",
    "issues_opened": "issues",
    "ping": "ping",
    "pull_request_closed": "pull_request",
    "pull_request_opened": "pull_request",
    "push": "push",
    "push_new_branch": "push",
    "release_published": "release",
    "workflow_job_completed_failure": "workflow_job",
    "workflow_run_completed": "workflow_run",
}


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def payload_json(name: str) -> Any:
    return json.loads(payload(name))


def shared_fixtures(folder: str) -> list[Path]:
    """The third-party example payloads in ../shared/fixtures/<folder>; skip when absent."""
    path = SHARED_FIXTURES / folder
    if not path.is_dir():
        pytest.skip(f"{path} is absent: third-party fixtures live in ../shared/fixtures beside the repo")
    files = sorted(path.glob("*.json"))
    if not files:
        pytest.skip(f"no fixtures in {path}")
    return files


def alertmanager_notification(alerts: int, status: str = "firing") -> dict[str, Any]:
    """A notification of `alerts` alerts built from our own payload (for size and speed checks)."""
    base = payload_json("alertmanager_firing.json")
    template = base["alerts"][0]
    base["alerts"] = []
    for i in range(alerts):
        alert = copy.deepcopy(template)
        alert["status"] = status
        alert["labels"]["instance"] = f"checkout-{i:04d}:8080"
        alert["annotations"]["description"] = f"Error ratio is {i % 50}.5% on pod {i} " + "detail " * 10
        alert["fingerprint"] = f"{i:016x}"
        base["alerts"].append(alert)
    base["status"] = status
    out: dict[str, Any] = base
    return out


#: Grafana's legacy (pre-unified-alerting) webhook body
GRAFANA_LEGACY: dict[str, Any] = {
    "title": "[Alerting] CPU",
    "ruleName": "CPU",
    "ruleUrl": "https://grafana.example.org/d/x",
    "state": "alerting",
    "message": "CPU high",
    "evalMatches": [{"value": 97.25, "metric": "cpu", "tags": None}],
    "orgId": 1,
}
