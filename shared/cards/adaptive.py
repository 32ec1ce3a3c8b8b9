"""Pydantic models of the whole Adaptive Card 1.5 schema, plus Teams' `msteams` extension.

These parse and re-serialise *foreign* cards (the adaptivecard pass-through, MessageCard
conversion, tests) without losing anything: every model allows extra properties, scalar fields
are strict (no silent coercion of `"2"` into `2`), enum-like fields stay plain strings (the spec
matches them case-insensitively, so we must not normalise them), and an element, action or inline
of an unknown `type` becomes an `Unknown*` model that keeps its JSON as it came (the spec's
fallback rules are the renderer's job, not ours). `to_dict()` dumps with `exclude_unset`, so no
default is ever invented.

Defining ~50 models costs tens of milliseconds, so the cold-start paths (builders, limits,
envelopes) work on plain dicts and never import this module.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

Number = int | float


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with only what was set (or given), under the JSON names."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


# --- shared pieces ------------------------------------------------------------------------------


class BackgroundImage(_Model):
    type: str | None = None
    url: str | None = None
    fillMode: str | None = None
    horizontalAlignment: str | None = None
    verticalAlignment: str | None = None


class _Item(_Model):
    type: str | None = None
    requires: dict[str, str] | None = None


class _ToggleableItem(_Item):
    id: str | None = None
    isVisible: bool | None = None


class _Element(_ToggleableItem):
    fallback: Element | str | None = None
    height: str | None = None
    separator: bool | None = None
    spacing: str | None = None


class _Action(_Item):
    id: str | None = None
    title: str | None = None
    iconUrl: str | None = None
    style: str | None = None
    fallback: Action | str | None = None
    tooltip: str | None = None
    isEnabled: bool | None = None
    mode: str | None = None


class _Input(_Element):
    errorMessage: str | None = None
    isRequired: bool | None = None
    label: str | None = None


# --- actions -----------------------------------------------------------------------------------


class ActionOpenUrl(_Action):
    url: str | None = None


class ActionShowCard(_Action):
    card: AdaptiveCard | None = None


class TargetElement(_Model):
    type: str | None = None
    elementId: str | None = None
    isVisible: bool | None = None


class ActionToggleVisibility(_Action):
    targetElements: list[TargetElement | str] | None = None


class ActionSubmit(_Action):
    data: Any = None
    associatedInputs: str | None = None


class ActionExecute(_Action):
    verb: str | None = None
    data: Any = None
    associatedInputs: str | None = None


class UnknownAction(_Model):
    """An action type this schema does not know: kept verbatim."""


# --- elements ----------------------------------------------------------------------------------


class TextBlock(_Element):
    text: str | None = None
    color: str | None = None
    fontType: str | None = None
    horizontalAlignment: str | None = None
    isSubtle: bool | None = None
    maxLines: Number | None = None
    size: str | None = None
    weight: str | None = None
    wrap: bool | None = None
    style: str | None = None


class TextRun(_Model):
    type: str | None = None
    text: str | None = None
    color: str | None = None
    fontType: str | None = None
    highlight: bool | None = None
    isSubtle: bool | None = None
    italic: bool | None = None
    selectAction: Action | None = None
    size: str | None = None
    strikethrough: bool | None = None
    underline: bool | None = None
    weight: str | None = None


class UnknownInline(_Model):
    """An inline of a type other than TextRun: kept verbatim."""


class RichTextBlock(_Element):
    inlines: list[Inline] | None = None
    horizontalAlignment: str | None = None


class Image(_Element):
    url: str | None = None
    altText: str | None = None
    backgroundColor: str | None = None
    horizontalAlignment: str | None = None
    selectAction: Action | None = None
    size: str | None = None
    style: str | None = None
    width: str | None = None


class ImageSet(_Element):
    images: list[Image] | None = None
    imageSize: str | None = None


class MediaSource(_Model):
    type: str | None = None
    mimeType: str | None = None
    url: str | None = None


class Media(_Element):
    sources: list[MediaSource] | None = None
    poster: str | None = None
    altText: str | None = None


class _Stylable(_Model):
    """What Container, Column and TableCell share (the schema's StylableContainer)."""

    items: list[Element] | None = None
    selectAction: Action | None = None
    style: str | None = None
    verticalContentAlignment: str | None = None
    bleed: bool | None = None
    backgroundImage: BackgroundImage | str | None = None
    minHeight: str | None = None
    rtl: bool | None = None


class Container(_Element, _Stylable):
    pass


class Column(_ToggleableItem, _Stylable):
    fallback: Column | str | None = None
    separator: bool | None = None
    spacing: str | None = None
    width: str | Number | None = None


class ColumnSet(_Element):
    columns: list[Column] | None = None
    selectAction: Action | None = None
    style: str | None = None
    bleed: bool | None = None
    minHeight: str | None = None
    horizontalAlignment: str | None = None


class Fact(_Model):
    type: str | None = None
    title: str | None = None
    value: str | None = None


class FactSet(_Element):
    facts: list[Fact] | None = None


class ActionSet(_Element):
    actions: list[Action] | None = None


class TableColumnDefinition(_Model):
    type: str | None = None
    width: str | Number | None = None
    horizontalCellContentAlignment: str | None = None
    verticalCellContentAlignment: str | None = None


class TableCell(_Stylable):
    type: str | None = None


class TableRow(_Model):
    type: str | None = None
    cells: list[TableCell] | None = None
    style: str | None = None
    horizontalCellContentAlignment: str | None = None
    verticalCellContentAlignment: str | None = None


class Table(_Element):
    columns: list[TableColumnDefinition] | None = None
    rows: list[TableRow] | None = None
    firstRowAsHeader: bool | None = None
    showGridLines: bool | None = None
    gridStyle: str | None = None
    horizontalCellContentAlignment: str | None = None
    verticalCellContentAlignment: str | None = None


class InputText(_Input):
    isMultiline: bool | None = None
    maxLength: Number | None = None
    placeholder: str | None = None
    regex: str | None = None
    style: str | None = None
    inlineAction: Action | None = None
    value: str | None = None


class InputNumber(_Input):
    max: Number | None = None
    min: Number | None = None
    placeholder: str | None = None
    value: Number | None = None


class _TextValueInput(_Input):
    """Input.Date and Input.Time: the same four string properties."""

    max: str | None = None
    min: str | None = None
    placeholder: str | None = None
    value: str | None = None


class InputDate(_TextValueInput):
    pass


class InputTime(_TextValueInput):
    pass


class InputToggle(_Input):
    title: str | None = None
    value: str | None = None
    valueOff: str | None = None
    valueOn: str | None = None
    wrap: bool | None = None


class InputChoice(_Model):
    type: str | None = None
    title: str | None = None
    value: str | None = None


class InputChoiceSet(_Input):
    choices: list[InputChoice] | None = None
    isMultiSelect: bool | None = None
    style: str | None = None
    value: str | None = None
    placeholder: str | None = None
    wrap: bool | None = None


class UnknownElement(_Model):
    """An element type this schema does not know (or a newer one): kept verbatim."""


# --- card-level --------------------------------------------------------------------------------


class TokenExchangeResource(_Model):
    type: str | None = None
    id: str | None = None
    uri: str | None = None
    providerId: str | None = None


class AuthCardButton(_Model):
    type: str | None = None
    title: str | None = None
    image: str | None = None
    value: str | None = None


class Authentication(_Model):
    type: str | None = None
    text: str | None = None
    connectionName: str | None = None
    tokenExchangeResource: TokenExchangeResource | None = None
    buttons: list[AuthCardButton] | None = None


class Refresh(_Model):
    type: str | None = None
    action: Action | None = None
    userIds: list[str] | None = None


class Mentioned(_Model):
    id: str | None = None
    name: str | None = None


class MsTeamsEntity(_Model):
    """A `mention` entity (`<at>` text + who); other entity kinds pass through as extras."""

    type: str | None = None
    text: str | None = None
    mentioned: Mentioned | None = None


class MsTeams(_Model):
    """Teams' extension on the card: `width: Full` and mention `entities`."""

    width: str | None = None
    entities: list[MsTeamsEntity] | None = None


class AdaptiveCard(_Model):
    type: str | None = None
    schema_: str | None = Field(default=None, alias="$schema")
    version: str | None = None
    refresh: Refresh | None = None
    authentication: Authentication | None = None
    body: list[Element] | None = None
    actions: list[Action] | None = None
    selectAction: Action | None = None
    fallbackText: str | None = None
    backgroundImage: BackgroundImage | str | None = None
    minHeight: str | None = None
    rtl: bool | None = None
    speak: str | None = None
    lang: str | None = None
    verticalContentAlignment: str | None = None
    msteams: MsTeams | None = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> AdaptiveCard:
        """Validate a foreign card; raises pydantic.ValidationError when it is not card-shaped."""
        return cls.model_validate(data)


# --- discriminated unions ----------------------------------------------------------------------

ELEMENT_TYPES: dict[str, type[_Model]] = {
    "TextBlock": TextBlock,
    "RichTextBlock": RichTextBlock,
    "Image": Image,
    "ImageSet": ImageSet,
    "Media": Media,
    "Container": Container,
    "ColumnSet": ColumnSet,
    "FactSet": FactSet,
    "ActionSet": ActionSet,
    "Table": Table,
    "Input.Text": InputText,
    "Input.Number": InputNumber,
    "Input.Date": InputDate,
    "Input.Time": InputTime,
    "Input.Toggle": InputToggle,
    "Input.ChoiceSet": InputChoiceSet,
}

ACTION_TYPES: dict[str, type[_Model]] = {
    "Action.OpenUrl": ActionOpenUrl,
    "Action.ShowCard": ActionShowCard,
    "Action.ToggleVisibility": ActionToggleVisibility,
    "Action.Submit": ActionSubmit,
    "Action.Execute": ActionExecute,
}

_UNKNOWN = "__unknown__"


def _type_of(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("type")
    if isinstance(value, (UnknownElement, UnknownAction, UnknownInline)):
        return _UNKNOWN
    return getattr(value, "type", None)


def _element_tag(value: Any) -> str:
    kind = _type_of(value)
    return kind if isinstance(kind, str) and kind in ELEMENT_TYPES else _UNKNOWN


def _action_tag(value: Any) -> str:
    kind = _type_of(value)
    return kind if isinstance(kind, str) and kind in ACTION_TYPES else _UNKNOWN


def _inline_tag(value: Any) -> str:
    if isinstance(value, str):
        return "str"
    kind = _type_of(value)
    return "TextRun" if kind == "TextRun" else _UNKNOWN


Element = Annotated[
    Annotated[TextBlock, Tag("TextBlock")]
    | Annotated[RichTextBlock, Tag("RichTextBlock")]
    | Annotated[Image, Tag("Image")]
    | Annotated[ImageSet, Tag("ImageSet")]
    | Annotated[Media, Tag("Media")]
    | Annotated[Container, Tag("Container")]
    | Annotated[ColumnSet, Tag("ColumnSet")]
    | Annotated[FactSet, Tag("FactSet")]
    | Annotated[ActionSet, Tag("ActionSet")]
    | Annotated[Table, Tag("Table")]
    | Annotated[InputText, Tag("Input.Text")]
    | Annotated[InputNumber, Tag("Input.Number")]
    | Annotated[InputDate, Tag("Input.Date")]
    | Annotated[InputTime, Tag("Input.Time")]
    | Annotated[InputToggle, Tag("Input.Toggle")]
    | Annotated[InputChoiceSet, Tag("Input.ChoiceSet")]
    | Annotated[UnknownElement, Tag(_UNKNOWN)],
    Discriminator(_element_tag),
]

Action = Annotated[
    Annotated[ActionOpenUrl, Tag("Action.OpenUrl")]
    | Annotated[ActionShowCard, Tag("Action.ShowCard")]
    | Annotated[ActionToggleVisibility, Tag("Action.ToggleVisibility")]
    | Annotated[ActionSubmit, Tag("Action.Submit")]
    | Annotated[ActionExecute, Tag("Action.Execute")]
    | Annotated[UnknownAction, Tag(_UNKNOWN)],
    Discriminator(_action_tag),
]

Inline = Annotated[
    Annotated[str, Tag("str")] | Annotated[TextRun, Tag("TextRun")] | Annotated[UnknownInline, Tag(_UNKNOWN)],
    Discriminator(_inline_tag),
]
