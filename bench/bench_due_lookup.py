"""Due-subscription lookup against Azurite: entities read and time, vs scanning every subscription.

    .venv/bin/python bench/bench_due_lookup.py [--stored 10000] [--due 100,1000] [--repeat 3]

For each due count, a fresh table prefix gets `--stored` subscriptions of which `due` are due.
Figures: the index lookup (`Store.subscriptions.due`: entities read from the schedule index and
the subscriptions table, median time, and the CPU this process spent on it: the SDK and pydantic
cost ~2 ms of CPU per call, which on a busy machine dominates the wall time), and two baselines
measured in the same run: reading every subscription and filtering in Python, and a server-side
`next_run le now` filter (Azurite still scans them all). The ratio is baseline time / index time.

Reading: on Azure the server-side filter is billed and paced per entity scanned (pages of 1000,
each a transaction), so it grows with the number stored; Azurite scans memory, which makes that
baseline look cheap here. The index lookup's cost is one range read plus one point read per due
subscription (parallel), i.e. it grows with the number due only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.store import Store, open_store
from shared.store.models import Schedule, Subscription
from tools.stack import Azurite

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def populate(store: Store, stored: int, due: int) -> float:
    subs = []
    for i in range(stored):
        # Due ones spread over the last hours, the others over the next days.
        when = NOW - timedelta(seconds=1 + i * 7) if i < due else NOW + timedelta(minutes=1 + (i % 5000))
        subs.append(
            Subscription(
                channel=f"ch{i % 50}",
                source="rss",
                target=f"https://example.org/{i}.xml",
                schedule=Schedule(times=["08:00"], tz="Europe/Berlin"),
                next_run=when,
            )
        )
    started = time.perf_counter()
    store.subscriptions.add_many(subs)
    return time.perf_counter() - started


def timed(call: object, repeat: int) -> tuple[float, object, float]:
    """Median wall time, the last result, and the median CPU time of this process (the SDK's share)."""
    assert callable(call)
    times, cpu, result = [], [], None
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = call()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(times), result, statistics.median(cpu)


def measure(connection: str, stored: int, due: int, repeat: int) -> None:
    store = open_store(connection=connection, prefix="b" + uuid.uuid4().hex[:8])
    load = populate(store, stored, due)
    print(f"\n{stored} subscriptions stored, {due} due (loaded in {load:.1f} s, batches of 100)")

    store.reads.clear()
    found = store.subscriptions.due(NOW, limit=max(due, 1) * 2)
    assert len(found) == due, (len(found), due)
    index_reads, sub_reads = store.reads["schedule"], store.reads["subscriptions"]
    index_time, _, index_cpu = timed(lambda: store.subscriptions.due(NOW, limit=max(due, 1) * 2), repeat)

    table = store.table("subscriptions")
    store.reads.clear()
    scan_time, rows, _ = timed(
        lambda: [r for r in table.partition("sub") if r.get("next_run") and r["next_run"] <= NOW], 1
    )
    scan_reads = store.reads["subscriptions"]
    assert isinstance(rows, list) and len(rows) == due
    store.reads.clear()
    filter_time, _, _ = timed(
        lambda: table.query("PartitionKey eq 'sub' and next_run le @now", {"now": NOW}), repeat
    )

    print(
        f"  index lookup : {index_reads} index rows + {sub_reads} subscriptions read = "
        f"{index_reads + sub_reads} entities, median {index_time * 1000:.0f} ms "
        f"({index_cpu * 1000:.0f} ms CPU here, {index_cpu * 1000 / max(sub_reads + 1, 1):.1f} ms per call)"
    )
    print(
        f"  full scan    : {scan_reads} entities read, {scan_time * 1000:.0f} ms "
        f"(ratio {scan_time / index_time:.1f}x slower, {scan_reads / max(index_reads + sub_reads, 1):.0f}x more reads)"
    )
    print(
        f"  server filter: {due} entities returned (server scans {stored}), median {filter_time * 1000:.0f} ms "
        f"(ratio {filter_time / index_time:.1f}x)"
    )
    store.drop_tables()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stored", type=int, default=10_000)
    parser.add_argument("--due", default="100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with Azurite() as azurite:
        for due in (int(d) for d in args.due.split(",")):
            measure(azurite.connection_string, args.stored, due, args.repeat)


if __name__ == "__main__":
    main()
