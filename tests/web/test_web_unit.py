"""shared.web: the one HTTP layer of both HTTP functions (no process needed)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from shared import web

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_error_bodies_and_unavailable() -> None:
    assert web.error(401, "unauthorized").json() == {"error": "unauthorized"}
    bad = web.error(400, "body is not valid JSON", ["body: x"])
    assert (bad.status, bad.mimetype, bad.json()) == (400, "application/json", {"error": "body is not valid JSON", "detail": ["body: x"]})
    assert web.json_reply(202, {"text": "Grüße"}).body == '{"text":"Grüße"}'.encode()
    down = web.unavailable()
    assert down.status == 503 and down.headers == {"Retry-After": str(web.RETRY_AFTER_SECONDS)}
    assert down.json()["error"].startswith("storage is unavailable")
    assert web.unavailable("busy, retry later", 10).headers["Retry-After"] == "10"
    assert web.Reply(204).json() is None


def test_body_limit_counts_declared_and_actual_size() -> None:
    limit = web.MAX_BODY_BYTES
    assert not web.over_limit(None, b"x" * limit) and web.over_limit(None, b"x" * (limit + 1))
    assert web.over_limit(str(limit + 1), b"") and not web.over_limit(str(limit), b"")
    assert not web.over_limit("not a number", b"{}") and not web.over_limit(" -5 ", b"{}")


def test_log_failure_names_type_and_place_never_the_text(caplog: pytest.LogCaptureFixture) -> None:
    def leaky() -> None:
        raise ValueError("token=s3cr3t")

    try:
        leaky()
    except ValueError as exc:
        with caplog.at_level(logging.ERROR):
            web.log_failure(logging.getLogger("test.web"), "command failed", exc)
    (record,) = caplog.records
    assert record.getMessage().startswith("command failed: ValueError at test_web_unit.py:")
    assert "in leaky < test_web_unit.py:" in record.getMessage()
    assert "s3cr3t" not in caplog.text and record.exc_info is None


def test_http_response_carries_status_headers_and_body() -> None:
    response = web.http_response(web.unavailable())
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert response.mimetype == "application/json" and response.get_body().startswith(b'{"error"')


def test_the_bot_cold_start_stays_on_the_standard_library() -> None:
    """Teams gives the bot 5 s: its handler and the HTTP layer must not pull in pydantic or the SDKs."""
    code = (
        "import sys, shared.web, shared.outgoing.handler;"
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'azure', 'shared.store', 'shared.cards'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
