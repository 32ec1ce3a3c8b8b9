"""A source that exists only for tests: registered for the length of one test (``REGISTRY.registered``)."""

from __future__ import annotations

from typing import Any

from shared.incoming.sources.base import BuildContext, Incoming, Notice


class ProbeSource:
    """Recognises any request carrying an ``X-Probe`` header, whatever its body."""

    name = "probe"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def detect(self, req: Incoming) -> bool:
        return bool(req.header("x-probe"))

    def parse(self, req: Incoming) -> Any:
        return req.data

    def build(self, parsed: Any, req: Incoming, ctx: BuildContext) -> Notice:
        # Only detection is under test; building would tie this stand-in to Summary's fields.
        raise NotImplementedError("the probe source is detected, never built")


SOURCES = {"probe": ProbeSource()}
