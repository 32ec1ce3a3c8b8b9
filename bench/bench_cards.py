"""Benchmark: build, check (Teams' rules + size fit) and serialise a 50-fact card.

Prints the time per card next to a baseline measured in the same run: `json.dumps` of the
equivalent hand-written plain dict. Also prints the cold import cost of what the outgoing bot
needs (builders, limits, envelopes) versus the full pydantic model set, the cost of the
lossless parse/serialise round trip used for foreign cards, and the Markdown pass (`escape` +
`to_teams`) on ordinary text and on hostile inputs that made the old patterns backtrack for
seconds to minutes (each must stay in the tens of milliseconds: linear in the input).

Run: .venv/bin/python bench/bench_cards.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.cards import envelopes, limits  # noqa: E402
from shared.cards.builders import CardBuilder, Status  # noqa: E402
from shared.cards.markdown import escape, to_teams  # noqa: E402

FACTS = [(f"metric {i}", f"value {i} ü") for i in range(50)]


def ours() -> bytes:
    b = CardBuilder("Nightly report", Status.GOOD, subtitle="50 facts")
    b.text("Everything is **fine**.").facts(FACTS).button("Open", "https://example.com/r")
    card = b.build()
    limits.check_webhook(card)
    [part] = limits.fit(card, max_bytes=26624)
    return envelopes.dumps(envelopes.workflows_message(part))


def baseline() -> bytes:
    card = {
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": "Nightly report",
                "size": "Large",
                "weight": "Bolder",
                "wrap": True,
            },
            {"type": "TextBlock", "text": "Everything is **fine**.", "wrap": True},
            {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in FACTS]},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": "https://example.com/r"}],
    }
    message = {
        "type": "message",
        "attachments": [
            {"contentType": envelopes.ADAPTIVE_CONTENT_TYPE, "contentUrl": None, "content": card}
        ],
    }
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def per_call_us(fn: Callable[[], Any], n: int, repeats: int = 5) -> float:
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def import_ms(statement: str, runs: int = 5) -> float:
    code = f"import time; t=time.perf_counter(); {statement}; print((time.perf_counter()-t)*1000)"
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


ALERT_TEXT = (
    "[FIRING:2] HighErrorRate on checkout_api: p99 > 2 s for *all* routes\n"
    "- instance: 10.0.0.1:9090 <value>\n- runbook: https://runbooks.example/high_error_rate\n"
) * 80  # about 12 KB

HOSTILE = {
    "<b> x 20000": "<b>" * 20000,
    "<strong  x 20000": "<strong " * 20000,
    "![ x 20000": "![" * 20000,
    "![a]( x 20000": "![a](" * 20000,
    "newlines x 50000": "\n" * 50000 + "x",
    "*a x 50000": "*a" * 50000,
}


def markdown_figures() -> None:
    us = per_call_us(lambda: to_teams(escape(ALERT_TEXT)), 50)
    print(f"escape+to_teams, {len(ALERT_TEXT) // 1024} KB alert text:        {us / 1000:8.2f} ms")
    for name, text in HOSTILE.items():
        start = time.perf_counter()
        to_teams(text)
        to_teams(escape(text))
        print(
            f"  hostile {name:18s} ({len(text) // 1024:3d} KB):      {(time.perf_counter() - start) * 1000:8.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="cards per timing run")
    args = parser.parse_args()

    ours_us = per_call_us(ours, args.n)
    base_us = per_call_us(baseline, args.n)
    print(f"50-fact card, build+check+fit+serialise: {ours_us:8.1f} us/card ({len(ours())} bytes)")
    print(f"baseline json.dumps of a plain dict:     {base_us:8.1f} us/card ({len(baseline())} bytes)")
    print(f"ratio ours/baseline:                     {ours_us / base_us:8.1f}x")

    from shared.cards.adaptive import AdaptiveCard

    card = json.loads(ours())["attachments"][0]["content"]
    AdaptiveCard.parse(card)
    parse_us = per_call_us(lambda: AdaptiveCard.parse(card).to_dict(), max(1, args.n // 4))
    print(
        f"lossless parse+to_dict (pydantic):       {parse_us:8.1f} us/card ({parse_us / base_us:.1f}x baseline)"
    )

    markdown_figures()

    light = import_ms("import shared.cards.builders, shared.cards.limits, shared.cards.envelopes")
    full = import_ms("import shared.cards.adaptive as a; a.AdaptiveCard.parse({'type':'AdaptiveCard'})")
    nothing = import_ms("pass")
    print(f"cold import, reply path (builders+limits+envelopes): {light:6.1f} ms")
    print(f"cold import + first parse, full pydantic models:     {full:6.1f} ms")
    print(f"(empty statement in the same harness:                {nothing:6.1f} ms)")


if __name__ == "__main__":
    main()
