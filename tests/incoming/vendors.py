"""The vendor sources of issue 16 (Jira, GitLab, Sentry, Datadog) on their own payloads.

One table for the HTTP tests, the render test and the gallery (tests/support/emitted.py): each
payload file under tests/incoming/payloads/<vendor>/ with the headers its sender sends beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.incoming.helpers import PAYLOADS


@dataclass(frozen=True)
class VendorPost:
    vendor: str  # the route source
    name: str  # the payload file's stem
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return PAYLOADS / self.vendor / f"{self.name}.json"

    @property
    def lower_headers(self) -> dict[str, str]:
        """As the pipeline sees them (pipeline.prepare takes lower-case names)."""
        return {k.lower(): v for k, v in self.headers.items()}

    @property
    def body(self) -> bytes:
        return self.path.read_bytes()


JIRA = [
    VendorPost(
        "jira", name, {"X-Atlassian-Webhook-Identifier": f"{1000 + i}", "X-Atlassian-Webhook-Flow": "Primary"}
    )
    for i, name in enumerate(
        (
            "issue_created",
            "issue_updated",
            "issue_resolved",
            "issue_deleted",
            "comment_created",
            "comment_updated",
            "sprint_started",
            "sprint_closed",
            "version_released",
            "worklog_created",  # no card of its own: the generic one
        )
    )
]

GITLAB_HOOKS = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request_opened": "Merge Request Hook",
    "merge_request_approved": "Merge Request Hook",
    "merge_request_merged": "Merge Request Hook",
    "pipeline_failed": "Pipeline Hook",
    "pipeline_succeeded": "Pipeline Hook",
    "job_failed": "Job Hook",
    "job_succeeded": "Job Hook",
    "issue_opened": "Issue Hook",
    "note_on_merge_request": "Note Hook",
    "release": "Release Hook",
    "deployment": "Deployment Hook",
    "wiki_page": "Wiki Page Hook",  # no card of its own: the generic one
}
GITLAB = [
    VendorPost(
        "gitlab",
        name,
        {
            "X-Gitlab-Event": hook,
            "X-Gitlab-Event-UUID": f"9cd1e2f0-2a4b-4c5d-8e6f-{i:012d}",
            "X-Gitlab-Instance": "https://gitlab.example.com",
            "User-Agent": "GitLab/17.9.0",
        },
    )
    for i, (name, hook) in enumerate(GITLAB_HOOKS.items())
]

SENTRY_RESOURCES = {
    "issue_created": "issue",
    "issue_resolved": "issue",
    "issue_assigned": "issue",
    "event_alert": "event_alert",
    "metric_alert_critical": "metric_alert",
    "metric_alert_warning": "metric_alert",
    "metric_alert_resolved": "metric_alert",
    "comment_created": "comment",  # no card of its own: the generic one
}
SENTRY = [
    VendorPost(
        "sentry",
        name,
        {
            "Sentry-Hook-Resource": resource,
            "Request-ID": f"5e3a8c1f-0b7d-4e2a-9c6b-{i:012d}",
            "Sentry-Hook-Timestamp": "1743321481",
        },
    )
    for i, (name, resource) in enumerate(SENTRY_RESOURCES.items())
]

DATADOG = [
    VendorPost("datadog", name, {"User-Agent": "Datadog Webhook"})
    for name in (
        "default_triggered",
        "default_recovered",
        "default_no_data",
        "custom_warn",
        "custom_recovered",
        "custom_triggered_own_names",
        "event_info",  # not a monitor: the plain card
    )
]

#: every vendor's posts, in the order the gallery shows them
ALL: list[VendorPost] = [*JIRA, *GITLAB, *SENTRY, *DATADOG]
