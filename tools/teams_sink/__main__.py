"""`python -m tools.teams_sink [--host 127.0.0.1] [--port 7072] [--no-throttle] [--delay 0.05]`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType

from tools.teams_sink.rules import MAX_BYTES
from tools.teams_sink.server import TeamsSink


def port(text: str) -> int:
    """A TCP port (0 picks a free one); argparse turns the ValueError into a usage error."""
    number = int(text)
    if not 0 <= number < 65536:
        raise ValueError(text)
    return number


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.teams_sink", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=port, default=os.environ.get("TEAMS_SINK_PORT") or "7072",
        help="default: $TEAMS_SINK_PORT or 7072",
    )
    parser.add_argument("--no-throttle", action="store_true", help="no rate windows at all")
    parser.add_argument(
        "--delay", type=float, default=0.0, help="seconds to wait before every webhook answer"
    )
    parser.add_argument("--keep", type=int, default=200, help="messages kept per channel")
    parser.add_argument("--max-bytes", type=int, default=MAX_BYTES)
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
