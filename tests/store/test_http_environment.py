"""The SDK client reads proxies and the CA bundle from the environment once, not on every call."""

from __future__ import annotations

from typing import Any

import pytest

from shared.idempotency import Scope
from shared.store import Store, StoreUnavailable
from shared.store.account import Connection, http_environment
from tests.conftest import unique
from tools.stack import free_port

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture
def clean_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*PROXY_VARIABLES, "ALL_PROXY", "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.unit
def test_http_environment_honours_proxies_no_proxy_and_ca_bundle(clean_proxies: pytest.MonkeyPatch) -> None:
    url = "https://acct.table.core.windows.net"
    assert http_environment(url) == {}
    clean_proxies.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    clean_proxies.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    assert http_environment(url) == {
        "proxies": {"https": "http://proxy.example:3128"},
        "connection_verify": "/etc/ssl/corp.pem",
    }
    clean_proxies.setenv("NO_PROXY", ".core.windows.net")
    assert http_environment(url) == {"connection_verify": "/etc/ssl/corp.pem"}


def test_calls_do_not_scan_the_environment(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import requests.sessions

    scans: list[str] = []

    def spy(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            scans.append(name)
            return real(*args, **kwargs)

        return call

    for name in ("get_environ_proxies", "get_netrc_auth"):
        monkeypatch.setattr(requests.sessions, name, spy(name, getattr(requests.sessions, name)))
    keys = Scope(store, "s")
    keys.acquire("k", 60)
    keys.find("k")
    assert store.reads["dedupe"] == 1 and scans == []


def test_a_proxy_from_the_environment_still_applies(azurite: str, clean_proxies: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY pointing nowhere breaks the store; NO_PROXY for the host makes it work again."""
    clean_proxies.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    proxied = Store(Connection(connection_string=azurite), unique("px"), 2.0)
    with pytest.raises(StoreUnavailable):
        proxied.teams.find("x")
    clean_proxies.setenv("NO_PROXY", "127.0.0.1")
    direct = Store(Connection(connection_string=azurite), unique("px"), 2.0)
    assert direct.teams.find("x") is None
