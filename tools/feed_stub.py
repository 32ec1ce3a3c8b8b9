"""Loopback stand-ins for what digests read: RSS/Atom/JSON documents and the Open-Meteo APIs.

Development only (tests, the demo, the benchmark). Documents are put in memory (`put`) or written
as files into `folder` and served under `/feeds/<name>` with ETag and Last-Modified, answering
conditional GETs with 304; `fail`, `redirect` and `drip` (a server that stalls) stand for
broken feeds. `/v1/search` and `/v1/forecast` answer in the documented shape of
Open-Meteo's geocoding and forecast APIs for the places registered with `place`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


def rss(title: str, items: list[dict[str, str]], link: str = "https://example.org/") -> str:
    """A small RSS 2.0 document; items take title, link, guid, pubDate (RFC 822), description."""
    from xml.sax.saxutils import escape

    head = f"<title>{escape(title)}</title><link>{escape(link)}</link>"
    parts = [head + f"<description>{escape(title)}</description>"]
    for item in items:
        fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in item.items())
        parts.append(f"<item>{fields}</item>")
    channel = "".join(parts)
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>{channel}</channel></rss>'


def atom(title: str, entries: list[dict[str, str]], link: str = "https://example.org/") -> str:
    """A small Atom document; entries take id, title, link, updated (ISO 8601), summary."""
    from xml.sax.saxutils import escape, quoteattr

    parts = [f"<title>{escape(title)}</title><id>urn:feed:{escape(title)}</id><link href={quoteattr(link)}/>"]
    for e in entries:
        body = f"<id>{escape(e['id'])}</id><title>{escape(e.get('title', ''))}</title>"
        if e.get("link"):
            body += f"<link href={quoteattr(e['link'])}/>"
        if e.get("updated"):
            body += f"<updated>{escape(e['updated'])}</updated>"
        if e.get("summary"):
            body += f"<summary>{escape(e['summary'])}</summary>"
        parts.append(f"<entry>{body}</entry>")
    return f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">{"".join(parts)}</feed>'


class _Doc:
    def __init__(self, body: bytes, content_type: str, modified: float) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:16] + '"'
        self.modified = formatdate(modified, usegmt=True)


class FeedStub:
    """The server; `start()` binds 127.0.0.1 on a free port and serves from a background thread."""

    def __init__(self, folder: Path | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder
        self.host = host
        self._port = port
        self._docs: dict[str, _Doc] = {}
        self._faults: dict[str, tuple[int, int]] = {}
        self._redirects: dict[str, str] = {}
        self._drips: dict[str, tuple[int, float]] = {}
        self.places: dict[str, dict[str, Any]] = {}
        self.forecasts: dict[tuple[float, float], dict[str, Any]] = {}
        self.hits: Counter[str] = Counter()
        self.hosts: list[str] = []  # the Host header of every request, in order
        self.not_modified: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- content --

    def put(self, name: str, body: str | bytes, content_type: str = "application/rss+xml") -> str:
        """Serve `body` at /feeds/<name> (a new version: new ETag); returns its URL."""
        import time

        raw = body.encode("utf-8") if isinstance(body, str) else body
        with self.lock:
            previous = self._docs.get(name)
            stamp = time.time()
            if previous is not None and previous.body != raw:
                stamp = max(stamp, parsedate_to_datetime(previous.modified).timestamp() + 1)
            self._docs[name] = _Doc(raw, content_type, stamp)
        return self.url_for(name)

    def fail(self, name: str, status: int = 500, count: int = 1_000_000) -> str:
        with self.lock:
            self._faults[name] = (status, count)
        return self.url_for(name)

    def drip(self, name: str, size: int = 100, interval: float = 0.2) -> str:
        """Serve `size` bytes at /feeds/<name>, one every `interval` seconds (a stalling server)."""
        with self.lock:
            self._drips[name] = (size, interval)
        return self.url_for(name)

    def redirect(self, name: str, location: str) -> str:
        with self.lock:
            self._redirects[name] = location
        return self.url_for(name)

    def place(
        self,
        name: str,
        latitude: float,
        longitude: float,
        *,
        country: str = "",
        timezone: str = "UTC",
        t_min: float = 4.0,
        t_max: float = 12.5,
        code: int = 61,
        rain: float = 3.2,
        chance: int = 80,
    ) -> None:
        """Register a place for geocoding and its forecast for today."""
        with self.lock:
            self.places[name.lower()] = {
                "id": len(self.places) + 1,
                "name": name,
                "latitude": latitude,
                "longitude": longitude,
                "elevation": 40.0,
                "feature_code": "PPLC",
                "country_code": country[:2].upper(),
                "timezone": timezone,
                "country": country,
                "admin1": "",
            }
            self.forecasts[(round(latitude, 2), round(longitude, 2))] = {
                "t_min": t_min,
                "t_max": t_max,
                "code": code,
                "rain": rain,
                "chance": chance,
            }

    def reset(self) -> None:
        with self.lock:
            self._docs.clear()
            self._faults.clear()
            self._redirects.clear()
            self._drips.clear()
            self.hits.clear()
            self.not_modified.clear()

    # -- addresses --

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FeedStub is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url_for(self, name: str) -> str:
        return f"{self.url}/feeds/{name}"

    @property
    def forecast_url(self) -> str:
        return f"{self.url}/v1/forecast"

    @property
    def geocoding_url(self) -> str:
        return f"{self.url}/v1/search"

    # -- lifecycle --

    def start(self) -> FeedStub:
        stub = self

        class Handler(_Handler):
            owner = stub

        self._server = ThreadingHTTPServer((self.host, self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="feed-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> FeedStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lookups used by the handler --

    def doc(self, name: str) -> _Doc | None:
        with self.lock:
            found = self._docs.get(name)
        if found is None and self.folder is not None:
            path = (self.folder / name).resolve()
            if path.is_file() and self.folder.resolve() in path.parents:
                kind = "application/atom+xml" if name.endswith(".atom") else "application/rss+xml"
                if name.endswith(".json"):
                    kind = "application/json"
                found = _Doc(path.read_bytes(), kind, path.stat().st_mtime)
        return found

    def take_fault(self, name: str) -> int | None:
        with self.lock:
            fault = self._faults.get(name)
            if fault is None:
                return None
            status, count = fault
            if count <= 1:
                del self._faults[name]
            else:
                self._faults[name] = (status, count - 1)
            return status


class _Handler(BaseHTTPRequestHandler):
    owner: FeedStub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(
        self, status: int, body: bytes = b"", content_type: str = "application/json", **headers: str
    ) -> None:
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode("utf-8"))

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        with self.owner.lock:
            self.owner.hits[path] += 1
            self.owner.hosts.append(self.headers.get("Host", ""))
        if path == "/v1/search":
            return self._search(query)
        if path == "/v1/forecast":
            return self._forecast(query)
        if path.startswith("/feeds/"):
            return self._feed(path[len("/feeds/") :])
        self._json(404, {"error": True, "reason": "Not found"})

    do_HEAD = do_GET

    def _feed(self, name: str) -> None:
        status = self.owner.take_fault(name)
        if status is not None:
            return self._send(status, b"broken", "text/plain")
        with self.owner.lock:
            location = self.owner._redirects.get(name)
            drip = self.owner._drips.get(name)
        if drip is not None:
            return self._drip(*drip)
        if location is not None:
            return self._send(302, b"", "text/plain", Location=location)
        doc = self.owner.doc(name)
        if doc is None:
            return self._send(404, b"no such feed", "text/plain")
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        fresh = inm == doc.etag if inm is not None else (ims is not None and ims == doc.modified)
        if fresh:
            with self.owner.lock:
                self.owner.not_modified[name] += 1
            return self._send(304, b"", ETag=doc.etag, Last_Modified=doc.modified)
        self._send(200, doc.body, doc.content_type, ETag=doc.etag, Last_Modified=doc.modified)

    def _drip(self, size: int, interval: float) -> None:
        import time

        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        try:
            for _ in range(size):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass  # the client gave up, as it should

    def _search(self, query: dict[str, str]) -> None:
        name = query.get("name", "")
        if len(name) < 2:
            reason = "Parameter 'name' must have at least 2 characters"
            return self._json(400, {"error": True, "reason": reason})
        place = self.owner.places.get(name.lower())
        out: dict[str, Any] = {"generationtime_ms": 0.5}
        if place is not None:
            out["results"] = [place]
        self._json(200, out)

    def _forecast(self, query: dict[str, str]) -> None:
        try:
            lat, lon = float(query["latitude"]), float(query["longitude"])
        except (KeyError, ValueError):
            reason = "Parameter 'latitude' and 'longitude' are required"
            return self._json(400, {"error": True, "reason": reason})
        fc = self.owner.forecasts.get((round(lat, 2), round(lon, 2)))
        if fc is None:
            fc = {"t_min": 10.0, "t_max": 20.0, "code": 1, "rain": 0.0, "chance": 5}
        imperial = query.get("temperature_unit") == "fahrenheit"

        def temp(c: float) -> float:
            return round(c * 9 / 5 + 32, 1) if imperial else c

        rain = round(fc["rain"] / 25.4, 2) if query.get("precipitation_unit") == "inch" else fc["rain"]
        self._json(
            200,
            {
                "latitude": lat,
                "longitude": lon,
                "generationtime_ms": 0.1,
                "utc_offset_seconds": 0,
                "timezone": query.get("timezone", "GMT"),
                "timezone_abbreviation": "GMT",
                "elevation": 40.0,
                "daily_units": {
                    "time": "iso8601",
                    "weather_code": "wmo code",
                    "temperature_2m_max": "°F" if imperial else "°C",
                    "temperature_2m_min": "°F" if imperial else "°C",
                    "precipitation_sum": "inch" if query.get("precipitation_unit") == "inch" else "mm",
                    "precipitation_probability_max": "%",
                },
                "daily": {
                    "time": ["2025-01-15"],
                    "weather_code": [fc["code"]],
                    "temperature_2m_max": [temp(fc["t_max"])],
                    "temperature_2m_min": [temp(fc["t_min"])],
                    "precipitation_sum": [rain],
                    "precipitation_probability_max": [fc["chance"]],
                },
            },
        )
