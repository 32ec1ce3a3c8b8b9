"""Incoming proxy: in-process processing time per payload, and HTTP throughput through the dev host.

Targets (issue 5):

- in process (authenticate, parse, enrich, build, serialise; no network) <= 2 ms median for an
  Alertmanager notification of 10 alerts and for each GitHub payload; printed next to the floor
  (json.loads + json.dumps of the same body) measured in the same run;
- over HTTP through the dev host (real store on Azurite) to the local sink with 8 concurrent
  senders: requests/s, p50 and p99 (p99 target < 50 ms on loopback), next to the same senders
  posting straight to the sink (the loopback floor).

- CPU per post in process through the real store and sink, and the share of it that is ours.

Usage: python bench/bench_incoming.py [--runs 500] [--posts 300] [--requests 100] [--clients 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.incoming.helpers import (  # noqa: E402
    GITHUB_EVENTS,
    SHARED_FIXTURES,
    alertmanager_notification,
    payload,
)
from tools import stack  # noqa: E402

SECRET = "bench-secret-" + uuid.uuid4().hex[:8]


def _ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def in_process(runs: int) -> bool:
    from shared import ingest
    from shared.cards import envelopes
    from shared.sources.auth import sign
    from shared.store.models import Route

    cases: list[tuple[str, Any, dict[str, str], bytes]] = []
    am = json.dumps(alertmanager_notification(10)).encode()
    am_route = Route(name="am", source="alertmanager", auth="bearer", secret=SECRET)
    cases.append(("alertmanager, 10 alerts", am_route, {"authorization": f"Bearer {SECRET}"}, am))
    gh_route = Route(name="gh", source="github", auth="github", secret=SECRET)
    github: list[tuple[str, str, bytes]] = [("own github_push", "push", payload("github_push.json"))]
    github.append(
        ("own github_workflow_run_failure", "workflow_run", payload("github_workflow_run_failure.json"))
    )
    folder = SHARED_FIXTURES / "github"
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            github.append((f"github {path.stem}", GITHUB_EVENTS[path.stem], path.read_bytes()))
    else:
        print(f"(third-party GitHub examples skipped: {folder} is absent)")
    for label, event, body in github:
        headers = {
            "x-github-event": event,
            "x-github-delivery": "d1",
            "x-hub-signature-256": sign(SECRET, body),
        }
        cases.append((label, gh_route, headers, body))

    print(f"in process: authenticate, parse, enrich, build, serialise ({runs} runs each, median)")
    print(f"  {'payload':44} {'bytes':>7} {'floor':>9} {'ours':>9} {'ratio':>6}  target <= 2 ms")
    ok = True
    for label, route, headers, body in cases:
        headers = {"content-type": "application/json", **headers}

        def ours(route: Any = route, headers: dict[str, str] = headers, body: bytes = body) -> None:
            prepared = ingest.prepare(route, headers, body)
            for card in prepared.notice.cards:
                envelopes.dumps(envelopes.workflows_message(card))

        def floor(body: bytes = body) -> None:
            json.dumps(json.loads(body))

        for _ in range(50):
            ours()
        t_ours: list[float] = []
        t_floor: list[float] = []
        for _ in range(runs):  # interleaved so drift hits both series alike
            t0 = time.perf_counter()
            ours()
            t1 = time.perf_counter()
            floor()
            t2 = time.perf_counter()
            t_ours.append(t1 - t0)
            t_floor.append(t2 - t1)
        m_ours, m_floor = statistics.median(t_ours) * 1000, statistics.median(t_floor) * 1000
        verdict = "OK" if m_ours <= 2.0 else "OVER"
        ok = ok and m_ours <= 2.0
        print(
            f"  {label[:44]:44} {len(body):7d} {m_floor:7.3f}ms {m_ours:7.3f}ms {m_ours / m_floor:5.0f}x  {verdict}"
        )
    return ok


def _load(
    clients: int, requests_per_client: int, send: Callable[[int, int], int]
) -> tuple[float, list[float]]:
    """`clients` threads each sending `requests_per_client` requests; (wall seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def client(c: int) -> None:
        mine = []
        for i in range(requests_per_client):
            t0 = time.perf_counter()
            status = send(c, i)
            mine.append(time.perf_counter() - t0)
            if status >= 300:
                errors.append(str(status))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        print(f"  ({len(errors)} requests failed, e.g. HTTP {errors[0]})")
    return wall, latencies


def cpu_per_post(posts: int) -> None:
    """CPU of one whole post in this thread (real store on Azurite, real sink), and our share of it.

    The dev host serves every request in one process, so this CPU time is what bounds the HTTP
    figures below: 8 concurrent senders queue behind each other's table calls.
    """
    import os

    from shared import ingest
    from shared.store import open_store
    from shared.store.models import Channel, Route
    from tools.teams_sink import TeamsSink

    with stack.Azurite() as azurite, TeamsSink(keep=100000) as sink:
        sink.set_limits(windows=[])
        os.environ["DELIVERY_EXTRA_ALLOWED_URLS"] = sink.url + "/"
        os.environ["DELIVERY_RATE_WORKFLOWS"] = "100000/1"
        store = open_store(connection=azurite.connection_string, prefix="cpu" + uuid.uuid4().hex[:6])
        store.channels.save(Channel(name="ch", url=sink.workflow_url("ch")))
        route = Route(name="cpu", source="alertmanager", auth="bearer", secret=SECRET, channels=["ch"])
        store.routes.save(route)
        headers = {"content-type": "application/json", "authorization": f"Bearer {SECRET}"}
        note = alertmanager_notification(3)
        bodies = []
        for i in range(posts + 30):
            note["groupKey"] = f"cpu-{i}"
            bodies.append(json.dumps(note).encode())
        for body in bodies[:30]:  # tables, connections, imports, the route cache
            ingest.handle("cpu", headers, body, store=store)
        started = time.thread_time()
        for body in bodies[30:]:
            ingest.handle("cpu", headers, body, store=store)
        whole = (time.thread_time() - started) / posts * 1000
        started = time.thread_time()
        for body in bodies[30:]:
            ingest.prepare(route, headers, body)
        ours = (time.thread_time() - started) / posts * 1000
    print(f"\nCPU per post in process (3-alert note, 1 channel, real store and sink; {posts} posts):")
    print(f"  whole post {whole:6.2f} ms   of which authenticate/parse/build {ours:5.2f} ms")
    print("  the rest: 6 table calls (Azure SDK + requests) and the post to the sink")


def over_http(clients: int, requests_per_client: int) -> None:
    import requests

    from shared.store import open_store
    from shared.store.models import Channel, Route
    from tools.teams_sink import TeamsSink

    with stack.Azurite() as azurite, TeamsSink(keep=100000) as sink:
        sink.set_limits(windows=[])
        prefix = "bench" + uuid.uuid4().hex[:6]
        store = open_store(connection=azurite.connection_string, prefix=prefix)
        channel = "bench-ch"
        store.channels.save(Channel(name=channel, url=sink.workflow_url(channel)))
        store.routes.save(
            Route(name="bench", source="alertmanager", auth="bearer", secret=SECRET, channels=[channel])
        )
        settings = {
            "TEAMS_STORAGE": azurite.connection_string,
            "AzureWebJobsStorage": azurite.connection_string,
            "TABLE_PREFIX": prefix,
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "DELIVERY_EXTRA_ALLOWED_URLS": sink.url + "/",
            "DELIVERY_RATE_WORKFLOWS": "100000/1",
            "DIGEST_SCHEDULE": "0 0 0 1 1 *",
        }
        folder = tempfile.TemporaryDirectory(prefix="bench-incoming-")
        settings_file = Path(folder.name) / "local.settings.json"
        settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": settings}), encoding="utf-8")
        port = stack.free_port()
        env = {"PATH": "/usr/bin:/bin", **settings}
        with stack.devhost_process(port, env, settings_file=settings_file):
            base = f"http://127.0.0.1:{port}/api/incoming/bench"
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}
            sessions = [requests.Session() for _ in range(clients)]
            bodies = {}
            template = alertmanager_notification(3)

            def body(c: int, i: int, run: str) -> bytes:
                template["groupKey"] = f"{run}-{c}-{i}"  # distinct notifications: no dedupe shortcut
                return json.dumps(template).encode()

            for c in range(clients):
                for i in range(requests_per_client):
                    bodies[("w", c, i)] = body(c, i, "warm")
                    bodies[("m", c, i)] = body(c, i, "measure")
            for i in range(20):  # warm imports, connections and tables
                sessions[0].post(base, data=bodies[("w", 0, i % requests_per_client)], headers=headers)

            def direct(c: int, i: int) -> int:
                sink_url = sink.workflow_url(f"floor{c}")
                message = {
                    "type": "message",
                    "attachments": [
                        {
                            "contentType": "application/vnd.microsoft.card.adaptive",
                            "content": {"type": "AdaptiveCard", "version": "1.5", "body": []},
                        }
                    ],
                }
                return int(sessions[c].post(sink_url, json=message, timeout=30).status_code)

            def proxied(c: int, i: int) -> int:
                return int(
                    sessions[c].post(base, data=bodies[("m", c, i)], headers=headers, timeout=30).status_code
                )

            print(f"\nover HTTP: {clients} concurrent senders x {requests_per_client} requests, loopback")
            for label, send in (
                ("floor: straight to the sink", direct),
                ("through the proxy (3-alert notes)", proxied),
            ):
                wall, lat = _load(clients, requests_per_client, send)
                n = len(lat)
                print(
                    f"  {label:36} {n / wall:8.1f} req/s   p50 {_ms(lat, 0.5):6.1f} ms   p99 {_ms(lat, 0.99):6.1f} ms"
                )
            received = len(sink.messages(channel))
            print(f"  messages at the sink's channel: {received} (warm-up included)   p99 target < 50 ms")
        folder.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--requests", type=int, default=100, help="requests per sender")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--posts", type=int, default=300, help="posts timed for the CPU figure")
    parser.add_argument("--no-http", action="store_true", help="only the in-process figures without a store")
    args = parser.parse_args()
    in_process(args.runs)
    if not args.no_http:
        cpu_per_post(args.posts)
        over_http(args.clients, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
