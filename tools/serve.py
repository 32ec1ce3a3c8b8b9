"""`make serve`: Azurite, the Teams sink and the function app on their usual ports, until Ctrl-C.

One command gives a developer the whole local stack, the same one the tests and the demo use:

- Azurite (blob/queue/table on 10000/10001/10002, or `AZURITE_BLOB_PORT`, `AZURITE_QUEUE_PORT`,
  `AZURITE_TABLE_PORT`) keeping its data under `.azurite/` (git-ignored) so it survives restarts;
- the Teams sink on `TEAMS_SINK_PORT` (7072), which local Workflows URLs point at, keeping the same
  Flow bot budget per connection as the app (`DELIVERY_BUDGET_WORKFLOWS` from the environment or
  local.settings.json, default 25/300), so lifting it for a test lifts both;
- the function app on `FUNCTIONS_PORT` (7071): `func start` when Core Tools is on PATH, the dev
  host (tools/devhost.py) otherwise, with timer status kept under `.azurite/devhost/`.

local.settings.json is created from local.settings.example.json when missing. Settings that point
at the local stack's default ports (`UseDevelopmentStorage=true`, the sink and app URLs) are
adjusted in the app's environment when other ports are chosen; other values are left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tools import stack

DEFAULT_SINK_PORT = 7072
DEFAULT_APP_PORT = 7071
DEV_STORAGE = "usedevelopmentstorage=true"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"serve: {name}={raw!r} is not a port number")
    return int(raw)


def ensure_settings(path: Path, example: Path) -> bool:
    """Create local.settings.json from the example when missing; True when it was created."""
    if path.exists():
        return False
    if not example.exists():
        raise SystemExit(f"serve: {path} is missing and there is no {example} to copy")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(example, path)
    return True


def read_values(path: Path) -> dict[str, str]:
    try:
        return stack.read_settings_values(path)
    except ValueError as exc:
        raise SystemExit(f"serve: {exc}") from None


def app_environment(
    values: dict[str, str], connection: str, sink_port: int, app_port: int
) -> dict[str, str]:
    """Environment overrides so the app talks to *this* stack (only where settings use the defaults)."""
    env: dict[str, str] = {}
    for name in ("AzureWebJobsStorage", "TEAMS_STORAGE"):
        current = os.environ.get(name, values.get(name))
        if current is None or current.strip().lower() == DEV_STORAGE:
            env[name] = connection
    sink_url = f"http://127.0.0.1:{sink_port}/"
    allowed = os.environ.get("DELIVERY_EXTRA_ALLOWED_URLS", values.get("DELIVERY_EXTRA_ALLOWED_URLS", ""))
    prefixes = [p.strip() for p in allowed.split(",") if p.strip()]
    if sink_url not in prefixes:
        env["DELIVERY_EXTRA_ALLOWED_URLS"] = ",".join([*prefixes, sink_url])
    public = os.environ.get("PUBLIC_BASE_URL", values.get("PUBLIC_BASE_URL"))
    if public in (None, f"http://127.0.0.1:{DEFAULT_APP_PORT}") and app_port != DEFAULT_APP_PORT:
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{app_port}"
    return env


def sink_budget(values: dict[str, str]) -> str:
    """The budget the app runs with (environment first, as for the app), for the sink."""
    from tools.teams_sink.budget import BUDGET_ENV, DEFAULT_BUDGET

    return (os.environ.get(BUDGET_ENV) or values.get(BUDGET_ENV) or "").strip() or DEFAULT_BUDGET


def _check_free(ports: dict[str, int]) -> None:
    busy = [f"{name} port {port}" for name, port in ports.items() if stack.port_open("127.0.0.1", port)]
    if busy:
        raise SystemExit(
            "serve: already in use: " + ", ".join(busy)
            + " (another `make serve`?). Stop it or choose ports with AZURITE_*_PORT, "
            "TEAMS_SINK_PORT, FUNCTIONS_PORT."
        )


def _routes(app_url: str) -> list[str]:
    """HTTP routes the dev host reports, to print them; empty when not available."""
    import urllib.request

    try:
        with urllib.request.urlopen(app_url + "/admin/host/status", timeout=2) as resp:  # noqa: S310 - our URL
            status: dict[str, Any] = json.loads(resp.read())
    except (OSError, ValueError):
        return []
    return [f"{f['route']}  ({f['name']})" for f in status.get("functions", []) if f.get("route")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.serve", description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(stack.ROOT), help="function app root (default: the repo)")
    parser.add_argument("--settings", default=None, help="default: <root>/local.settings.json")
    parser.add_argument("--azurite-location", default=None, help="Azurite data (default: <root>/.azurite)")
    parser.add_argument("--devhost", action="store_true", help="use the dev host even when `func` is on PATH")
    args = parser.parse_args(argv)

    root = Path(args.root).resolve()
    settings_path = Path(args.settings).resolve() if args.settings else root / "local.settings.json"
    location = Path(args.azurite_location).resolve() if args.azurite_location else root / ".azurite"
    blob_port = _port("AZURITE_BLOB_PORT", 10000)
    queue_port = _port("AZURITE_QUEUE_PORT", 10001)
    table_port = _port("AZURITE_TABLE_PORT", 10002)
    sink_port = _port("TEAMS_SINK_PORT", DEFAULT_SINK_PORT)
    app_port = _port("FUNCTIONS_PORT", DEFAULT_APP_PORT)
    _check_free({"Azurite blob": blob_port, "Azurite queue": queue_port, "Azurite table": table_port,
                 "Teams sink": sink_port, "function app": app_port})
    if ensure_settings(settings_path, root / "local.settings.example.json"):
        print(f"created {settings_path} from local.settings.example.json (edit it; it is never committed)")
    values = read_values(settings_path)

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    # Ctrl-C, `kill` and a closed terminal all stop the children: they run in their own sessions.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)

    started = time.monotonic()
    azurite = stack.Azurite(
        table_port=table_port, queue_port=queue_port, blob_port=blob_port, location=location
    )
    budget = sink_budget(values)
    sink = stack.sink_process(sink_port, quiet=False, budget=budget)
    env = dict(os.environ)
    env.update(app_environment(values, azurite.connection_string, sink_port, app_port))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(stack.ROOT), env.get("PYTHONPATH")]))
    func_bin = None if args.devhost else shutil.which("func")
    if func_bin:
        kind = "func start (Core Tools)"
        app = stack.ManagedProcess(
            [func_bin, "start", "--port", str(app_port)], env=env, cwd=root,
            ready_port=app_port, name="func", ready_timeout=90.0,
        )
    else:
        kind = "dev host (tools/devhost.py)"
        env["DEVHOST_STATE_DIR"] = str(location / "devhost")
        env["DEVHOST_SETTINGS_FILE"] = str(settings_path)
        app = stack.devhost_process(
            app_port, env, root=root, quiet=False, settings_file=settings_path
        )
    # The three do not depend on each other at startup: start them side by side.
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures: list[Future[Any]] = [pool.submit(p.start) for p in (azurite, sink, app)]
    errors = [str(f.exception()) for f in futures if f.exception() is not None]
    if errors:
        for message in errors:
            print(f"serve: {message}", file=sys.stderr)
        app.stop()
        sink.stop()
        azurite.stop()
        return 1

    app_url = f"http://127.0.0.1:{app_port}"
    routes = _routes(app_url) if not func_bin else []
    lines = [
        f"Local stack ready in {time.monotonic() - started:.1f} s:",
        f"  Function app   {app_url}   ({kind})",
        *[f"                 {app_url}{r}" for r in routes],
        f"  Teams sink     http://127.0.0.1:{sink_port}   "
        f"(Workflows URLs: http://127.0.0.1:{sink_port}/workflows/[<connection>/]<channel>; "
        f"Flow bot budget {budget} per connection)",
        f"  Azurite        tables http://127.0.0.1:{table_port}/devstoreaccount1, "
        f"queues :{queue_port}, blobs :{blob_port}   (data in {location})",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)

    code = 0
    named = {"function app": app, "Teams sink": sink}
    while not stop.wait(0.5):
        dead = [name for name, proc in named.items() if not proc.running()]
        if dead:
            print(f"serve: {', '.join(dead)} stopped unexpectedly; stopping the rest", file=sys.stderr)
            code = 1
            break
    print("stopping...", flush=True)
    app.stop()
    sink.stop()
    azurite.stop()
    print("stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
