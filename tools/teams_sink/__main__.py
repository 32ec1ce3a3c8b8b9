"""`python -m tools.teams_sink [--host H] [--port 7072] [--budget 25/300] [--no-throttle] [--delay s]`.

`--budget` (default: $DELIVERY_BUDGET_WORKFLOWS, the app's setting, or 25/300; `off` for none) is the Flow
bot's budget per connection: Workflows posts past it are answered 202 and then lost, as with Teams.

`--max-version 1.5` (or $TEAMS_SINK_MAX_VERSION) lets Workflows channels display 1.5 cards, as senders
assumed before the Flow bot's 1.4 limit was known.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from tools.teams_sink.budget import BUDGET_ENV, DEFAULT_BUDGET, parse_budget
from tools.teams_sink.rules import MAX_BYTES, MAX_VERSION_ENV, parse_version, workflow_max_version
from tools.teams_sink.server import TeamsSink


def port(text: str) -> int:
    """A TCP port (0 picks a free one); argparse turns the ValueError into a usage error."""
    number = int(text)
    if not 0 <= number < 65536:
        raise ValueError(text)
    return number


def version(text: str) -> tuple[int, int]:
    """'1.4' -> (1, 4); argparse turns the ValueError into a usage error."""
    parsed = parse_version(text)
    if parsed is None:
        raise ValueError(text)
    return parsed


def budget(text: str) -> str:
    """A budget such as 25/300,100/3600 or off; argparse turns the ValueError into a usage error."""
    parse_budget(text)
    return text


def connection_budget(text: str) -> tuple[str, str]:
    """NAME=COUNT/SECONDS,...; argparse turns the ValueError into a usage error."""
    name, sep, spec = text.partition("=")
    if not sep or not name:
        raise ValueError(text)
    parse_budget(spec)
    return name, spec


def _default_version() -> tuple[int, int] | str:
    try:
        return workflow_max_version()
    except ValueError:
        return os.environ.get(MAX_VERSION_ENV, "")  # parsed by `version`, which reports it as a usage error


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.teams_sink", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=port, default=os.environ.get("TEAMS_SINK_PORT") or "7072",
        help="default: $TEAMS_SINK_PORT or 7072",
    )
    parser.add_argument(
        "--budget", type=budget, default=os.environ.get(BUDGET_ENV, "").strip() or DEFAULT_BUDGET,
        help=f"the Flow bot's posts per connection, COUNT/SECONDS,... or off (default: ${BUDGET_ENV} or "
        f"{DEFAULT_BUDGET})",
    )
    parser.add_argument(
        "--connection-budget", type=connection_budget, action="append", default=[], metavar="NAME=BUDGET",
        help="one connection's own budget, e.g. busy=25/300 (repeatable)",
    )
    parser.add_argument(
        "--no-throttle", action="store_true", help="no per-URL 429 windows (the budget is --budget)"
    )
    parser.add_argument(
        "--delay", type=float, default=0.0, help="seconds to wait before every webhook answer"
    )
    parser.add_argument("--keep", type=int, default=200, help="messages kept per channel")
    parser.add_argument("--max-bytes", type=int, default=MAX_BYTES)
    parser.add_argument(
        "--max-version", type=version, default=_default_version(),
        help=f"highest Adaptive Card version Workflows channels display (default: ${MAX_VERSION_ENV} or 1.4)",
    )
    parser.add_argument(
        "--schemas", type=Path, default=None, help="the official schemas' folder (default: ../shared/schemas)"
    )
    parser.add_argument("--no-schema", action="store_true", help="do not check cards against the schema")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s teams-sink %(message)s",
        stream=sys.stderr,
    )
    sink = TeamsSink(
        args.host,
        args.port,
        windows=[] if args.no_throttle else None,
        max_bytes=args.max_bytes,
        keep=args.keep,
        delay=args.delay,
        max_version=args.max_version,
        schemas=args.schemas,
        check_schema=not args.no_schema,
        budget=args.budget,
        budgets=dict(args.connection_budget),
    )

    def _stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    try:
        sink.serve_forever()
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # the port is taken, or the address is not ours
        where = f"{args.host}:{args.port}"
        print(f"teams_sink: error: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
