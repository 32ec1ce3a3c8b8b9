"""Incoming sources: one module per sender kind, listed in ``REGISTRY`` below.

Adding a source (docs/contracts.md, "Adding a source / a feed"):

1. write ``shared/incoming/sources/<module>.py`` with a class implementing ``base.Source`` and
   ``SOURCES = {"<kind>": YourSource()}`` at the end (one module may provide several kinds:
   ``generic`` provides ``generic`` and ``text``);
2. add a row ``"<kind>": Row("shared.incoming.sources.<module>")`` to ``REGISTRY``, at its place
   in the detection order (see below);
3. add the kind to ``shared.store.models.ROUTE_SOURCES`` (the admin CLI offers those);
   ``tests/test_plugins.py`` fails until the module is registered and provides the kind.

Route source ``auto`` asks each source's ``detect`` in the table's order and takes the first that
says yes: sources keyed on a header or a payload shape first, then ``text`` (any ``text/plain``
body), then the catch-all ``generic`` (``last=True``: it recognises everything, so it stays after
sources registered later). Modules are imported on first use, which keeps Jinja2 and the other
sources off the cold-start path of a route that does not need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.plugins import Registry, Row, UnknownKind

if TYPE_CHECKING:
    from shared.incoming.sources.base import Incoming, Source

__all__ = ["HELPERS", "REGISTRY", "UnknownSource", "detect", "get", "kinds"]

_HERE = "shared.incoming.sources."

#: kind -> module, in detection order for ``auto``
REGISTRY: Registry[Source, Row] = Registry(
    "source",
    "SOURCES",
    {
        "github": Row(_HERE + "github"),  # the X-GitHub-Event header
        "jira": Row(_HERE + "jira"),  # X-Atlassian-Webhook-Identifier, or a body with webhookEvent
        "gitlab": Row(_HERE + "gitlab"),  # the X-Gitlab-Event header
        "sentry": Row(_HERE + "sentry"),  # the Sentry-Hook-Resource header
        "datadog": Row(_HERE + "datadog"),  # alert_transition, or the default payload's event_type+title+org
        "azure_devops": Row(_HERE + "azure_devops"),
        "grafana": Row(_HERE + "grafana"),  # before alertmanager: Grafana's alerts look alike
        "alertmanager": Row(_HERE + "alertmanager"),
        "jenkins": Row(_HERE + "jenkins"),  # {name, build: {number, phase}}
        "sharepoint": Row(_HERE + "sharepoint"),  # {value: [{subscriptionId, resource}]}
        "trello": Row(_HERE + "trello"),  # {action: {type, data}, model}
        "salesforce": Row(_HERE + "salesforce"),  # text/xml, the outbound-message namespace
        "messagecard": Row(_HERE + "messagecard"),
        "adaptivecard": Row(_HERE + "adaptivecard"),
        "text": Row(_HERE + "generic"),  # any text/plain body
        "generic": Row(_HERE + "generic", last=True),  # recognises everything
    },
)
#: modules in this folder that are not sources (the registry test skips them)
HELPERS = frozenset({"base"})


class UnknownSource(UnknownKind):
    """The route names a source kind that no module provides."""


def get(kind: str) -> Source:
    """The source for a route's ``source`` value (``azure-devops`` and ``azure_devops`` alike)."""
    try:
        return REGISTRY.get((kind or "").strip().lower().replace("-", "_"))
    except UnknownKind:
        raise UnknownSource(kind) from None


def kinds() -> list[str]:
    """Every source kind, in detection order (for the admin CLI and docs)."""
    return list(REGISTRY.kinds())


def detect(req: Incoming) -> Source:
    """The first source that recognises the request (route source ``auto``)."""
    for kind in REGISTRY.kinds():
        source = REGISTRY.get(kind)
        if source.detect(req):
            return source
    return get("generic")
