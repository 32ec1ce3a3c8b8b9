"""`make demo`: the whole system end to end on the local stack, then a summary of every channel.

Starts Azurite (in memory), the Teams sink and the dev host on free ports, runs each part's demo
step (shared core, outgoing bot, incoming proxy, scheduled digests) and prints what reached each
channel of the sink. Exits non-zero when a step fails, so the demo doubles as a smoke test.

Settings are the Values of local.settings.json (what the functions, the admin CLI and `make serve`
read), with the addresses of this run's own stack on top: the demo never touches the data of a
`make serve` running beside it.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import stack

STEPS = ("tools.demo_core", "tools.demo_outgoing", "tools.demo_incoming", "tools.demo_scheduled")


@dataclass
class DemoContext:
    """What a demo step gets: the running stack and a way to run the admin CLI against it."""

    devhost_url: str
    sink: Any
    settings: dict[str, str]
    root: Path = stack.ROOT
    extras: dict[str, Any] = field(default_factory=dict)

    def print(self, *parts: object) -> None:
        print("  ", *parts, flush=True)

    def env(self) -> dict[str, str]:
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TZ") if key in os.environ}
        env.update(self.settings)
        env["PYTHONPATH"] = str(self.root)
        return env

    def admin(
        self, *args: str, input_text: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [stack.python_exe(), "-m", "shared.admin", *args],
            env=self.env(),
            cwd=tempfile.gettempdir(),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"admin {' '.join(args[:2])} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result

    def store(self) -> Any:
        from shared.store import open_store

        return open_store(connection=self.settings["TEAMS_STORAGE"], prefix=self.settings["TABLE_PREFIX"])


def card_title(message: dict[str, Any]) -> str:
    """A one-line description of a Workflows message, for the summary."""
    try:
        card = message["attachments"][0]["content"]
    except (KeyError, IndexError, TypeError):
        return json.dumps(message)[:100]
    for element in card.get("body", []):
        text = element.get("text") if isinstance(element, dict) else None
        if text:
            return str(text).replace("\n", " ")[:100]
        for item in element.get("items", []) if isinstance(element, dict) else []:
            if isinstance(item, dict) and item.get("text"):
                return str(item["text"]).replace("\n", " ")[:100]
    return "(card without a text block)"


def print_channels(sink: Any) -> None:
    print("\n== What reached each channel of the Teams sink")
    channels = sink.channels() if hasattr(sink, "channels") else []
    if not channels:
        print("   (nothing)")
    for channel in channels:
        messages = sink.messages(channel)
        print(f"   #{channel}: {len(messages)} message(s)")
        for message in messages:
            print(f"     - {card_title(message)}")
    print(f"\n   Browse them: {sink.url}/ (while the demo runs)")


def undisplayed_report(sink: Any, mark: int) -> str:
    """What Teams would not have displayed of the demo's posts (the sink's verdicts), or ''."""
    missed = sink.mark() - mark
    if not missed:
        return ""
    lines = [
        f"   #{post['channel']} attachment {post['attachment']}: {'; '.join(post['reasons'])}"
        for post in sink.not_displayed_since(mark)[:10]
    ]
    more = f"\n   ... and {missed - len(lines)} more" if missed > len(lines) else ""
    return f"\nDemo finished, but Teams would not display {missed} post(s):\n" + "\n".join(lines) + more


def lost_report(sink: Any, mark: int) -> str:
    """What the Flow bot's budget would have dropped after its 202 (the sink's record), or ''."""
    count = sink.lost_mark() - mark
    if not count:
        return ""
    lost = sink.lost_since(mark)
    lines = [f"   #{post['channel']}: {post.get('reason', 'lost')}" for post in lost[:10]]
    head = f"\nDemo finished, but {count} post(s) were lost after their 202:\n"
    return head + "\n".join(lines)


def run_steps(ctx: DemoContext) -> list[str]:
    failed: list[str] = []
    for name in STEPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                print(f"\n== {name}: not present, skipped")
                continue
            raise
        step: Callable[[DemoContext], None] = module.run
        title = (module.__doc__ or name).strip().splitlines()[0]
        print(f"\n== {title}", flush=True)
        started = time.monotonic()
        try:
            step(ctx)
        except Exception:
            failed.append(name)
            print(f"   FAILED: {name}")
            traceback.print_exc()
        else:
            print(f"   ok ({time.monotonic() - started:.1f} s)")
    return failed


def write_pictures(sink: Any) -> list[str]:
    """The page of every channel's cards as Teams shows them; its path is printed."""
    from tools import demo_pictures

    print("\n== Every card as Teams shows it (official Adaptive Cards renderer, Teams light)", flush=True)
    try:
        path = demo_pictures.write(sink)
    except Exception:
        traceback.print_exc()
        return ["tools.demo_pictures"]
    pictures = len(list(path.parent.glob("*.png")))
    print(f"   {path}" + (f" ({pictures} PNGs beside it)" if pictures else " (no Chromium: no PNGs)"))
    return []


def local_values(path: Path) -> dict[str, str]:
    """The Values of local.settings.json (none when it does not exist yet), less the dev host's own
    knobs (keys, state folder): the demo runs its own dev host and calls its admin endpoint."""
    values = stack.read_settings_values(path) if path.is_file() else {}
    return {name: value for name, value in values.items() if not name.startswith("DEVHOST_")}


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    from shared import settings as app_settings
    from tools.feed_stub import FeedStub
    from tools.teams_sink import TeamsSink

    # `kill` or a closed terminal unwinds like Ctrl-C, so the `with` blocks stop every process.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        values = local_values(stack.ROOT / "local.settings.json")
    except ValueError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    print("== Starting the local stack (Azurite in memory, Teams sink, dev host, feed and weather stand-ins)")
    with stack.Azurite() as azurite, FeedStub() as feeds:
        # The sink keeps the Flow bot's budget the app keeps (DELIVERY_BUDGET_WORKFLOWS, else 25/300).
        sink = TeamsSink(windows=[], budget=values.get("DELIVERY_BUDGET_WORKFLOWS") or None).start()
        port = stack.free_port()
        settings = {
            **values,
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "AzureWebJobsStorage": azurite.connection_string,
            "TEAMS_STORAGE": azurite.connection_string,
            "TABLE_PREFIX": "demo",
            "DELIVERY_EXTRA_ALLOWED_URLS": sink.url + "/",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "FEEDS_ALLOW_LOOPBACK": "true",
            "OPEN_METEO_FORECAST_URL": feeds.forecast_url,
            "OPEN_METEO_GEOCODING_URL": feeds.geocoding_url,
            "DIGEST_SCHEDULE": "0 0 0 1 1 *",
        }
        settings_dir = Path(tempfile.mkdtemp(prefix="demo-"))
        settings_file = settings_dir / "local.settings.json"
        settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": settings}), encoding="utf-8")
        ctx_env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TZ") if key in os.environ}
        ctx_env.update(settings)
        host = stack.devhost_process(
            port, ctx_env, settings_file=settings_file, quiet=False, extra_args=["--no-timers"]
        )
        try:
            host.start()
            os.environ.update(settings)
            app_settings.reload()  # the app reads its settings once per process
            ctx = DemoContext(devhost_url=f"http://127.0.0.1:{port}", sink=sink, settings=settings)
            ctx.extras["feed_stub"] = feeds
            print(f"   Azurite tables  {azurite.table_port}")
            print(f"   Teams sink      {sink.url}")
            print(f"   Function app    {ctx.devhost_url}")
            mark, lost_mark = sink.mark(), sink.lost_mark()
            failed = run_steps(ctx)
            print_channels(sink)
            failed += write_pictures(sink)
            undisplayed = undisplayed_report(sink, mark) + lost_report(sink, lost_mark)
        finally:
            host.stop()
            sink.stop()
            shutil.rmtree(settings_dir, ignore_errors=True)
    if undisplayed:
        print(undisplayed)
    if failed:
        print(f"\nDemo finished with failures in: {', '.join(failed)}")
        return 1
    if undisplayed:
        return 1
    print("\nDemo finished: every step ran.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
