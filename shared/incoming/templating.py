"""The bounded Jinja2 sandbox of route templates (the generic source's ``template`` setting).

Jinja2's sandbox stops attribute escapes but not work: ``'x' * 10**9``, ``2 ** 10**9``,
``range`` in three nested loops or ``data.log|indent(99999)`` allocate gigabytes or spin for
minutes, and ``render()`` builds the whole output before we cut it at the value limit. Here every
operation that can make something big is checked before it runs (sizes, widths, powers), every
loop iteration and call is counted against one budget per render (and a wall-clock deadline), and
output is read from ``generate()`` only up to the value limit. A template over a bound raises
``TemplateLimit`` (a ``SecurityError``) naming the bound, never the data.

Markdown fields (a card's text, facts) render with every ``{{ value }}`` escaped as a literal
piece (``markdown.escape_piece``): the template's own text is Markdown, the sender's data is not.
``md_escape`` (kept for templates written before) marks a value as escaped already.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jinja2 import ChainableUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from shared.cards.markdown import Markdown, escape, escape_piece

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.runtime import Context

__all__ = [
    "MAX_RANGE",
    "MAX_SIZE",
    "MAX_STEPS",
    "TemplateLimit",
    "compiled",
    "render_value",
]

#: characters (or items) a value made by one operation may have, unless an operand was larger
MAX_SIZE = 100_000
#: loop iterations plus calls (filters, methods, macros) in one render
MAX_STEPS = 10_000
#: the longest `range` a template may ask for
MAX_RANGE = 10_000
#: the largest whole number an operation may make (Python's own cap on int -> str is 4,300 digits)
MAX_INT_BITS = 4_096
#: wall-clock time one render may take
MAX_SECONDS = 1.0

_LOOP_FILTER = "bounded loop"  # not a name a template can write: only our own For nodes use it
_WIDTH_RE = re.compile(r"%[-+ #0]*(?:\*|\d{4,})|%[-+ #0]*\d*\.(?:\*|\d{4,})")
_FORMAT_FIELD_RE = re.compile(r"\{[^{}]{0,200}(?:\{|\d{4,})")


class TemplateLimit(SecurityError):
    """A template asked for more than a bound allows; the message names the bound."""


class _Budget(threading.local):
    steps: int | None = None
    deadline: float = 0.0


_BUDGET = _Budget()


def _charge(count: int = 1) -> None:
    if _BUDGET.steps is None:
        return  # compile-time constant folding: no render is running
    _BUDGET.steps += count
    if _BUDGET.steps > MAX_STEPS:
        raise TemplateLimit(f"more than {MAX_STEPS} loop iterations and calls")
    if time.monotonic() > _BUDGET.deadline:
        raise TemplateLimit(f"rendering took longer than {MAX_SECONDS:g} s")


def _size(value: Any) -> int:
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset, range)):
        return len(value)
    return 0


def _check_size(made: int, *operands: Any, what: str) -> None:
    if made > max([MAX_SIZE, *(_size(o) for o in operands)]):
        raise TemplateLimit(f"{what} would make more than {MAX_SIZE} characters or items")


def _check_int(value: Any, what: str) -> None:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimit(f"{what} would make a number over {MAX_INT_BITS} bits")


def _check_format(text: Any) -> None:
    if isinstance(text, str) and (_WIDTH_RE.search(text) or _FORMAT_FIELD_RE.search(text)):
        raise TemplateLimit("a format width or precision over 999 (or a nested one)")


def _multiply(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateLimit(f"a product over {MAX_INT_BITS} bits")
    elif isinstance(right, int) and _size(left):
        _check_size(_size(left) * right, what="repeating a string or list")
    elif isinstance(left, int) and _size(right):
        _check_size(_size(right) * left, what="repeating a string or list")
    return left * right


def _power(left: Any, right: Any) -> Any:
    big = isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1
    if big and left.bit_length() * right > MAX_INT_BITS:
        raise TemplateLimit(f"a power over {MAX_INT_BITS} bits")
    return left**right


def _add(left: Any, right: Any) -> Any:
    if _size(left) and _size(right):
        _check_size(_size(left) + _size(right), left, right, what="joining two strings or lists")
    return left + right


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        _check_format(left)
    result = left % right
    _check_size(_size(result), left, right, what="formatting")
    return result


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": _multiply,
    "**": _power,
    "+": _add,
    "%": _modulo,
}


def _int_arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: int) -> int:
    value = args[index] if len(args) > index else kwargs.get(name, default)
    return value if isinstance(value, int) else default


def _precheck_text(name: str, text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """What a string operation would make, before it makes it (methods and filters alike)."""
    if name in ("center", "ljust", "rjust", "zfill"):
        _check_size(_int_arg(args, kwargs, 0, "width", 0), text, what=name)
    elif name == "indent":
        width = _int_arg(args, kwargs, 0, "width", 4)
        _check_size(len(text) + max(width, 0) * (text.count("\n") + 1), text, what="indent")
    elif name == "expandtabs":
        size = _int_arg(args, kwargs, 0, "tabsize", 8)
        _check_size(len(text) + max(size, 0) * text.count("\t"), text, what="expandtabs")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        count = text.count(args[0]) if args[0] else len(text) + 1
        limit = _int_arg(args, kwargs, 2, "count", -1)
        if limit >= 0:
            count = min(count, limit)
        _check_size(len(text) + count * len(args[1]), text, what="replace")
    elif name == "join" and args and isinstance(args[0], (list, tuple)):
        items = args[0]
        _check_size(sum(_size(i) or 8 for i in items) + len(text) * len(items), text, items, what="join")
    elif name in ("format", "format_map"):
        _check_format(text)


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _charge()
        values = [a for a in args if not _is_jinja_internal(a)]
        if values and isinstance(values[0], str):
            _precheck_text(name, values[0], tuple(values[1:]), kwargs)
        if name == "join" and values and isinstance(values[0], (list, tuple)):
            separator = values[1] if len(values) > 1 and isinstance(values[1], str) else ""
            _precheck_text("join", separator, (values[0],), {})
        result = func(*args, **kwargs)
        _check_size(_size(result), *values, what=f"the {name} filter")
        return result

    for attribute in ("jinja_pass_arg",):  # keep what Jinja reads off a filter (context, env)
        if hasattr(func, attribute):
            setattr(bounded, attribute, getattr(func, attribute))
    return bounded


def _is_jinja_internal(value: Any) -> bool:
    from jinja2 import Environment
    from jinja2.nodes import EvalContext
    from jinja2.runtime import Context

    return isinstance(value, (Environment, EvalContext, Context))


def _loop(iterable: Any) -> Iterator[Any]:
    """Every loop iterates through here: each iteration counts against the render's budget."""
    for item in iterable:
        _charge()
        yield item


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimit(f"a range of more than {MAX_RANGE} numbers")
    return numbers


def _md_escape(value: Any) -> Markdown:
    return escape(str(value))


def _finalize_markdown(value: Any) -> Any:
    """Each `{{ value }}` of a Markdown field: the sender's data shows literally."""
    if isinstance(value, Markdown) or value is None or isinstance(value, ChainableUndefined):
        return value
    text = str(value)
    return escape_piece(text if len(text) <= 4 * MAX_SIZE else text[: 4 * MAX_SIZE])


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with bounded operators, calls, ranges and loops."""

    intercepted_binops = frozenset(_BINOPS)

    def __init__(self, *, markdown: bool) -> None:
        super().__init__(
            autoescape=False,
            undefined=ChainableUndefined,
            finalize=_finalize_markdown if markdown else None,
        )
        self.globals.pop("lipsum", None)
        self.globals["range"] = _range
        self.filters["md_escape"] = _md_escape
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters[_LOOP_FILTER] = _loop

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        _charge()
        op = _BINOPS.get(operator_name)
        if op is None:
            return super().call_binop(context, operator_name, left, right)
        result = op(left, right)
        _check_int(result, f"the operator {operator_name}")
        return result

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _charge()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _precheck_text(getattr(__obj, "__name__", ""), owner, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        _check_size(_size(result), owner, *args, what="a call")
        _check_int(result, "a call")
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
            _check_format(owner)
        return super().wrap_str_format(value)


@lru_cache(maxsize=2)
def _environment(markdown: bool) -> BoundedEnvironment:
    return BoundedEnvironment(markdown=markdown)


@lru_cache(maxsize=512)
def compiled(source: str, markdown: bool = False) -> Template:
    """The template, every `for` iterating through the budgeted loop (raises Jinja2's errors)."""
    env = _environment(markdown)
    tree = env.parse(source)
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
    template: Template = env.from_string(tree)
    return template


def render_value(template: Template, context: Mapping[str, Any], limit: int) -> str:
    """Render until `limit` characters (one over, so the caller can mark the cut), within budget."""
    _BUDGET.steps, _BUDGET.deadline = 0, time.monotonic() + MAX_SECONDS
    pieces: list[str] = []
    length = 0
    stream: Iterable[str] = template.generate(context)
    try:
        for piece in stream:
            pieces.append(piece)
            length += len(piece)
            if length > limit:
                break
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        _BUDGET.steps = None
    text = "".join(pieces)
    return text if len(text) <= limit + 1 else text[: limit + 1]
