"""Dev host overhead per request, against a bare WSGI app on the same waitress server, same run.

Both servers run as subprocesses with the same waitress settings (16 threads); 8 client threads with
keep-alive connections send the same GET. Prints p50 / p99 latency and requests/s of each, and the
difference (target: dev host overhead < 1 ms at p50). Also times the WSGI callables in-process
(no network) to show the dev host's own cost per call.

    .venv/bin/python bench/bench_devhost.py [--requests 400] [--clients 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools import stack  # noqa: E402

APP = ROOT / "tests" / "devhost" / "app"
PATH = "/api/ping"
THREADS = 16


def bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "2")])
    return [body]


def serve_bare(port: int) -> None:
    from waitress import serve

    serve(bare_app, host="127.0.0.1", port=port, threads=THREADS, ident="bare", _quiet=True)


def start_server(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    port = stack.free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), DEVHOST_TEST_TICK="0 0 0 1 1 *")
    if kind == "bare":
        argv = [stack.python_exe(), str(Path(__file__).resolve()), "--serve-bare", str(port)]
    else:
        argv = [stack.python_exe(), "-m", "tools.devhost", "--root", str(APP), "--port", str(port),
                "--no-timers", "--threads", str(THREADS)]
    proc = subprocess.Popen(argv, env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    stack.wait_port("127.0.0.1", port, 20.0, proc)
    return proc, port


def load(port: int, clients: int, per_client: int) -> tuple[list[float], float]:
    """Latencies (s) of every request and the wall time of the whole batch."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def client(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(20):  # warm-up, not counted
            conn.request("GET", PATH)
            conn.getresponse().read()
        barrier.wait()
        out = latencies[slot]
        for _ in range(per_client):
            t0 = time.perf_counter()
            conn.request("GET", PATH)
            resp = conn.getresponse()
            resp.read()
            out.append(time.perf_counter() - t0)
            if resp.status != 200:
                raise RuntimeError(f"unexpected status {resp.status}")
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return [x for lst in latencies for x in lst], wall


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def in_process(calls: int = 3000) -> tuple[float, float]:
    """Mean µs per call of the dev host's WSGI callable and of the bare app, without sockets."""
    os.environ.setdefault("DEVHOST_TEST_TICK", "0 0 0 1 1 *")
    from tools.devhost import DevHost

    host = DevHost(APP, timers=False, access_log=open(os.devnull, "w"))  # noqa: SIM115 - lives for the run

    def environ() -> dict[str, Any]:
        return {"REQUEST_METHOD": "GET", "PATH_INFO": PATH, "REQUEST_URI": PATH, "QUERY_STRING": "",
                "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "7071", "HTTP_HOST": "127.0.0.1:7071",
                "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b"")}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        return None

    results = []
    for app in (host.wsgi, bare_app):
        for _ in range(200):
            list(app(environ(), start_response))
        t0 = time.perf_counter()
        for _ in range(calls):
            list(app(environ(), start_response))
        results.append((time.perf_counter() - t0) / calls * 1e6)
    return results[0], results[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400, help="requests per client per round")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve-bare", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare is not None:
        serve_bare(args.serve_bare)
        return 0

    figures: dict[str, dict[str, list[float]]] = {k: {"p50": [], "p99": [], "rps": []} for k in ("bare", "devhost")}
    servers = {kind: start_server(kind) for kind in ("bare", "devhost")}
    try:
        for _ in range(args.rounds):
            for kind in ("bare", "devhost"):  # interleaved so drift hits both alike
                lat, wall = load(servers[kind][1], args.clients, args.requests)
                figures[kind]["p50"].append(pct(lat, 0.50) * 1000)
                figures[kind]["p99"].append(pct(lat, 0.99) * 1000)
                figures[kind]["rps"].append(len(lat) / wall)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)

    med = {k: {m: statistics.median(v) for m, v in f.items()} for k, f in figures.items()}
    total = args.clients * args.requests
    print(f"dev host vs bare WSGI on waitress ({THREADS} threads), {args.clients} clients x {args.requests} "
          f"GET {PATH}, keep-alive, median of {args.rounds} interleaved rounds ({total} requests each):")
    print(f"  {'':10} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for kind in ("bare", "devhost"):
        m = med[kind]
        print(f"  {kind:10} {m['p50']:8.2f} {m['p99']:8.2f} {m['rps']:8.0f}")
    d50 = med["devhost"]["p50"] - med["bare"]["p50"]
    d99 = med["devhost"]["p99"] - med["bare"]["p99"]
    ratio = med["devhost"]["rps"] / med["bare"]["rps"]
    verdict = "OK" if d50 < 1.0 else "OVER TARGET"
    print(f"  overhead   p50 {d50:+.2f} ms (target < 1 ms: {verdict}), p99 {d99:+.2f} ms, "
          f"throughput {ratio:.2f}x of bare")
    dev_us, bare_us = in_process()
    print(f"in-process WSGI call (no sockets): dev host {dev_us:.0f} µs, bare {bare_us:.1f} µs, "
          f"dev host's own cost {dev_us - bare_us:.0f} µs per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
