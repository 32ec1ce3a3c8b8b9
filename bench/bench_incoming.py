"""Incoming proxy: in-process processing time per payload, and HTTP throughput through the dev host.

Targets (issue 5):

- in process (authenticate, parse, enrich, build, serialise; no network) <= 2 ms median for an
  Alertmanager notification of 10 alerts and for each GitHub payload; printed next to the floor
  (json.loads + json.dumps of the same body) measured in the same run;
- over HTTP through the dev host (real store on Azurite) to the local sink with 8 concurrent
  senders: requests/s, p50 and p99 (p99 target < 50 ms on loopback), next to the same senders
  posting straight to the sink (the loopback floor). Closed loop: each sender posts again as soon
  as it is answered, so the machine is saturated and the latency is 8 / throughput. Printed with
  it: the CPU each process (dev host, Azurite, sink, senders) spends per post, the lower bound
  that puts on the mean latency on this machine, and the latency of the same 8 senders posting
  on a schedule at half that throughput (below saturation);

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
    from shared.cards import envelopes
    from shared.incoming import pipeline
    from shared.incoming.auth import sign
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
            prepared = pipeline.prepare(route, headers, body)
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


class Sender:
    """One sender's keep-alive connection: http.client, so the load generator itself stays light.

    Every process of the stack shares the machine's cores with the senders; a heavier client
    (requests costs ~1 ms of CPU per request) would inflate the floor and the proxy figures alike.
    """

    def __init__(self, port: int) -> None:
        import http.client

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        self.conn.request("POST", path, body=body, headers=headers)
        response = self.conn.getresponse()
        response.read()
        return int(response.status)


def _load(
    clients: int, requests_per_client: int, send: Callable[[int, int], int]
) -> tuple[float, list[float]]:
    """`clients` threads each sending `requests_per_client` requests; (wall seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []
    start = threading.Barrier(clients + 1)

    def client(c: int) -> None:
        mine = []
        start.wait()
        for i in range(requests_per_client):
            t0 = time.perf_counter()
            status = send(c, i)
            mine.append(time.perf_counter() - t0)
            if status >= 300:
                errors.append(str(status))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    started = time.perf_counter()
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

    from shared.incoming import pipeline
    from shared.store import behind, open_store
    from shared.store.models import Channel, Route
    from tools.teams_sink import TeamsSink

    with stack.Azurite() as azurite, TeamsSink(keep=100000) as sink:
        sink.set_limits(windows=[])
        os.environ["DELIVERY_EXTRA_ALLOWED_URLS"] = sink.url + "/"
        os.environ["DELIVERY_RATE_WORKFLOWS"] = "100000/1"
        os.environ["DELIVERY_BUDGET_WORKFLOWS"] = "100000/1"  # the connection budget: not measured here
        from shared import settings

        settings.reload()  # the app reads its settings once per process
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
            pipeline.handle("cpu", headers, body, store=store)
        started = time.thread_time()
        for body in bodies[30:]:
            pipeline.handle("cpu", headers, body, store=store)
        whole = (time.thread_time() - started) / posts * 1000
        started = time.thread_time()
        for body in bodies[30:]:
            pipeline.prepare(route, headers, body)
        ours = (time.thread_time() - started) / posts * 1000
        behind.flush()  # the delivery log's last lines, before Azurite stops
    print(f"\nCPU per post in process (3-alert note, 1 channel, real store and sink; {posts} posts):")
    print(f"  whole post {whole:6.2f} ms   of which authenticate/parse/build {ours:5.2f} ms")
    print("  the rest: 2 table calls (Azure SDK), the post to the sink and the delivery log's share")


def _cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def over_http(clients: int, requests_per_client: int) -> None:
    """8 senders posting back to back (closed loop) to the dev host, which delivers to the sink.

    Azurite, the sink and the dev host each run in their own process, as `make serve` runs them;
    the CPU each spends per request is printed, to show where the time goes on this machine.
    """
    import os

    from shared.store import open_store
    from shared.store.models import Channel, Route

    with stack.Azurite() as azurite:
        sink_port = stack.free_port()
        sink_args = ["--no-throttle", "--quiet", "--keep", "100000"]
        with stack.sink_process(sink_port, extra_args=sink_args) as sink:
            sink_url = f"http://127.0.0.1:{sink_port}"
            prefix = "bench" + uuid.uuid4().hex[:6]
            store = open_store(connection=azurite.connection_string, prefix=prefix)
            channel = "bench-ch"
            store.channels.save(Channel(name=channel, url=f"{sink_url}/workflows/{channel}"))
            store.routes.save(
                Route(name="bench", source="alertmanager", auth="bearer", secret=SECRET, channels=[channel])
            )
            settings = {
                "TEAMS_STORAGE": azurite.connection_string,
                "AzureWebJobsStorage": azurite.connection_string,
                "TABLE_PREFIX": prefix,
                "FUNCTIONS_WORKER_RUNTIME": "python",
                "DELIVERY_EXTRA_ALLOWED_URLS": sink_url + "/",
                "DELIVERY_RATE_WORKFLOWS": "100000/1",
                "DELIVERY_BUDGET_WORKFLOWS": "100000/1",
                "DIGEST_SCHEDULE": "0 0 0 1 1 *",
            }
            folder = tempfile.TemporaryDirectory(prefix="bench-incoming-")
            settings_file = Path(folder.name) / "local.settings.json"
            settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": settings}), encoding="utf-8")
            port = stack.free_port()
            env = {"PATH": "/usr/bin:/bin", **settings}
            with stack.devhost_process(port, env, settings_file=settings_file) as devhost:
                _drive(clients, requests_per_client, port, sink_port, channel)
                pids = {"dev host": devhost.pid, "azurite": azurite.pid, "sink": sink.pid, "senders": os.getpid()}
                capacity = _drive_with_cpu(clients, requests_per_client, port, pids)
                _open_loop(clients, capacity / 2, 5.0, port)
                received = _sink_count(sink_port, channel)
                print(
                    f"  messages at the sink's channel: {received} (warm-up included)   p99 target < 50 ms"
                )
            folder.cleanup()


def _sink_count(sink_port: int, channel: str) -> int:
    import requests

    answer = requests.get(f"http://127.0.0.1:{sink_port}/channels/{channel}/messages", timeout=10)
    return len(answer.json()) if answer.ok else -1


def _notes(clients: int, requests_per_client: int, run: str) -> dict[tuple[int, int], bytes]:
    template = alertmanager_notification(3)
    bodies = {}
    for c in range(clients):
        for i in range(requests_per_client):
            template["groupKey"] = f"{run}-{c}-{i}"  # distinct notifications: no dedupe shortcut
            bodies[(c, i)] = json.dumps(template).encode()
    return bodies


HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}
PATH = "/api/incoming/bench"


def _drive(clients: int, requests_per_client: int, port: int, sink_port: int, channel: str) -> None:
    warm = _notes(1, 50, "warm")
    sender = Sender(port)
    for i in range(50):  # imports, connections, tables, caches
        sender.post(PATH, warm[(0, i)], HEADERS)
    message = json.dumps(
        {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {"type": "AdaptiveCard", "version": "1.4", "body": []},
                }
            ],
        }
    ).encode()
    senders = [Sender(sink_port) for _ in range(clients)]

    def direct(c: int, i: int) -> int:
        return senders[c].post(f"/workflows/floor{c}", message, {"Content-Type": "application/json"})

    print(f"\nover HTTP: {clients} concurrent senders x {requests_per_client} requests, loopback")
    wall, lat = _load(clients, requests_per_client, direct)
    _print_run("floor: straight to the sink", wall, lat)


def _drive_with_cpu(clients: int, requests_per_client: int, port: int, pids: dict[str, int]) -> float:
    """The closed-loop run (each sender posts again as soon as answered); returns its requests/s."""
    import os

    bodies = _notes(clients, requests_per_client, "measure-" + uuid.uuid4().hex[:6])
    senders = [Sender(port) for _ in range(clients)]

    def proxied(c: int, i: int) -> int:
        return senders[c].post(PATH, bodies[(c, i)], HEADERS)

    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    wall, lat = _load(clients, requests_per_client, proxied)
    after = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    _print_run("through the proxy (3-alert notes)", wall, lat)
    n = len(lat)
    per_post = {name: (after[name] - before[name]) / n * 1000 for name in pids}
    cores = os.cpu_count() or 1
    print("  CPU ms per post: " + "   ".join(f"{name} {ms:.2f}" for name, ms in per_post.items()))
    total = sum(per_post.values())
    # Little's law: `clients` posts always in flight, served by `cores` cores at `total` ms each.
    print(
        f"  {total:.1f} ms of CPU per post on {cores} cores: with {clients} always in flight the mean"
        f" cannot be under {clients * total / cores:.0f} ms on this machine (Little's law)"
    )
    return n / wall


def _open_loop(clients: int, rate: float, seconds: float, port: int) -> None:
    """`clients` senders posting on a fixed schedule, `rate` posts/s in all: latency below saturation.

    Each latency counts from the post's scheduled time, so a post held up behind a slow one is
    charged for the wait (no coordinated omission).
    """
    per_client = max(1, int(rate * seconds / clients))
    interval = clients / rate
    bodies = _notes(clients, per_client, "open-" + uuid.uuid4().hex[:6])
    senders = [Sender(port) for _ in range(clients)]
    start = time.perf_counter() + 0.2
    latencies: list[float] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        mine = []
        for i in range(per_client):
            due = start + (i + c / clients) * interval
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            status = senders[c].post(PATH, bodies[(c, i)], HEADERS)
            mine.append(time.perf_counter() - due)
            if status >= 300:
                print(f"  (HTTP {status})")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    label = f"{clients} senders at {rate:.0f} posts/s in all"
    print(
        f"  {label:36} {'':14}p50 {_ms(latencies, 0.5):6.1f} ms   p99 {_ms(latencies, 0.99):6.1f} ms"
        "   (below saturation: half the rate above)"
    )


def _print_run(label: str, wall: float, lat: list[float]) -> None:
    n = len(lat)
    print(f"  {label:36} {n / wall:8.1f} req/s   p50 {_ms(lat, 0.5):6.1f} ms   p99 {_ms(lat, 0.99):6.1f} ms")


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
