"""Pure logic of the store: key escaping, entity conversion, connection settings, secrets in reprs."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.store.account import Connection, resolve_connection
from shared.store.entities import CHUNK, from_entity, to_entity
from shared.store.errors import StoreUnavailable
from shared.store.keys import escape, unescape
from shared.store.models import Channel, OutboxItem, Route, Subscription, Team, check_token
from shared.store.root import Store, open_store, reset_cache

ROOT = Path(__file__).resolve().parents[2]
TOKEN = base64.b64encode(bytes(range(32))).decode()

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "a/b",
        "back\\slash",
        "hash#tag",
        "what?",
        "100%",
        "tab\there",
        "nl\nx",
        "\x7f\x85",
        "ümlaut ok",
        "%2F",
    ],
)
def test_escape_round_trips_and_removes_forbidden_characters(value: str) -> None:
    key = escape(value)
    assert not any(c in key for c in "/\\#?")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key)
    assert unescape(key) == value


def test_escape_keeps_readable_keys_and_rejects_empty_or_huge() -> None:
    assert escape("ops channel") == "ops channel"
    with pytest.raises(ValueError):
        escape("")
    with pytest.raises(ValueError):
        escape("x" * 600)


def test_entity_round_trip_with_json_datetimes_and_split_strings() -> None:
    big = "é" * (CHUNK * 2 + 5)
    item = OutboxItem(id="1", channel="c", message=big, attempts=3, last_error="boom")
    entity = to_entity(item, "pending", "1", skip=frozenset({"id", "dead"}))
    assert "message__1" in entity and "message__2" in entity and "dead" not in entity
    assert all(len(v) <= CHUNK for k, v in entity.items() if k.startswith("message"))
    back = from_entity(OutboxItem, entity, id="1")
    assert back.message == big and back.attempts == 3 and back.next_attempt == item.next_attempt

    sub = Subscription(channel="c", source="rss", target="https://x", cursor={"seen": ["a", "b"]})
    entity = to_entity(sub, "sub", sub.id, skip=frozenset({"id"}))
    assert isinstance(entity["cursor"], str) and isinstance(entity["schedule"], str)
    assert from_entity(Subscription, entity, id=sub.id).cursor == {"seen": ["a", "b"]}


def test_secrets_never_show_in_reprs() -> None:
    team = Team(key="t", name="T", tokens=[TOKEN])
    channel = Channel(name="c", url="https://prod.logic.azure.com/workflows/abc?sig=SECRETSIG")
    route = Route(name="r", source="generic", auth="bearer", secret="s3cr3t-value")
    for record, secret in ((team, TOKEN), (channel, "SECRETSIG"), (route, "s3cr3t-value")):
        assert secret not in repr(record) and secret not in str(record)


def test_team_tokens_must_be_base64_of_32_bytes() -> None:
    assert check_token(f"  {TOKEN}\n") == TOKEN
    for bad in ("not base64!", base64.b64encode(b"short").decode(), ""):
        with pytest.raises(ValueError):
            check_token(bad)
    with pytest.raises(ValueError):
        Team(key="t", tokens=["nope"])


def test_connection_prefers_teams_storage_then_webjobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    assert resolve_connection().setting == "AzureWebJobsStorage"
    monkeypatch.setenv("TEAMS_STORAGE__tableServiceUri", "https://acct.table.core.windows.net/")
    chosen = resolve_connection()
    assert chosen.setting == "TEAMS_STORAGE" and chosen.endpoint == "https://acct.table.core.windows.net"
    monkeypatch.setenv("TEAMS_STORAGE", "UseDevelopmentStorage=true")
    assert resolve_connection().connection_string == "UseDevelopmentStorage=true"


def test_no_connection_is_a_clear_store_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TEAMS_STORAGE", "TEAMS_STORAGE__tableServiceUri", "AzureWebJobsStorage"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(StoreUnavailable, match="TEAMS_STORAGE"):
        resolve_connection()


def test_identity_connection_builds_a_token_credential_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Azure call: only that the endpoint and DefaultAzureCredential (with the client id) are chosen."""
    from azure.identity import DefaultAzureCredential

    monkeypatch.delenv("TEAMS_STORAGE", raising=False)
    monkeypatch.setenv("TEAMS_STORAGE__tableServiceUri", "https://acct.table.core.windows.net")
    monkeypatch.setenv("TEAMS_STORAGE__clientId", "00000000-0000-0000-0000-000000000001")
    reset_cache()
    store = open_store(prefix="idt")
    service = store.service()
    assert service.url.startswith("https://acct.table.core.windows.net")
    assert isinstance(service.credential, DefaultAzureCredential)
    assert "acct.table.core.windows.net" in repr(store)
    reset_cache()


def test_connection_string_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = (
        "AccountName=a;AccountKey="
        + base64.b64encode(b"k" * 32).decode()
        + ";TableEndpoint=http://127.0.0.1:1/a;"
    )
    store = open_store(connection=secret, prefix="rep")
    assert "AccountKey" not in repr(store) and "AccountKey" not in repr(store.connection)


def test_open_store_caches_per_configuration() -> None:
    cs = "UseDevelopmentStorage=true"
    assert (
        open_store(connection=cs, prefix="a1").service().url
        == "http://127.0.0.1:10002/devstoreaccount1"
    )
    assert open_store(connection=cs, prefix="a1") is open_store(connection=cs, prefix="a1")
    assert open_store(connection=cs, prefix="a1") is not open_store(connection=cs, prefix="a2")
    with pytest.raises(ValueError):
        Store(Connection(connection_string=cs), "bad_prefix", 3.0)


def test_importing_the_package_loads_neither_azure_nor_pydantic() -> None:
    code = "import sys, shared.store; print(any(m.startswith(('azure', 'pydantic')) for m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    assert out.stdout.strip() == "False"
