"""Time from `make serve` until Azurite, the Teams sink and the app all answer (installed already).

Runs `make serve` with free ports (the port variables), a temp Azurite folder and settings file
(`SERVE_ARGS`; nothing in the repo is touched) and the dev host, polls the three services, then
sends SIGINT to its process group as Ctrl-C does and times the shutdown until every port is closed.
Baseline in the same run: Azurite alone (the slowest piece) started the same way.
Target: all three answering in < 5 s.

    .venv/bin/python bench/bench_stack_ready.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools import stack  # noqa: E402

TARGET_S = 5.0


def answers(url: str, want_ok: bool = False) -> bool:
    """True when something answers HTTP at url (any status, or 2xx when want_ok)."""
    try:
        with urllib.request.urlopen(url, timeout=0.5) as resp:  # noqa: S310 - local URLs only
            return not want_ok or 200 <= resp.status < 300
    except urllib.error.HTTPError:
        return not want_ok
    except OSError:
        return False


def one_run(timeout: float = 60.0) -> dict[str, float]:
    ports = {name: stack.free_port() for name in ("blob", "queue", "table", "sink", "app")}
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as tmp:
        env = dict(os.environ)
        env.update({
            "AZURITE_BLOB_PORT": str(ports["blob"]), "AZURITE_QUEUE_PORT": str(ports["queue"]),
            "AZURITE_TABLE_PORT": str(ports["table"]), "TEAMS_SINK_PORT": str(ports["sink"]),
            "FUNCTIONS_PORT": str(ports["app"]), "PYTHONPATH": str(ROOT),
        })
        serve_args = f"--devhost --settings {Path(tmp) / 'local.settings.json'} --azurite-location {Path(tmp) / 'az'}"
        argv = ["make", "-s", "--no-print-directory", "-C", str(ROOT), "serve", f"SERVE_ARGS={serve_args}"]
        checks = {
            "azurite": f"http://127.0.0.1:{ports['table']}/devstoreaccount1/Tables",
            "sink": f"http://127.0.0.1:{ports['sink']}/",
            "app": f"http://127.0.0.1:{ports['app']}/admin/host/status",
        }
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        ready: dict[str, float] = {}
        try:
            while len(ready) < len(checks):
                if proc.poll() is not None:
                    raise RuntimeError(f"serve exited with {proc.returncode} before the stack was ready")
                if time.perf_counter() - start > timeout:
                    raise RuntimeError(f"not ready after {timeout} s: waiting for {set(checks) - set(ready)}")
                for name, url in checks.items():
                    if name not in ready and answers(url, want_ok=name == "app"):
                        ready[name] = time.perf_counter() - start
                time.sleep(0.02)
            ready["all"] = max(ready.values())
            stop_start = time.perf_counter()
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
            proc.wait(30)
            while any(stack.port_open("127.0.0.1", port) for port in ports.values()):
                if time.perf_counter() - stop_start > 30:
                    raise RuntimeError("a port of the stack is still open 30 s after Ctrl-C")
                time.sleep(0.02)
            ready["shutdown"] = time.perf_counter() - stop_start
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    return ready


def azurite_alone() -> float:
    with tempfile.TemporaryDirectory(prefix="bench-azurite-") as tmp:
        start = time.perf_counter()
        emulator = stack.Azurite(location=Path(tmp) / "az").start()
        took = time.perf_counter() - start
        emulator.stop()
    return took


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # The target is for an installed checkout: let make install whatever is missing before timing.
    subprocess.run(["make", "-s", "--no-print-directory", "-C", str(ROOT), "deps"], check=True)
    runs = [one_run() for _ in range(args.runs)]
    baseline = statistics.median(azurite_alone() for _ in range(args.runs))
    print(f"make serve (with the dev host) until every service answers, in seconds, {args.runs} runs:")
    print(f"  {'run':>4} {'azurite':>8} {'sink':>8} {'app':>8} {'all':>8} {'stop':>8}")
    for i, r in enumerate(runs, 1):
        print(f"  {i:>4} {r['azurite']:8.2f} {r['sink']:8.2f} {r['app']:8.2f} {r['all']:8.2f} {r['shutdown']:8.2f}")
    print("  (stop: from Ctrl-C until every port is closed)")
    med = statistics.median(r["all"] for r in runs)
    verdict = "OK" if med < TARGET_S else "OVER TARGET"
    print(f"  median ready {med:.2f} s (target < {TARGET_S:.0f} s: {verdict}); "
          f"Azurite alone {baseline:.2f} s, so the stack takes {med / baseline:.2f}x the slowest piece")
    return 0


if __name__ == "__main__":
    sys.exit(main())
