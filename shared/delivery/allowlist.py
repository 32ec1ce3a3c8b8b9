"""Where we are willing to POST: Teams Workflows hosts only, plus what an operator adds explicitly.

A channel's URL is typed in by users, so posting to whatever it says would let anyone make the app
call internal addresses (SSRF). By default only `https` URLs on the Workflows (Power Automate /
Logic Apps) hosts of each Microsoft cloud pass. `DELIVERY_EXTRA_ALLOWED_URLS` (comma-separated URL
prefixes, compared by scheme, host, port and path segments, never by raw string) adds others; that
is how the local Teams sink is allowed. Legacy Office 365 connector URLs get their own message,
since they stopped working in 2026 and the fix is a new Workflows URL, not a setting.

The URL itself is a secret (its `sig` is the only credential), so errors and `mask()` never show
its path or query, only the host and a short hash that tells two URLs apart.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from shared import settings

EXTRA_SETTING = "DELIVERY_EXTRA_ALLOWED_URLS"

# Host suffixes of Workflows webhook URLs ("When a Teams webhook request is received"), per cloud.
WORKFLOW_HOST_SUFFIXES: tuple[str, ...] = (
    "logic.azure.com",  # public cloud, classic Logic Apps style trigger URLs
    "environment.api.powerplatform.com",  # public cloud and GCC, Power Platform style (2025 on)
    "logic.azure.us",  # US Government (GCC High, DoD)
    "environment.api.powerplatform.us",
    "environment.api.gov.powerplatform.microsoft.us",  # GCC
    "environment.api.high.powerplatform.microsoft.us",  # GCC High
    "environment.api.appsplatform.us",  # DoD
    "logic.azure.cn",  # operated by 21Vianet (China)
    "environment.api.powerplatform.partner.microsoftonline.cn",
)

# Retired Office 365 connector (incoming webhook) hosts: refused with an explanation.
LEGACY_HOST_SUFFIXES: tuple[str, ...] = ("webhook.office.com",)
LEGACY_HOSTS: frozenset[str] = frozenset(
    {"outlook.office.com", "outlook.office365.com", "webhook.office.com"}
)

LEGACY_MESSAGE = (
    "this is a legacy Office 365 connector (incoming webhook) URL; Microsoft retired those in 2026 "
    "(final rollout May 2026) and they no longer deliver. Create a Workflows URL instead: in the "
    "channel choose ••• > Workflows > 'Post to a channel when a webhook request is received' "
    "(or in Power Automate the trigger 'When a Teams webhook request is received', set to 'Anyone'), "
    "then save the URL it shows here"
)

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


class DestinationNotAllowed(ValueError):
    """The URL may not be posted to. The message never contains the URL's path or query."""


class LegacyWebhookRetired(DestinationNotAllowed):
    """A retired Office 365 connector URL; the message says how to get a Workflows URL."""


@dataclass(frozen=True)
class _Prefix:
    scheme: str
    host: str
    port: int
    path: str


def short_hash(url: str) -> str:
    """Eight hex digits that tell two secret URLs apart in logs without revealing either."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _effective_port(parts: SplitResult) -> int:
    port = parts.port  # raises ValueError for junk ports
    if port is not None:
        return port
    return 443 if parts.scheme == "https" else 80


def _split(url: str) -> SplitResult:
    if not isinstance(url, str) or not url:
        raise DestinationNotAllowed("the webhook URL is empty")
    if len(url) > 4096:
        raise DestinationNotAllowed("the webhook URL is longer than 4096 characters")
    if _FORBIDDEN_CHARS.search(url):
        raise DestinationNotAllowed("the webhook URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise DestinationNotAllowed("the webhook URL cannot be parsed (bad host or port)") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise DestinationNotAllowed("the webhook URL must start with https://")
    if not parts.hostname:
        raise DestinationNotAllowed("the webhook URL has no host")
    if "@" in parts.netloc:
        raise DestinationNotAllowed(
            "the webhook URL must not contain a user name or password (an '@' before the host)"
        )
    if parts.fragment:
        raise DestinationNotAllowed("the webhook URL must not contain a '#' fragment")
    return parts


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    # Forms that resolvers accept as IPv4 although they are not dotted quads: 2130706433, 0x7f.1, 017.0.0.1.
    return bool(re.fullmatch(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}", host))


def _parse_prefix(raw: str) -> _Prefix | None:
    try:
        parts = urlsplit(raw.strip())
        port = _effective_port(parts)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or "@" in parts.netloc:
        return None
    return _Prefix(parts.scheme.lower(), parts.hostname.lower(), port, parts.path or "/")


_prefix_cache: tuple[str, tuple[_Prefix, ...]] = ("", ())


def extra_prefixes() -> tuple[_Prefix, ...]:
    """The operator's extra allowed prefixes, parsed once per distinct setting value."""
    global _prefix_cache
    raw = settings.delivery().extra_allowed_urls
    cached_raw, cached = _prefix_cache
    if raw == cached_raw:
        return cached
    parsed = tuple(
        p for p in (_parse_prefix(item) for item in raw.split(",") if item.strip()) if p is not None
    )
    _prefix_cache = (raw, parsed)
    return parsed


def _path_within(path: str, prefix_path: str) -> bool:
    if prefix_path in {"", "/"}:
        return True
    if prefix_path.endswith("/"):
        return path.startswith(prefix_path)
    return path == prefix_path or path.startswith(prefix_path + "/")


def _matches_extra(parts: SplitResult) -> bool:
    host = (parts.hostname or "").lower()
    scheme = parts.scheme.lower()
    port = _effective_port(parts)
    path = parts.path or "/"
    return any(
        p.scheme == scheme and p.host == host and p.port == port and _path_within(path, p.path)
        for p in extra_prefixes()
    )


def _host_matches(host: str, suffixes: tuple[str, ...]) -> bool:
    return any(host.endswith("." + suffix) for suffix in suffixes)


def is_legacy(url: str) -> bool:
    """True for Office 365 connector URLs (by host, or by path for a local stand-in of one)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if host in LEGACY_HOSTS or _host_matches(host, LEGACY_HOST_SUFFIXES):
        return True
    path = parts.path.lower()
    return "/webhookb2/" in path or "/incomingwebhook/" in path or path.startswith("/webhook/")


def check_destination(url: str) -> None:
    """Raise DestinationNotAllowed unless `url` is a Workflows URL or under an explicitly allowed prefix.

    Runs before any request is made, so a bad channel never costs a connection.
    """
    parts = _split(url)
    if _matches_extra(parts):
        return
    host = (parts.hostname or "").lower()
    if host.endswith("."):
        raise DestinationNotAllowed(
            f"the host {host!r} ends with a dot; use the URL exactly as Teams shows it"
        )
    if host in LEGACY_HOSTS or _host_matches(host, LEGACY_HOST_SUFFIXES):
        raise LegacyWebhookRetired(LEGACY_MESSAGE)
    if parts.scheme.lower() != "https":
        raise DestinationNotAllowed("the webhook URL must use https")
    if _is_ip_literal(host):
        raise DestinationNotAllowed("the webhook URL must name a Workflows host, not an IP address")
    if parts.port not in (None, 443):
        raise DestinationNotAllowed("the webhook URL must not name a port other than 443")
    labels = host.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise DestinationNotAllowed(f"the host {host!r} is not a valid DNS name")
    if not _host_matches(host, WORKFLOW_HOST_SUFFIXES):
        raise DestinationNotAllowed(
            f"the host {host!r} is not a Teams Workflows host (*.logic.azure.com, "
            "*.environment.api.powerplatform.com or their government/China forms); "
            f"other destinations must be allowed explicitly with {EXTRA_SETTING}"
        )


def mask(url: str) -> str:
    """A loggable stand-in for a webhook URL: scheme, host and port, then a short hash of the whole URL."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "?").lower()
        port = parts.port
    except (ValueError, TypeError):
        return f"<unparsable URL #{short_hash(str(url))}>"
    if not re.fullmatch(r"[a-z0-9.\-:\[\]]+", host):
        host = "?"
    shown = f"{parts.scheme.lower() or '?'}://{host}" + (f":{port}" if port else "")
    return f"{shown}/…#{short_hash(url)}"


def redact(text: str, url: str) -> str:
    """Remove every secret piece of `url` (whole URL, path segments, query values) from `text`.

    Used on answers from Teams before they become an error detail: a Workflows 404 body, for
    example, names the workflow id that is part of the secret URL.
    """
    if not text:
        return text
    try:
        parts = urlsplit(url)
    except ValueError:
        return text.replace(url, "***")
    secrets = {url, parts.path, parts.query}
    # Workflow and environment ids are long; the fixed words between them are not secret.
    secrets.update(seg for seg in parts.path.split("/") if len(seg) >= 16)
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if name.lower() == "sig" or len(value) >= 16:
            secrets.add(value)
    for secret in sorted((s for s in secrets if s and s != "/"), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
