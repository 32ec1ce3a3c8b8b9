"""`make gallery`: docs/cards/, one PNG per source and event kind as Teams shows it, and its index.

Every picture is the official Adaptive Cards renderer's (npm `adaptivecards`) with Teams' light host
config, parsed for version 1.4, in headless Chromium (tools/render), cropped to the card. The cards
are the ones the render test checks (tests/support/emitted.py), on the project's own payloads and,
when ../shared/fixtures is there, the third-party ones. Regenerate after changing how a card looks.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

from tests.support import emitted  # the one enumeration of emitted cards
from tools import render, stack
from tools.render import report

OUT = stack.ROOT / "docs" / "cards"
GROUPS = {
    "incoming": "Incoming proxy (one card per post)",
    "digest": "Digests (scheduled connector)",
    "parts": "Long cards: numbered parts and `+N more`",
}
# Round-trip fixtures of the card models, not something a sender sends.
LEFT_OUT = ("incoming/adaptivecard/sample ",)


def picked() -> list[emitted.Emitted]:
    """Every emitted card worth a picture: one per source and event kind, parts once each."""
    cards = [c for c in emitted.all_offline() if not c.name.startswith(LEFT_OUT)]
    parts = [c for c in cards if c.group == "parts"]
    return [c for c in cards if c.group != "parts"] + parts[-2:]  # the last numbered part, `+N more`


def file_name(name: str) -> str:
    return report.slug(name.replace("/", "--")) + ".png"


def index(rows: Sequence[tuple[str, str, str, list[str]]], note: str) -> str:
    """docs/cards/README.md: a table per group, each card's picture and what the renderer said."""
    lines = [
        "# Card gallery",
        "",
        "Every card the project sends, as Teams shows it: the official Adaptive Cards renderer",
        "(npm `adaptivecards`) with Teams' light host config, parsed for version 1.4 (what the Workflows",
        "bot displays), in headless Chromium, cropped to the card. Images on cards are grey placeholders",
        "(nothing is fetched). Regenerate with `make gallery` (tools/gallery.py); the same cards are",
        "checked by tests/render/test_render_cards.py.",
        "",
        note,
        "",
    ]
    for group, title in GROUPS.items():
        members = [row for row in rows if row[0] == group]
        if not members:
            continue
        lines += [f"## {title}", "", "| card | as Teams shows it |", "| --- | --- |"]
        for _, name, picture, problems in members:
            said = "<br>".join(p.replace("|", "\\|") for p in problems) or "shown as built"
            label = name.split("/", 1)[1].replace("|", "\\|")
            lines.append(f"| **{label}**<br><sub>{said}</sub> | ![{label}]({picture}) |")
        lines.append("")
    return "\n".join(lines)


#: a row of an existing docs/cards/README.md: its picture and what the renderer said
ROW = re.compile(r"^\| \*\*.*\*\*<br><sub>(?P<said>.*)</sub> \| !\[.*\]\((?P<picture>[^)]+)\) \|$")


def earlier_rows() -> dict[str, list[str]]:
    """picture -> problems, from the index written last (``--only`` keeps the other cards' rows)."""
    path = OUT / "README.md"
    found: dict[str, list[str]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            match = ROW.match(line)
            if match:
                said = match.group("said")
                found[match.group("picture")] = [] if said == "shown as built" else said.split("<br>")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``--only PREFIX[,PREFIX...]``: draw just the cards whose names start so (``incoming/trello/``),
    keeping every other picture and its row in the index as they were."""
    args = list(sys.argv[1:] if argv is None else argv)
    only: tuple[str, ...] = ()
    if args[:1] == ["--only"] and len(args) == 2:
        only = tuple(p for p in args[1].split(",") if p)
    elif args:
        print("usage: python -m tools.gallery [--only PREFIX[,PREFIX...]]", file=sys.stderr)
        return 2
    reason = render.missing()
    if reason:
        print(f"gallery: the card renderer cannot run: {reason}", file=sys.stderr)
        return 1
    if render.host_config("light") is None:
        print(f"gallery: Teams' host config is absent ({render.HOSTCONFIG_DIR})", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    earlier = earlier_rows() if only else {}
    for old in [] if only else OUT.glob("*.png"):
        old.unlink()
    rows: list[tuple[str, str, str, list[str]]] = []
    total = 0
    with render.Renderer() as renderer:
        for each in picked():
            if only and not each.name.startswith(only):
                picture = file_name(each.name)
                if picture in earlier and (OUT / picture).is_file():
                    rows.append((each.group, each.name, picture, earlier[picture]))
                continue
            shown = renderer.render(each.card)
            assert shown.png is not None
            picture = file_name(each.name)
            (OUT / picture).write_bytes(shown.png)
            total += len(shown.png)
            rows.append((each.group, each.name, picture, shown.problems()))
    third_party = emitted.SHARED_FIXTURES.is_dir()
    note = (
        "Third-party payloads from ../shared/fixtures are included."
        if third_party
        else "../shared/fixtures was absent: only the project's own payloads are shown."
    )
    (OUT / "README.md").write_text(index(rows, note), encoding="utf-8")
    print(f"gallery: {len(rows)} cards, {total / 1e6:.1f} MB of PNGs in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
