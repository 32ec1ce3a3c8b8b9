"""Delivery throughput to the local Teams sink: 20 destinations, client rate limits on.

Runs Azurite and an in-process TeamsSink (which enforces Teams' own windows, so a client that
overshoots would see 429s), then:

- baseline: raw `requests.post` of the same envelopes to the same sink, same threads, no store,
  no limiter, sink throttling off;
- delivery: `shared.delivery.deliver` for every message (store lookups, idempotency records, limiter,
  outbox hand-off when a destination's budget is spent);
- the delivery log: the same no-limits run with the log written inline on the request thread (as
  it was) and in the background (`shared.store.behind`, batched, as it is), and how long the
  background writer then needs to catch up.

Prints messages/s of both and their ratio, how many messages the limiter queued, how many 429s
Teams (the sink) answered, and p50/p99 per post. Bounded: a few hundred messages, under a minute.

    .venv/bin/python bench/bench_delivery.py [--per-destination 40] [--threads 8]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DESTINATIONS = 20


def card(i: int) -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": f"Build {i} finished", "weight": "Bolder", "wrap": True},
            {"type": "FactSet", "facts": [{"title": f"k{j}", "value": f"value {j}"} for j in range(8)]},
        ],
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run_baseline(
    sink: Any, jobs: list[tuple[str, dict[str, Any]]], threads: int
) -> tuple[float, list[float]]:
    import requests

    from shared.cards import envelopes

    def one(job: tuple[str, dict[str, Any]]) -> float:
        name, body = job
        data = envelopes.dumps(envelopes.workflows_message(body))
        started = time.perf_counter()
        response = requests.post(
            sink.workflow_url(name), data=data, headers={"Content-Type": "application/json"}, timeout=10
        )
        response.raise_for_status()
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        latencies = list(pool.map(one, jobs))
    return time.perf_counter() - started, latencies


def run_delivery(store: Any, jobs: list[tuple[str, dict[str, Any]]], threads: int) -> tuple[float, list[Any]]:
    from shared.delivery import deliver

    def one(job: tuple[str, dict[str, Any]]) -> tuple[Any, float]:
        name, body = job
        started = time.perf_counter()
        result = deliver(store, name, body)
        return result, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(one, jobs))
    return time.perf_counter() - started, outcomes


def summary(latencies: list[float]) -> str:
    return (
        f"p50 {1000 * statistics.median(latencies or [0]):6.1f} ms"
        f"   p99 {1000 * percentile(latencies, 0.99):6.1f} ms"
    )


def run_log_comparison(store: Any, jobs: list[tuple[str, dict[str, Any]]], threads: int) -> list[str]:
    """The same deliveries with the log written inline, then in the background; lines to print."""
    from shared.store import behind
    from shared.store.deliveries import DeliveryLog

    background = DeliveryLog.record_later
    DeliveryLog.record_later = DeliveryLog.record  # type: ignore[method-assign]
    try:
        seconds, outcomes = run_delivery(store, jobs, threads)
    finally:
        DeliveryLog.record_later = background  # type: ignore[method-assign]
    inline_latencies = [lat for result, lat in outcomes if result.state == "accepted"]
    seconds_bg, outcomes_bg = run_delivery(store, jobs, threads)
    started = time.perf_counter()
    flushed = behind.flush(60.0)
    catch_up = time.perf_counter() - started
    bg_latencies = [lat for result, lat in outcomes_bg if result.state == "accepted"]
    return [
        f"log inline (as before):     {len(inline_latencies) / seconds:8.1f} msg/s   {summary(inline_latencies)}",
        f"log in background (now):    {len(bg_latencies) / seconds_bg:8.1f} msg/s   {summary(bg_latencies)}",
        f"background log done {1000 * catch_up:.0f} ms after the last answer "
        f"({'all written' if flushed else 'NOT all written'}, {behind.BEHIND.refused} refused)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-destination", type=int, default=40, help="messages per destination (max 200)")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # one line per queued message would drown the figures
    per_destination = max(1, min(200, args.per_destination))
    threads = max(1, min(32, args.threads))

    from shared.delivery.ratelimit import LIMITER, windows_for
    from shared.store import behind, open_store
    from shared.store.models import Channel
    from tools import stack
    from tools.teams_sink import TeamsSink

    with stack.Azurite() as azurite, TeamsSink(keep=200, max_channels=4 * DESTINATIONS) as sink:
        os.environ["DELIVERY_EXTRA_ALLOWED_URLS"] = sink.url + "/"
        from shared import settings

        settings.reload()  # the app reads its settings once per process
        os.environ.setdefault("DELIVERY_BUDGET_SECONDS", "8")
        store = open_store(connection=azurite.connection_string, prefix="bench" + str(os.getpid()))
        names = [f"dest{i:02d}" for i in range(DESTINATIONS)]
        base_names = [f"base{i:02d}" for i in range(DESTINATIONS)]
        for name in names:
            store.channels.add(Channel(name=name, url=sink.workflow_url(name)))
        jobs = [(names[d], card(i)) for i in range(per_destination) for d in range(DESTINATIONS)]
        base_jobs = [(base_names[i % DESTINATIONS], body) for i, (_, body) in enumerate(jobs)]

        # Warm up both paths (connections, table creation, imports) outside the timings.
        sink.set_limits(windows=[])
        run_baseline(sink, [("warm", card(0))], 1)
        store.channels.add(Channel(name="warm", url=sink.workflow_url("warm")))
        run_delivery(store, [("warm", card(0))], 1)
        LIMITER.reset()
        sink.reset()

        sink.set_limits(windows=[])
        base_seconds, base_latencies = run_baseline(sink, base_jobs, threads)

        # The cost of the store and idempotency records alone: client limits off, sink throttling off.
        os.environ["DELIVERY_RATE_WORKFLOWS"] = "1000000/1"
        os.environ["DELIVERY_BUDGET_WORKFLOWS"] = "1000000/1"  # the connection budget too
        settings.reload()  # the app reads its settings once per process
        free_jobs = [(f"free{i % DESTINATIONS:02d}", body) for i, (_, body) in enumerate(jobs)]
        for name in {n for n, _ in free_jobs}:
            store.channels.add(Channel(name=name, url=sink.workflow_url(name)))
        free_seconds, free_outcomes = run_delivery(store, free_jobs, threads)
        free_latencies = [lat for result, lat in free_outcomes if result.state == "accepted"]
        log_lines = run_log_comparison(store, free_jobs, threads)
        del os.environ["DELIVERY_RATE_WORKFLOWS"]
        del os.environ["DELIVERY_BUDGET_WORKFLOWS"]
        settings.reload()
        LIMITER.reset()

        sink.set_limits(windows="default")  # Teams' documented windows, enforced by the sink
        seconds, outcomes = run_delivery(store, jobs, threads)

        accepted = [lat for result, lat in outcomes if result.state == "accepted"]
        queued = sum(1 for result, _ in outcomes if result.state == "queued")
        dead = sum(1 for result, _ in outcomes if result.state == "dead")
        throttled = sum(1 for n in names for r in sink.requests(n) if r.get("teams_status") == 429)
        received = sum(len(sink.messages(n)) for n in names)
        base_rate = len(base_jobs) / base_seconds
        rate = len(accepted) / seconds
        windows = ",".join(f"{c}/{s:g}" for c, s in windows_for(False))

        print(f"destinations: {DESTINATIONS}, messages: {len(jobs)}, threads: {threads}, limits: {windows}")
        print(
            f"baseline raw requests.post: {base_rate:8.1f} msg/s   p50 {1000 * statistics.median(base_latencies):6.1f} ms"
            f"   p99 {1000 * percentile(base_latencies, 0.99):6.1f} ms"
        )
        free_rate = len(free_latencies) / free_seconds
        print(
            f"deliver, no limits:         {free_rate:8.1f} msg/s   p50 {1000 * statistics.median(free_latencies or [0]):6.1f} ms"
            f"   p99 {1000 * percentile(free_latencies, 0.99):6.1f} ms   (store + idempotency overhead)"
        )
        print(
            f"deliver, limits on:         {rate:8.1f} msg/s   p50 {1000 * statistics.median(accepted or [0]):6.1f} ms"
            f"   p99 {1000 * percentile(accepted, 0.99):6.1f} ms"
        )
        for line in log_lines:
            print(line)
        print(f"ratio no-limits/baseline:   {free_rate / base_rate:8.3f}")
        print(
            f"ratio limits-on/baseline:   {rate / base_rate:8.3f}   (bounded by {DESTINATIONS} x 4/s by design)"
        )
        print(
            f"limits on: accepted {len(accepted)}, queued by the limiter {queued}, dead {dead}; "
            f"sink received {received}, sink 429s {throttled}; outbox backlog {store.outbox.backlog()}"
        )
        behind.flush(30.0)  # the log writer must not recreate the tables after they are dropped
        store.drop_tables()


if __name__ == "__main__":
    main()
