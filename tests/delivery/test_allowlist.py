"""The SSRF allowlist: only Workflows hosts by default, explicit prefixes for anything else."""

from __future__ import annotations

import pytest

from shared.delivery import allowlist
from shared.delivery.allowlist import DestinationNotAllowed, LegacyWebhookRetired, check_destination, mask

pytestmark = pytest.mark.unit

SIG = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg"
WORKFLOW = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/0123456789abcdef0123456789abcdef"
    f"/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
)
POWERPLATFORM = (
    "https://default0123456789abcdef.01.environment.api.powerplatform.com:443/powerautomate/automations/direct"
    f"/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke?api-version=1&sig={SIG}"
)


@pytest.fixture(autouse=True)
def _no_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(allowlist.EXTRA_SETTING, raising=False)


@pytest.mark.parametrize(
    "url",
    [
        WORKFLOW,
        POWERPLATFORM,
        "https://PROD-12.WestEurope.Logic.Azure.com/workflows/x/triggers/manual/paths/invoke?sig=1",
        "https://prod-01.usgovvirginia.logic.azure.us/workflows/x?sig=1",
        "https://prod-05.chinaeast2.logic.azure.cn:443/workflows/x?sig=1",
        "https://abc.01.environment.api.powerplatform.us/powerautomate/x?sig=1",
        "https://abc.01.environment.api.high.powerplatform.microsoft.us/powerautomate/x?sig=1",
        "https://abc.01.environment.api.gov.powerplatform.microsoft.us/powerautomate/x?sig=1",
        "https://abc.01.environment.api.appsplatform.us/powerautomate/x?sig=1",
        "https://abc.01.environment.api.powerplatform.partner.microsoftonline.cn/powerautomate/x?sig=1",
    ],
)
def test_workflow_hosts_pass(url: str) -> None:
    check_destination(url)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://prod-12.westeurope.logic.azure.com/workflows/x", "https"),
        ("https://x.logic.azure.com@evil.example/workflows/x", "user name"),
        ("https://user:pw@prod-1.logic.azure.com/workflows/x", "user name"),
        ("https://evil.example/?x=.logic.azure.com", "not a Teams Workflows host"),
        ("https://evil.example#.logic.azure.com", "fragment"),
        ("https://logic.azure.com/workflows/x", "not a Teams Workflows host"),
        ("https://evillogic.azure.com/workflows/x", "not a Teams Workflows host"),
        ("https://prod-1.logic.azure.com.evil.example/workflows/x", "not a Teams Workflows host"),
        ("https://prod-1.logic.azure.com./workflows/x", "ends with a dot"),
        ("https://prod-1.logic.azure.com:8443/workflows/x", "port"),
        ("https://prod-1.logic.azure.com:99999/workflows/x", "cannot be parsed"),
        ("https://127.0.0.1/workflows/x", "IP address"),
        ("https://[::1]/workflows/x", "IP address"),
        ("https://2130706433/workflows/x", "IP address"),
        ("https://0x7f.1/workflows/x", "IP address"),
        ("https://169.254.169.254/metadata", "IP address"),
        ("https://prod-1.logic.azure.com\\@evil.example/", "backslash"),
        ("https://prod-1.logic.azure.com /x", "spaces"),
        ("file:///etc/passwd", "https"),
        ("gopher://prod-1.logic.azure.com/", "https"),
        ("", "empty"),
        ("https:///workflows", "no host"),
        ("https://prod_1.logic.azure.com/x", "valid DNS name"),
        ("https://prod-1.logic.azure.com/x#frag", "fragment"),
    ],
)
def test_refused_with_reason(url: str, says: str) -> None:
    with pytest.raises(DestinationNotAllowed) as info:
        check_destination(url)
    assert says in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d/e",
        "https://CONTOSO.Webhook.Office.com/webhookb2/a@b/IncomingWebhook/c/d",
        "https://outlook.office.com/webhook/a@b/IncomingWebhook/c/d",
        "https://outlook.office365.com/webhook/a@b/IncomingWebhook/c/d",
    ],
)
def test_legacy_urls_explain_retirement(url: str) -> None:
    with pytest.raises(LegacyWebhookRetired) as info:
        check_destination(url)
    text = str(info.value)
    assert "retired" in text and "2026" in text and "Workflows" in text
    assert "IncomingWebhook" not in text and "a@b" not in text


def test_errors_never_show_path_or_query() -> None:
    for url in (
        f"https://evil.example/workflows/secretpath?sig={SIG}",
        f"http://prod-1.logic.azure.com/workflows/secretpath?sig={SIG}",
        f"https://prod-1.logic.azure.com:444/workflows/secretpath?sig={SIG}",
    ):
        with pytest.raises(DestinationNotAllowed) as info:
            check_destination(url)
        assert SIG not in str(info.value) and "secretpath" not in str(info.value)


def test_extra_prefixes_are_compared_by_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(allowlist.EXTRA_SETTING, "http://127.0.0.1:9998/, https://hooks.example.com/teams")
    check_destination("http://127.0.0.1:9998/workflows/ch1?sig=x")
    check_destination("http://127.0.0.1:9998/webhookb2/ch1")
    check_destination("https://hooks.example.com/teams/abc")
    check_destination("https://HOOKS.example.com:443/teams")
    for bad in (
        "http://127.0.0.1:99989/workflows/ch1",
        "http://127.0.0.1:9998@evil.example/workflows",
        "http://127.0.0.1:9999/workflows/ch1",
        "https://127.0.0.1:9998/workflows/ch1",
        "https://hooks.example.com/teamsX/abc",
        "https://hooks.example.com/other",
        "https://hooks.example.com.evil.example/teams/abc",
    ):
        with pytest.raises(DestinationNotAllowed):
            check_destination(bad)


def test_mask_shows_host_and_hash_only() -> None:
    masked = mask(WORKFLOW)
    assert masked.startswith("https://prod-12.westeurope.logic.azure.com:443/…#")
    assert SIG not in masked and "0123456789abcdef" not in masked and "invoke" not in masked
    assert mask(WORKFLOW) == masked and mask(WORKFLOW + "x") != masked
    # The real host is shown, never the user-info part (it may hold credentials).
    assert mask("https://user:pw@evil.example/").startswith("https://evil.example/…#")
    assert "pw" not in mask("https://user:pw@evil.example/")


def test_redact_removes_ids_from_answers() -> None:
    body = 'The workflow "0123456789abcdef0123456789abcdef" was not found; sig ' + SIG
    cleaned = allowlist.redact(body, WORKFLOW)
    assert "0123456789abcdef0123456789abcdef" not in cleaned and SIG not in cleaned
    assert "not found" in cleaned


def test_is_legacy() -> None:
    assert allowlist.is_legacy("https://contoso.webhook.office.com/webhookb2/x")
    assert allowlist.is_legacy("http://127.0.0.1:9998/webhookb2/ch1")
    assert not allowlist.is_legacy(WORKFLOW)
