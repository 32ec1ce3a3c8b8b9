"""Teams' rules for the cards we send: version, allowed actions, and the 28 KB message cap.

(The Workflows form of a card, which follows the webhook rules, is `shared.cards.workflows`.)

`check_webhook` / `check_reply` refuse cards Teams would reject or render broken, naming the
element and the rule. `fit` makes a card deliverable size-wise: it measures the final envelope
bytes (what is POSTed, via `envelopes.dumps`) and, when too large, splits the body over several
messages labelled `(1/3)`, `(2/3)`... or, with a part limit (one part by default when a
`more_url` is given), ends with a visible `+N more` line linking to the rest. Long lists inside
one element (facts, container items, table rows, list lines) are split between parts; an element
too large on its own gets its text truncated with a visible marker. Nothing is dropped silently.

Works on plain dicts; an `AdaptiveCard` model is accepted and given back as models.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from shared.cards.envelopes import CardLike, card_dict, dumps, reply, workflows_message

MAX_MESSAGE_BYTES = 28672
MAX_VERSION = (1, 5)  # outgoing-webhook (bot) replies
MAX_WEBHOOK_VERSION = (1, 4)  # cards posted by the Workflows Flow bot
HEADER_ID = "header"
TRUNCATED_MARKER = " … [truncated]"
FALLBACK_TEXT_BYTES = 1024  # cap on fallbackText/speak once a card has to be cut
MIN_BODY_BYTES = 160  # below this no element (not even a placeholder) fits

_SKIP_KEYS = {"data", "msteams"}  # free-form data, not card structure
_SPLIT_KEYS = {
    "FactSet": "facts",
    "Container": "items",
    "ImageSet": "images",
    "ActionSet": "actions",
    "Table": "rows",
    "RichTextBlock": "inlines",
}
_TEXT_KEYS = ("text", "value", "title", "altText", "placeholder", "label", "errorMessage")


class CardRuleError(ValueError):
    """A card breaks a Teams rule; the message names the element (JSON path) and the rule."""

    def __init__(self, message: str, *, path: str = "", rule: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.rule = rule


def max_message_bytes() -> int:
    """The cap we aim for: 28 KB minus DELIVERY_MARGIN_BYTES (at least 4 KB stays usable)."""
    from shared import settings

    margin = settings.delivery().margin_bytes
    return max(4096, MAX_MESSAGE_BYTES - max(0, margin))


# --- rules --------------------------------------------------------------------------------------


def _walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key in _SKIP_KEYS:
                continue
            if isinstance(value, (dict, list)):
                yield from _walk(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


def _describe(path: str, node: dict[str, Any]) -> str:
    label = node.get("title") or node.get("id")
    return f"{path or 'card'} ({node.get('type')}{f' {label!r}' if label else ''})"


def _check_version(card: dict[str, Any], most: tuple[int, int], where: str) -> None:
    if card.get("type") != "AdaptiveCard":
        raise CardRuleError("card: type must be 'AdaptiveCard'", path="type", rule="type")
    version = card.get("version")
    if not isinstance(version, str) or not version:
        raise CardRuleError(
            f"card: version is required ({where} show Adaptive Card {most[0]}.{most[1]} or earlier)",
            path="version",
            rule="version",
        )
    try:
        parts = tuple(int(p) for p in version.split("."))
    except ValueError:
        raise CardRuleError(
            f"card: version {version!r} is not a version number", path="version", rule="version"
        ) from None
    if parts[:2] > most:
        raise CardRuleError(
            f"card: version {version} is above {most[0]}.{most[1]}, the highest {where} show",
            path="version",
            rule="version",
        )
    body = card.get("body")
    if body is not None and not isinstance(body, list):
        raise CardRuleError("card: body must be a list of elements", path="body", rule="body")


def _check_actions(
    card: CardLike,
    most: tuple[int, int],
    shown_by: str,
    refused: Callable[[str], bool],
    where: str,
    rule: str,
) -> None:
    """Version and shape, then the first action (anywhere, by JSON path) whose lower-cased type
    `refused` rejects."""
    data = card_dict(card)
    _check_version(data, most, shown_by)
    for path, node in _walk(data, ""):
        kind = node.get("type")
        if isinstance(kind, str) and kind.lower().startswith("action.") and refused(kind.lower()):
            raise CardRuleError(
                f"{_describe(path, node)}: {kind} is not allowed in {where}",
                path=path,
                rule=rule,
            )


def check_webhook(card: CardLike) -> None:
    """Rules for Workflows deliveries: version <= 1.4 and only Action.OpenUrl (the Flow bot shows
    nothing newer and runs nothing else). `workflows.for_workflows` makes a card follow them."""
    _check_actions(
        card,
        MAX_WEBHOOK_VERSION,
        "Teams Workflows posts",
        lambda kind: kind != "action.openurl",
        "Teams Workflows posts (only Action.OpenUrl works there)",
        "webhook-actions",
    )


def check_reply(card: CardLike) -> None:
    """Rules for outgoing-webhook replies: version <= 1.5 and only Action.OpenUrl."""
    _check_actions(
        card,
        MAX_VERSION,
        "Teams bot replies",
        lambda kind: kind != "action.openurl",
        "outgoing-webhook replies (only Action.OpenUrl)",
        "reply-actions",
    )


# --- size ---------------------------------------------------------------------------------------


def _size(obj: Any) -> int:
    return len(dumps(obj))


def message_size(card: CardLike, *, for_reply: bool = False) -> int:
    """UTF-8 bytes of the envelope that would be POSTed (or returned) for this card."""
    return _size(reply(card=card) if for_reply else workflows_message(card))


def _is_list_line(line: str) -> bool:
    stripped = line.lstrip()
    return stripped[:2] in ("- ", "* ") or stripped[:1].isdigit()


def _count(element: dict[str, Any]) -> int:
    """How many 'things' an element shows, for the `+N more` line."""
    kind = element.get("type")
    key = _SPLIT_KEYS.get(kind) if isinstance(kind, str) else None
    if key and key != "items" and isinstance(element.get(key), list):
        return max(1, len(element[key]))
    if key == "items" and isinstance(element.get("items"), list):
        return max(1, sum(_count(i) for i in element["items"] if isinstance(i, dict)))
    text = element.get("text")
    if kind == "TextBlock" and isinstance(text, str):
        lines = [line for line in text.split("\n") if line.strip()]
        if len(lines) > 1 and all(_is_list_line(line) for line in lines):
            return len(lines)
    return 1


def _cut(text: str, max_bytes: int) -> str:
    """Drop about `max_bytes` UTF-8 bytes from the end of text, never splitting a character."""
    raw = text.encode("utf-8")
    keep = max(0, len(raw) - max_bytes)
    return raw[:keep].decode("utf-8", errors="ignore")


def _strings(node: Any) -> Iterator[tuple[Any, Any, str]]:
    """(container, key, text) for every visible text string under node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _TEXT_KEYS and isinstance(value, str):
                yield node, key, value
            elif isinstance(value, (dict, list)) and key not in _SKIP_KEYS:
                yield from _strings(value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, str):
                yield node, index, value
            else:
                yield from _strings(value)


def _truncate(element: dict[str, Any], budget: int) -> dict[str, Any]:
    """Shorten the longest texts of an element until it fits, marking each cut visibly."""
    result = copy.deepcopy(element)
    for _ in range(64):
        excess = _size(result) - budget
        if excess <= 0:
            return result
        candidates = [
            (len(text.encode("utf-8")), holder, key, text)
            for holder, key, text in _strings(result)
            if len(text) > len(TRUNCATED_MARKER) * 2
        ]
        if not candidates:
            break
        _, holder, key, text = max(candidates, key=lambda c: c[0])
        base = text[: -len(TRUNCATED_MARKER)] if text.endswith(TRUNCATED_MARKER) else text
        # JSON escaping can make a byte cost more than one; overshoot a little to converge.
        cut = excess + len(TRUNCATED_MARKER.encode("utf-8")) + 8 + excess // 8
        holder[key] = _cut(base, cut).rstrip() + TRUNCATED_MARKER
    if _size(result) <= budget:
        return result
    kind = element.get("type", "element")
    placeholder = {
        "type": "TextBlock",
        "text": f"[{kind} too large to show here ({_size(element)} bytes)]",
        "wrap": True,
        "isSubtle": True,
    }
    if _size(placeholder) > budget:
        raise CardRuleError(f"no room left for even a placeholder of {kind}", rule="size")
    return placeholder


Unit = tuple[dict[str, Any], int, int]  # (element, how many things it shows, JSON bytes)


def _group(units: list[Unit], budget: int) -> list[list[Unit]]:
    """Greedy packing of units into runs whose JSON list items fit `budget`."""
    groups: list[list[Unit]] = []
    current: list[Unit] = []
    used = 0
    for unit in units:
        cost = unit[2] + (1 if current else 0)
        if current and used + cost > budget:
            groups.append(current)
            current, used = [], 0
            cost = unit[2]
        current.append(unit)
        used += cost
    if current:
        groups.append(current)
    return groups


def _split_text_block(element: dict[str, Any], budget: int) -> list[Unit]:
    lines = str(element.get("text", "")).split("\n")
    shell = {**element, "text": ""}
    inner = budget - _size(shell)
    if len(lines) < 2 or inner < 64:
        done = _truncate(element, budget)
        return [(done, _count(element), _size(done))]
    pieces: list[Unit] = []
    for line in lines:
        cost = _size(line) - 2 + 2  # no quotes, plus the escaped newline that joins it
        if cost > inner:
            line = _cut(line, cost - inner + len(TRUNCATED_MARKER) + 16).rstrip() + TRUNCATED_MARKER
            cost = _size(line)
        pieces.append(({"line": line}, 1, cost))
    out: list[Unit] = []
    for index, group in enumerate(_group(pieces, inner)):
        block = {**element, "text": "\n".join(p[0]["line"] for p in group).strip("\n")}
        if index and "id" in block:
            del block["id"]
        if not block["text"]:
            continue
        out.append((block, _count(block), _size(block)))
    return out


def _split_element(element: dict[str, Any], budget: int) -> list[Unit]:
    """Break an element into pieces of at most `budget` bytes each, in order."""
    size = _size(element)
    if size <= budget:
        return [(element, _count(element), size)]
    kind = element.get("type")
    key = _SPLIT_KEYS.get(kind) if isinstance(kind, str) else None
    children = element.get(key) if key else None
    if key and isinstance(children, list) and children:
        keep: list[Any] = []
        rest = children
        if kind == "Table" and element.get("firstRowAsHeader", True) and len(children) > 1:
            keep, rest = children[:1], children[1:]
        shell = {**element, key: list(keep)}
        inner = budget - _size(shell) - 1
        if inner >= 64:
            pieces: list[Unit] = []
            for child in rest:
                if kind == "Container" and isinstance(child, dict):
                    pieces.extend(_split_element(child, inner))
                    continue
                child_size = _size(child)
                if child_size > inner and isinstance(child, dict):
                    child = _truncate(child, inner)
                    child_size = _size(child)
                elif child_size > inner:  # a bare string inline
                    child = _cut(str(child), child_size - inner + 32) + TRUNCATED_MARKER
                    child_size = _size(child)
                counted = _count(child) if kind == "Container" and isinstance(child, dict) else 1
                pieces.append((child if isinstance(child, dict) else {"__raw__": child}, counted, child_size))
            out: list[Unit] = []
            for index, group in enumerate(_group(pieces, inner)):
                items = [p[0]["__raw__"] if "__raw__" in p[0] else p[0] for p in group]
                piece = {**element, key: keep + items}
                if index and "id" in piece:
                    del piece["id"]
                out.append((piece, sum(p[1] for p in group), _size(piece)))
            return out
    if kind == "TextBlock":
        return _split_text_block(element, budget)
    done = _truncate(element, budget)
    return [(done, _count(element), _size(done))]


def _labelled(header: dict[str, Any] | None, k: int, n: int) -> dict[str, Any]:
    label = f"({k}/{n})"
    if header is None:
        return {"type": "TextBlock", "text": f"{k}/{n}", "isSubtle": True, "wrap": True}
    result = copy.deepcopy(header)
    stack: list[dict[str, Any]] = [result]
    while stack:
        node = stack.pop(0)
        if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
            node["text"] = f"{node['text']} {label}"
            return result
        stack.extend(i for i in node.get("items") or [] if isinstance(i, dict))
    items = result.get("items")
    if isinstance(items, list):
        items.append({"type": "TextBlock", "text": label, "isSubtle": True, "wrap": True})
        return result
    return result


def _more_note(count: int, more_url: str | None) -> dict[str, Any]:
    text = f"+{count} more"
    if more_url:
        text += f": [see everything]({more_url})"
    return {"type": "TextBlock", "text": text, "wrap": True, "isSubtle": True, "separator": True}


def _is_header(element: Any) -> bool:
    return isinstance(element, dict) and (
        element.get("id") == HEADER_ID or element.get("type") == "TextBlock"
    )


def fit(
    card: CardLike,
    max_bytes: int | None = None,
    more_url: str | None = None,
    *,
    for_reply: bool = False,
    max_parts: int | None = None,
) -> list[Any]:
    """One or more cards, each of whose envelopes is at most `max_bytes` (default: the cap minus
    DELIVERY_MARGIN_BYTES). A card that fits comes back unchanged as the only item.

    `max_parts` limits the number of messages (default: unlimited, or 1 when `more_url` is given);
    what does not fit in the last allowed part is summarised as `+N more` (linked to `more_url`).
    Raises CardRuleError only when the card-level parts alone (header, actions, mentions) cannot
    fit, i.e. when no correct message exists.
    """
    data = card_dict(card)
    limit = max_bytes if max_bytes is not None else max_message_bytes()
    if message_size(data, for_reply=for_reply) <= limit:
        return [card]
    part_limit = max_parts if max_parts is not None else (1 if more_url else None)
    if part_limit is not None and part_limit < 1:
        raise ValueError("max_parts must be at least 1")

    body = [e for e in (data.get("body") or [])]
    header: dict[str, Any] | None = body.pop(0) if body and _is_header(body[0]) else None
    skeleton = {k: v for k, v in data.items() if k != "body"}
    # Card-level texts Teams shows only in notifications or to old clients: every part repeats
    # them, so a long one (a reply's full-text fallback, say) is shortened, visibly.
    for key in ("fallbackText", "speak"):
        value = skeleton.get(key)
        if isinstance(value, str) and len(value.encode("utf-8")) > FALLBACK_TEXT_BYTES:
            skeleton[key] = _cut(value, len(value.encode("utf-8")) - FALLBACK_TEXT_BYTES) + TRUNCATED_MARKER

    def overhead(head: dict[str, Any] | None, with_note: bool) -> int:
        probe_body = [head] if head is not None else []
        if with_note:
            probe_body.append(_more_note(10**9, more_url))
        probe = {**skeleton, "body": probe_body}
        # a comma per extra element
        return message_size(probe, for_reply=for_reply) + (1 if probe_body else 0)

    if header is not None and overhead(_labelled(header, 999, 999), True) > limit // 2:
        header = _truncate(header, limit // 4)
    fixed = overhead(_labelled(header, 999, 999), part_limit is not None)
    budget = limit - fixed
    if budget < MIN_BODY_BYTES:
        raise CardRuleError(
            f"card-level content (header, actions, mentions) takes {fixed} bytes of the {limit} allowed",
            rule="size",
        )

    units: list[Unit] = []
    for element in body:
        if isinstance(element, dict):
            units.extend(_split_element(element, budget))
        else:
            units.append((element, 1, _size(element)))
    groups = _group(units, budget)

    hidden = 0
    if part_limit is not None and len(groups) > part_limit:
        hidden = sum(u[1] for g in groups[part_limit:] for u in g)
        groups = groups[:part_limit]

    entities = (data.get("msteams") or {}).get("entities") if isinstance(data.get("msteams"), dict) else None
    total = len(groups)
    parts: list[dict[str, Any]] = []
    for index, group in enumerate(groups, start=1):
        part_body: list[Any] = []
        if total > 1:
            part_body.append(_labelled(header, index, total))
        elif header is not None:
            part_body.append(header)
        part_body.extend(u[0] for u in group)
        if hidden and index == total:
            part_body.append(_more_note(hidden, more_url))
        part = {**skeleton, "body": part_body}
        if isinstance(entities, list):
            # Teams refuses a mention entity whose text the card does not show: keep those shown.
            shown = [text for _, _, text in _strings(part_body)]
            kept = [
                e
                for e in entities
                if not isinstance(e, dict) or any(str(e.get("text", "")) in text for text in shown)
            ]
            msteams = {**data["msteams"]}
            if kept:
                msteams["entities"] = kept
            else:
                msteams.pop("entities", None)
            if msteams:
                part["msteams"] = msteams
            else:
                part.pop("msteams", None)
        size = message_size(part, for_reply=for_reply)
        if size > limit:  # pragma: no cover - the budget above is conservative
            raise CardRuleError(f"part {index} came out at {size} bytes over {limit}", rule="size")
        parts.append(part)

    parse = None if isinstance(card, dict) else getattr(type(card), "parse", None)
    if parse is not None:
        return [parse(p) for p in parts]
    return parts
