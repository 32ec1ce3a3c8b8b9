"""Digest run at scale: 10,000 stored subscriptions, 100 then 1,000 of them due.

Against Azurite (tools.stack.Azurite) and an in-process TeamsSink answering after 50 ms with its
throttling off. Every due subscription has its own channel (destination URL), so the per-URL
rate limits (4/s, 30/min) never hold a digest back; with one shared channel the limiter would
hand all but the first few to the outbox instead (state "queued").

Prints, per size: entities read (subscriptions table, due index, all tables) against the due
count, wall time to deliver all digests, digests/s, peak RSS of this process during the run, and
the ratio against a baseline measured in the same run (plain `requests.post` of the same number
of cards to the same sink with the same number of threads: no store, no feeds). Targets: reads
of subscription entities <= 1.1 x due, 1,000 digests < 60 s on 2 cores, peak memory < 200 MB.

    .venv/bin/python bench/bench_digest.py [--stored 10000] [--due 100,1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class PeakRss:
    """Samples this process's RSS every 50 ms while running."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def populate(store: Any, channels: list[str], stored: int, due: int, now: datetime) -> None:
    from shared.store.models import Schedule, Subscription

    zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
    subs = []
    for i in range(stored):
        is_due = i < due
        subs.append(
            Subscription(
                channel=channels[i % len(channels)] if is_due else channels[0],
                source="events",
                target=f"bench{i}",
                schedule=Schedule(times=["08:00", "17:00"], days=list(range(7)), tz=zones[i % len(zones)]),
                next_run=now - timedelta(seconds=30 + i % 60)
                if is_due
                else now + timedelta(hours=1 + i % 500),
                post_empty=True,
            )
        )
    store.subscriptions.add_many(subs)


def baseline(sink: Any, channels: list[str], count: int, threads: int) -> float:
    import requests

    from shared.cards import envelopes
    from shared.cards.builders import CardBuilder

    body = envelopes.dumps(envelopes.workflows_message(CardBuilder("Digest").text("Nothing new.").build()))
    session = requests.Session()

    def one(i: int) -> None:
        response = session.post(
            sink.workflow_url(channels[i % len(channels)]),
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        response.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - started


def measure(cs: str, sink: Any, stored: int, due: int, concurrency: int) -> dict[str, Any]:
    from shared.digest import run as digest
    from shared.store import open_store
    from shared.store.models import Channel

    store = open_store(connection=cs, prefix="bench" + uuid.uuid4().hex[:8])
    channels = [f"b{due}c{i}" for i in range(due)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: store.channels.save(Channel(name=n, url=sink.workflow_url(n))), channels))
    now = datetime.now(UTC)
    populate(store, channels, stored, due, now)
    sink.reset()
    store.reads.clear()
    base = baseline(sink, channels, due, concurrency)
    sink.reset()
    with PeakRss() as rss:
        started = time.perf_counter()
        stats = digest.run(store, now=now, concurrency=concurrency, limit=stored, budget_seconds=240)
        wall = time.perf_counter() - started
    delivered = sum(len(sink.messages(c)) for c in channels)
    reads = dict(store.reads)
    from shared.store import behind

    behind.flush(120)  # the deliveries log is written in the background; let it land before dropping
    store.drop_tables()
    return {
        "due": due,
        "stored": stored,
        "stats": stats.as_dict(),
        "delivered": delivered,
        "wall": wall,
        "baseline": base,
        "reads": reads,
        "peak_mb": rss.peak / 1e6,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=10_000)
    parser.add_argument("--due", default="100,1000")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    sizes = [int(x) for x in args.due.split(",") if x.strip()]

    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # pool-size notes at high concurrency
    from tools.stack import Azurite
    from tools.teams_sink import TeamsSink

    results = []
    with Azurite() as azurite:
        sink = TeamsSink(
            delay=0.05, windows=[], max_channels=max(sizes) + 10, keep=5, idle_timeout=60
        ).start()
        try:
            os.environ["DELIVERY_EXTRA_ALLOWED_URLS"] = sink.url + "/"
            os.environ["DIGEST_CONCURRENCY"] = str(args.concurrency)
            from shared import settings

            settings.reload()  # the app reads its settings once per process
            for due in sizes:
                print(f"-- {args.stored} stored, {due} due: populating...", flush=True)
                results.append(measure(azurite.connection_string, sink, args.stored, due, args.concurrency))
                r = results[-1]
                print(
                    f"   delivered {r['delivered']}/{due} in {r['wall']:.2f} s "
                    f"({r['delivered'] / r['wall']:.0f}/s); baseline {r['baseline']:.2f} s; "
                    f"ratio {r['wall'] / r['baseline']:.2f}x; peak RSS {r['peak_mb']:.0f} MB",
                    flush=True,
                )
                print(f"   run stats {r['stats']}", flush=True)
                print(f"   entities read by table {r['reads']}", flush=True)
        finally:
            sink.stop()

    print()
    print(
        f"{'due':>6} {'subs read':>10} {'/due':>6} {'index':>7} {'all':>7} {'/due':>6} "
        f"{'wall s':>7} {'base s':>7} {'ratio':>6} {'peak MB':>8}"
    )
    for r in results:
        subs_read = r["reads"].get("subscriptions", 0)
        total = sum(r["reads"].values())
        print(
            f"{r['due']:>6} {subs_read:>10} {subs_read / r['due']:>6.2f} {r['reads'].get('schedule', 0):>7} "
            f"{total:>7} {total / r['due']:>6.2f} {r['wall']:>7.2f} {r['baseline']:>7.2f} "
            f"{r['wall'] / r['baseline']:>6.2f} {r['peak_mb']:>8.0f}"
        )
    if len(results) >= 2:
        a, b = results[0], results[-1]
        print(
            f"growth {a['due']} -> {b['due']} due (x{b['due'] / a['due']:.0f}): wall x{b['wall'] / a['wall']:.1f}, "
            f"subscription reads x{b['reads'].get('subscriptions', 0) / max(1, a['reads'].get('subscriptions', 0)):.1f}, "
            f"peak memory {a['peak_mb']:.0f} -> {b['peak_mb']:.0f} MB"
        )
    last = results[-1]
    ok = (
        last["reads"].get("subscriptions", 0) <= 1.1 * last["due"]
        and last["delivered"] == last["due"]
        and last["wall"] < 60
        and last["peak_mb"] < 200
    )
    print(
        "targets (subscription reads <= 1.1 x due, all delivered, < 60 s, < 200 MB):",
        "met" if ok else "NOT met",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
