"""The form of a card that the Workflows Flow bot displays: version 1.4 content, Action.OpenUrl only.

`for_workflows(card)` returns a new card (plain data) that a Workflows channel shows as its sender
meant it, or raises `CardRuleError` naming the element and its JSON path when no such form exists.
Posting it anyway would be worse: Workflows answers 202 and the channel shows "this card couldn't
be displayed", or a button that answers "Something went wrong" (teams-platform.md §2.2).

What it does, and why each is faithful:

- A card labelled above 1.4 whose content is 1.4 is relabelled (the label alone breaks it).
- An element or action newer than 1.4, or of a type we do not know, is replaced by its own
  `fallback` when it has one (what any renderer without it shows; `"drop"` drops it).
- `Table` becomes a FactSet when it has two columns of plain text (a header row becomes a bold
  first fact), else a Container of one ColumnSet per row (column widths kept, header row bold,
  grid lines as row separators, row and cell styles and alignments kept).
- TextBlock `style: "heading"` becomes what Teams' host config makes of it: bold, large.
- Actions' `mode`, `tooltip` and `id` are dropped (a secondary action stays a button); an action
  with `isEnabled: false` is removed (it could not be pressed).
- `Action.ShowCard` becomes its card's content, appended after a separator under its title as a
  heading (after its ActionSet, or at the end of the body for card actions); `Action.
  ToggleVisibility` is dropped and its targets made visible (what pressing it would reveal is
  shown). A `selectAction` that is not `Action.OpenUrl` is removed (the element stays).
- `Action.Submit` and `Action.Execute` as buttons are refused: nothing behind a Workflows post can
  receive their data, and there is no visible form of "send this". So are mentions beyond Teams'
  20 users and 20 tags per message.
- Properties newer than 1.4 without meaning in a channel post are dropped: `rtl`, `metadata`,
  input `labelPosition`/`labelWidth`/`inputStyle`, `choices.data` (the static choices stay),
  Media `captionSources`, `refresh` and `authentication` (they need a bot); Input.Text
  `style: "password"` and ChoiceSet `style: "filtered"` fall back to plain styles; `null`
  values (the 1.5 schema's "not set") are dropped.

Idempotent: a card already in this form comes back equal. Works on dicts (models are accepted
and given back as dicts); pure Python, no pydantic.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from shared.cards.envelopes import CardLike, card_dict
from shared.cards.limits import CardRuleError
from shared.cards.versions import (
    ACTION_TYPES,
    ELEMENT_TYPES,
    INPUT_TYPES,
    KNOWN_MAX,
    TYPE_VERSIONS,
    WORKFLOWS_MAX,
    label,
    lowest,
    needs,
    parse_version,
)

MAX_USER_MENTIONS = 20
MAX_TAG_MENTIONS = 20

#: Teams' host config `textStyles.heading` (size large, weight bolder)
HEADING: dict[str, str] = {"weight": "Bolder", "size": "Large"}
#: properties newer than 1.4 that change nothing a channel member can read or do
_DROP_ALWAYS = ("rtl",)
_DROP_CARD = ("rtl", "metadata", "refresh", "authentication")
_DROP_INPUT = ("labelPosition", "labelWidth", "inputStyle")
_DROP_ACTION = ("mode", "tooltip", "id", "isEnabled")
#: TextBlock properties a FactSet value can stand for (anything else keeps the grid form)
_PLAIN_TEXT_KEYS = frozenset(
    {"type", "text", "wrap", "spacing", "separator", "horizontalAlignment", "maxLines", "weight"}
)
#: a table's cells after conversion: per row, per cell, (the cell as given, its items in 1.4 form)
Cells = list[list[tuple[Mapping[str, Any], list[dict[str, Any]]]]]
_NO_DATA = (
    "only Action.OpenUrl works in a Teams Workflows post (nothing there can receive its data); "
    "use an Action.OpenUrl link instead"
)


def _refuse(path: str, kind: str, reason: str, rule: str) -> CardRuleError:
    return CardRuleError(f"{path or 'card'} ({kind}): {reason}", path=path, rule=rule)


def _clean(node: Mapping[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A shallow copy without `null` values (the 1.5 schema's "not set") and `drop` keys."""
    return {k: v for k, v in node.items() if v is not None and k not in drop}


def _type(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    return kind if isinstance(kind, str) else ""


def mention_counts(card: Mapping[str, Any]) -> tuple[int, int]:
    """(user mentions, tag mentions) in the card's `msteams.entities`."""
    msteams = card.get("msteams")
    entities = msteams.get("entities") if isinstance(msteams, Mapping) else None
    users = tags = 0
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, Mapping) or str(entity.get("type", "")).lower() != "mention":
            continue
        mentioned = entity.get("mentioned")
        if isinstance(mentioned, Mapping) and str(mentioned.get("type", "")).lower() == "tag":
            tags += 1
        else:
            users += 1
    return users, tags


def _check_mentions(card: Mapping[str, Any]) -> None:
    users, tags = mention_counts(card)
    for count, most, what in ((users, MAX_USER_MENTIONS, "users"), (tags, MAX_TAG_MENTIONS, "tags")):
        if count > most:
            raise CardRuleError(
                f"msteams.entities: {count} {what} mentioned; Teams allows at most "
                f"{MAX_USER_MENTIONS} users and {MAX_TAG_MENTIONS} tags per message",
                path="msteams.entities",
                rule="mentions",
            )


class _Converter:
    """One conversion: collects the ids that ToggleVisibility actions would have revealed."""

    def __init__(self) -> None:
        self.reveal: set[str] = set()

    # --- actions ---------------------------------------------------------------------------

    def _toggle(self, action: Mapping[str, Any]) -> None:
        for target in action.get("targetElements") or []:
            element_id = target.get("elementId") if isinstance(target, Mapping) else target
            if isinstance(element_id, str) and element_id:
                self.reveal.add(element_id)

    def _resolve(self, action: Mapping[str, Any], path: str) -> tuple[Mapping[str, Any] | None, str]:
        """An action of a type we do not know becomes its own fallback (None for "drop")."""
        while _type(action) not in ACTION_TYPES:
            fallback = action.get("fallback")
            if fallback == "drop":
                return None, path
            if not isinstance(fallback, Mapping):
                raise _refuse(
                    path,
                    _type(action) or "action",
                    "unknown action type without a fallback; Teams Workflows posts show Action.OpenUrl only",
                    "workflows-actions",
                )
            action, path = fallback, f"{path}.fallback"
        return action, path

    def select_action(self, action: Any, path: str) -> dict[str, Any] | None:
        """A selectAction: OpenUrl stays, ToggleVisibility reveals its targets, the rest goes."""
        if not isinstance(action, Mapping) or action.get("isEnabled") is False:
            return None
        kind = _type(action)
        if kind == "Action.OpenUrl":
            return _clean(action, _DROP_ACTION)
        if kind == "Action.ToggleVisibility":
            self._toggle(action)
        return None

    def actions(self, actions: Any, path: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(buttons that stay, elements that ShowCard actions become)."""
        kept: list[dict[str, Any]] = []
        shown: list[dict[str, Any]] = []
        for index, given in enumerate(actions if isinstance(actions, list) else []):
            if not isinstance(given, Mapping):
                continue
            action, where = self._resolve(given, f"{path}[{index}]")
            if action is None or action.get("isEnabled") is False:
                continue  # dropped by its fallback, or disabled: it could not be pressed
            kind = _type(action)
            if kind == "Action.OpenUrl":
                kept.append(_clean(action, _DROP_ACTION))
            elif kind == "Action.ToggleVisibility":
                self._toggle(action)
            elif kind == "Action.ShowCard":
                shown.append(self.show_card(action, where))
            else:
                raise _refuse(where, kind, _NO_DATA, "workflows-actions")
        return kept, shown

    def show_card(self, action: Mapping[str, Any], path: str) -> dict[str, Any]:
        """What the ShowCard would show, shown at once: a separated block under its title."""
        given = action.get("card")
        inner: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        items: list[dict[str, Any]] = []
        title = action.get("title")
        if isinstance(title, str) and title.strip():
            items.append(
                {"type": "TextBlock", "text": title, "wrap": True, "weight": "Bolder", "size": "Medium"}
            )
        items.extend(self.elements(inner.get("body"), f"{path}.card.body"))
        buttons, shown = self.actions(inner.get("actions"), f"{path}.card.actions")
        if buttons:
            items.append({"type": "ActionSet", "actions": buttons})
        items.extend(shown)
        block: dict[str, Any] = {"type": "Container", "separator": True, "spacing": "Medium", "items": items}
        select = self.select_action(inner.get("selectAction"), f"{path}.card.selectAction")
        if select is not None:
            block["selectAction"] = select
        return block

    # --- elements --------------------------------------------------------------------------

    def elements(self, elements: Any, path: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for index, element in enumerate(elements if isinstance(elements, list) else []):
            if isinstance(element, Mapping):
                out.extend(self.element(element, f"{path}[{index}]"))
        return out

    def element(self, element: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
        """The element's 1.4 form: usually one element, none when dropped, more after an ActionSet."""
        kind = _type(element)
        newer = TYPE_VERSIONS.get(kind, (1, 0)) > WORKFLOWS_MAX
        if kind not in ELEMENT_TYPES or (newer and "fallback" in element):
            fallback = element.get("fallback")
            if fallback == "drop":
                return []
            if isinstance(fallback, Mapping):
                return self.element(fallback, f"{path}.fallback")
            if kind not in ELEMENT_TYPES:
                reason = "unknown element type without a fallback"
                raise _refuse(path, kind or "element", reason, "workflows-version")
        if kind == "Table":
            return self.table(element, path)
        node = _clean(element, _DROP_ALWAYS)
        self._convert_fallback(node, path)
        if kind == "TextBlock":
            style = node.pop("style", None)
            if isinstance(style, str) and style.strip().lower() == "heading":
                for key, value in HEADING.items():
                    node.setdefault(key, value)
        elif kind in INPUT_TYPES:
            self._input(node, kind, path)
        elif kind == "Media":
            node.pop("captionSources", None)
        elif kind in ("Container",):
            node["items"] = self.elements(node.get("items"), f"{path}.items")
        elif kind == "ColumnSet":
            columns = node.get("columns")
            if isinstance(columns, list):
                node["columns"] = [
                    self.column(c, f"{path}.columns[{i}]")
                    for i, c in enumerate(columns)
                    if isinstance(c, Mapping)
                ]
        elif kind == "ImageSet":
            images = node.get("images")
            if isinstance(images, list):
                node["images"] = [
                    self._selectable(_clean(image), f"{path}.images[{i}]")
                    for i, image in enumerate(images)
                    if isinstance(image, Mapping)
                ]
        elif kind == "RichTextBlock":
            inlines = node.get("inlines")
            if isinstance(inlines, list):
                node["inlines"] = [self._inline(run, f"{path}.inlines[{i}]") for i, run in enumerate(inlines)]
        elif kind == "ActionSet":
            buttons, shown = self.actions(node.get("actions"), f"{path}.actions")
            if not buttons:
                return shown
            node["actions"] = buttons
            return [self._selectable(node, path), *shown]
        return [self._selectable(node, path)]

    def _inline(self, run: Any, path: str) -> Any:
        if not isinstance(run, Mapping):
            return run
        if _type(run) != "TextRun":
            raise _refuse(path, _type(run) or "inline", "unknown inline type", "workflows-version")
        return self._selectable(_clean(run), path)

    def _convert_fallback(self, node: dict[str, Any], path: str) -> None:
        """A supported element keeps its fallback in 1.4 form, or loses it (it is never shown then)."""
        fallback = node.get("fallback")
        if not isinstance(fallback, Mapping):
            return
        try:
            converted = self.element(fallback, f"{path}.fallback")
        except CardRuleError:
            converted = []
        if len(converted) == 1:
            node["fallback"] = converted[0]
        else:
            del node["fallback"]

    def _selectable(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        if "selectAction" in node:
            where = f"{path}.selectAction" if path else "selectAction"  # "" is the card itself
            select = self.select_action(node["selectAction"], where)
            if select is None:
                del node["selectAction"]
            else:
                node["selectAction"] = select
        if isinstance(node.get("backgroundImage"), Mapping):
            node["backgroundImage"] = _clean(node["backgroundImage"])
        return node

    def _input(self, node: dict[str, Any], kind: str, path: str) -> None:
        for key in _DROP_INPUT:
            node.pop(key, None)
        style = str(node.get("style") or "").strip().lower()
        if kind == "Input.Text":
            if style == "password":
                del node["style"]  # what is typed shows; it is never sent anywhere
            inline = node.get("inlineAction")
            kind_of = _type(inline) if isinstance(inline, Mapping) else ""
            pressable = isinstance(inline, Mapping) and inline.get("isEnabled") is not False
            if pressable and kind_of in ("Action.Submit", "Action.Execute"):  # a visible button
                raise _refuse(f"{path}.inlineAction", kind_of, _NO_DATA, "workflows-actions")
            if "inlineAction" in node:
                select = self.select_action(inline, f"{path}.inlineAction")
                if select is None:
                    del node["inlineAction"]
                else:
                    node["inlineAction"] = select
        elif kind == "Input.ChoiceSet":
            node.pop("choices.data", None)
            if style == "filtered":
                node["style"] = "compact"

    def column(self, column: Mapping[str, Any], path: str) -> dict[str, Any]:
        node = _clean(column, _DROP_ALWAYS)
        if "items" in node:
            node["items"] = self.elements(node["items"], f"{path}.items")
        self._convert_fallback(node, path)
        return self._selectable(node, path)

    # --- tables ----------------------------------------------------------------------------

    def table(self, table: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
        rows = [r for r in table.get("rows") or [] if isinstance(r, Mapping)]
        definitions = [c for c in table.get("columns") or [] if isinstance(c, Mapping)]
        if not rows:
            return []
        header = table.get("firstRowAsHeader") is not False
        cells: Cells = []
        for r, row in enumerate(rows):
            line = []
            for c, cell in enumerate(row.get("cells") or []):
                cell = cell if isinstance(cell, Mapping) else {}
                line.append((cell, self.elements(cell.get("items"), f"{path}.rows[{r}].cells[{c}].items")))
            cells.append(line)
        width = max(len(definitions), *(len(line) for line in cells))
        if width == 2 and self._plain(rows, cells):
            facts = self._facts(cells, header and len(rows) > 1)
            out: dict[str, Any] = {"type": "FactSet", "facts": facts}
        else:
            out = self._grid(table, rows, definitions, cells, width, header, path)
        for key in ("id", "isVisible", "separator", "spacing", "height", "requires"):
            if table.get(key) is not None:
                out[key] = table[key]
        return [out]

    @staticmethod
    def _plain(rows: list[Mapping[str, Any]], cells: Cells) -> bool:
        """Every cell is text only (TextBlocks without colours or sizes), every row unstyled."""
        if any(row.get("style") is not None for row in rows):
            return False
        for line in cells:
            for cell, items in line:
                if set(cell) - {"type", "items"}:
                    return False
                for item in items:
                    if _type(item) != "TextBlock" or set(item) - _PLAIN_TEXT_KEYS:
                        return False
        return True

    @staticmethod
    def _facts(cells: Cells, header: bool) -> list[dict[str, str]]:
        def text(items: list[dict[str, Any]], bold: bool) -> str:
            parts = []
            for item in items:
                value = str(item.get("text", ""))
                if value and (bold or str(item.get("weight", "")).lower() == "bolder") and "**" not in value:
                    value = f"**{value}**"
                parts.append(value)
            return "\n\n".join(p for p in parts if p)

        facts = []
        for r, line in enumerate(cells):
            pair = [text(items, header and r == 0) for _, items in line] + ["", ""]
            facts.append({"title": pair[0], "value": pair[1]})
        return facts

    def _grid(
        self,
        table: Mapping[str, Any],
        rows: list[Mapping[str, Any]],
        definitions: list[Mapping[str, Any]],
        cells: Cells,
        width: int,
        header: bool,
        path: str,
    ) -> dict[str, Any]:
        lines = table.get("showGridLines") is not False
        sets: list[dict[str, Any]] = []
        for r, (row, line) in enumerate(zip(rows, cells, strict=True)):
            columns: list[dict[str, Any]] = []
            for c in range(width):
                definition = definitions[c] if c < len(definitions) else {}
                cell, items = line[c] if c < len(line) else ({}, [])
                if header and r == 0:
                    for item in items:
                        if _type(item) == "TextBlock":
                            item.setdefault("weight", "Bolder")
                align = (
                    row.get("horizontalCellContentAlignment")
                    or definition.get("horizontalCellContentAlignment")
                    or table.get("horizontalCellContentAlignment")
                )
                if align:
                    for item in items:
                        if _type(item) in ("TextBlock", "RichTextBlock", "Image"):
                            item.setdefault("horizontalAlignment", align)
                column: dict[str, Any] = {
                    "type": "Column",
                    "width": _width(definition.get("width", 1)),
                    "items": items,
                }
                for key in ("style", "bleed", "minHeight", "backgroundImage", "selectAction"):
                    if cell.get(key) is not None:
                        column[key] = cell[key]
                vertical = (
                    cell.get("verticalContentAlignment")
                    or row.get("verticalCellContentAlignment")
                    or definition.get("verticalCellContentAlignment")
                    or table.get("verticalCellContentAlignment")
                )
                if vertical:
                    column["verticalContentAlignment"] = vertical
                columns.append(self._selectable(column, f"{path}.rows[{r}].cells[{c}]"))
            row_set: dict[str, Any] = {"type": "ColumnSet", "columns": columns}
            if row.get("style") is not None:
                row_set["style"] = row["style"]
            if lines and r > 0:
                row_set["separator"] = True
            sets.append(row_set)
        return {"type": "Container", "items": sets}

    # --- the card --------------------------------------------------------------------------

    def card(self, card: Mapping[str, Any]) -> dict[str, Any]:
        out = _clean(card, _DROP_CARD)
        body = self.elements(card.get("body"), "body")
        buttons, shown = self.actions(card.get("actions"), "actions")
        out["body"] = body + shown
        if buttons:
            out["actions"] = buttons
        else:
            out.pop("actions", None)
        return self._selectable(out, "")


def _width(value: Any) -> int | float | str:
    """A table column's width as a Column's: a weight (a number, also when written as text) or "Npx"."""
    if isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text if text.lower().endswith("px") else 1
    return int(number) if number.is_integer() else number


def _reveal(node: Any, ids: set[str]) -> None:
    """Make the elements with these ids visible (what their ToggleVisibility would have shown)."""
    if isinstance(node, dict):
        if node.get("id") in ids and node.get("isVisible") is False:
            del node["isVisible"]
        for key, value in node.items():
            if key not in ("msteams", "data"):
                _reveal(value, ids)
    elif isinstance(node, list):
        for value in node:
            _reveal(value, ids)


def check_declared(card: Mapping[str, Any]) -> None:
    """Shape and label: an AdaptiveCard with a version number we know the schema of."""
    if card.get("type") != "AdaptiveCard":
        raise CardRuleError("card: type must be 'AdaptiveCard'", path="type", rule="type")
    declared = parse_version(card.get("version"))
    if declared is None:
        raise CardRuleError(
            f'card: version {card.get("version")!r} is not a version number (e.g. "1.4")',
            path="version",
            rule="version",
        )
    if declared > KNOWN_MAX:
        raise CardRuleError(
            f"card: version {label(declared)} is newer than {label(KNOWN_MAX)}, the last version we know",
            path="version",
            rule="version",
        )
    if card.get("body") is not None and not isinstance(card.get("body"), list):
        raise CardRuleError("card: body must be a list of elements", path="body", rule="body")


def for_workflows(card: CardLike) -> dict[str, Any]:
    """The card in the form a Workflows channel displays (see the module docstring).

    Raises CardRuleError (`.path`, `.rule`) for what has no such form.
    """
    data = card_dict(card)
    check_declared(data)
    converter = _Converter()
    out = converter.card(copy.deepcopy(data))
    if converter.reveal:
        _reveal(out, converter.reveal)
    _check_mentions(out)
    for need in needs(out):
        if need.version > WORKFLOWS_MAX:  # a part of a type we kept as it came
            reason = f"needs Adaptive Card {label(need.version)}; Teams Workflows shows 1.4 at most"
            raise _refuse(need.path, need.what, reason, "workflows-version")
    declared = parse_version(out.get("version")) or WORKFLOWS_MAX
    out["version"] = label(max(lowest(out), min(declared, WORKFLOWS_MAX)))
    return out
