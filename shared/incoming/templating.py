"""The bounded Jinja2 sandbox of route templates (the generic source's ``template`` setting).

Jinja2's sandbox stops attribute escapes but not work: ``'x' * 10**9``, ``2 ** 10**9``,
``range`` in three nested loops, a string or a nested list doubled in a loop, or
``data.log|indent(99999)`` allocate gigabytes or spin for minutes, and ``render()`` builds the
whole output before we cut it at the value limit. Here:

- every string, list or dict a template makes (operators, ``~``, literals, filters, method calls,
  ``{% set %}`` blocks) counts against one allocation budget per render, ``MAX_MADE`` characters
  or items, checked *before* the operation when its size can be told in advance (repetition,
  padding, ``indent``, ``replace``, ``join``); containers count everything they hold, however
  shared (``{'a': x, 'b': x}`` counts ``x`` twice), so nesting cannot double unseen;
- whole numbers stay under ``MAX_INT_BITS``, ``range`` under ``MAX_RANGE``, format widths under
  1,000; every loop iteration and call counts against ``MAX_STEPS``, and a render stops after
  ``MAX_SECONDS``;
- output is read from ``generate()`` only up to the value limit.

A template over a bound raises ``TemplateLimit`` (a ``SecurityError``) naming the bound, never
the data. Markdown fields (a card's text, facts) render with every ``{{ value }}`` escaped as a
literal piece (``markdown.escape_piece``): the template's own text is Markdown, the sender's
data is not. ``md_escape`` (kept for templates written before) marks a value as escaped already.
"""

from __future__ import annotations

import operator
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jinja2 import ChainableUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from shared.cards.markdown import Markdown, escape, escape_piece

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.runtime import Context

__all__ = [
    "MAX_MADE",
    "MAX_RANGE",
    "MAX_STEPS",
    "TemplateLimit",
    "compiled",
    "render_value",
]

#: characters and items all the strings, lists and dicts one render makes may have together
MAX_MADE = 4_000_000
#: loop iterations plus calls (filters, methods, macros) in one render
MAX_STEPS = 10_000
#: the longest `range` a template may ask for
MAX_RANGE = 10_000
#: the largest whole number an operation may make (Python's own cap on int -> str is 4,300 digits)
MAX_INT_BITS = 4_096
#: wall-clock time one render (or all the renders of one post, `one_budget`) may take
MAX_SECONDS = 1.0
#: the largest input (characters, or items counted as `_size` does) of the filters whose work
#: grows faster than their input or that copy it element by element (wrapping, sorting, ...)
MAX_HEAVY_INPUT = 200_000
_TEXT_FILTERS = frozenset({"wordwrap", "urlize", "striptags", "title", "capitalize", "wordcount"})
_HEAVY_FILTERS = frozenset(
    {
        "wordwrap", "urlize", "sort", "list", "unique", "dictsort", "groupby", "batch", "slice",
        "map", "select", "reject", "selectattr", "rejectattr", "sum", "min", "max", "reverse",
        "random", "tojson", "pprint", "striptags", "title", "capitalize", "wordcount", "items",
    }
)  # fmt: skip

# Filter names a template cannot write: only the nodes we put in the tree use them.
_LOOP, _CONCAT, _LITERAL, _BLOCK = "bounded loop", "bounded concat", "bounded literal", "bounded block"
_WIDTH_RE = re.compile(r"%[-+ #0]*(?:\*|\d{4,})|%[-+ #0]*\d*\.(?:\*|\d{4,})")
_FORMAT_FIELD_RE = re.compile(r"\{[^{}]{0,200}(?:\{|\d{4,})")
_CONTAINERS = (list, tuple, dict, set, frozenset)


class TemplateLimit(SecurityError):
    """A template asked for more than a bound allows; the message names the bound."""


class _Budget(threading.local):
    active: bool = False
    shared: bool = False
    steps: int = 0
    made: int = 0
    deadline: float = 0.0
    #: sizes of containers seen, by id; the object is kept so that its id cannot be reused
    sizes: dict[int, tuple[Any, int]]

    def __init__(self) -> None:
        self.sizes = {}


_BUDGET = _Budget()


def _charge(count: int = 1) -> None:
    if not _BUDGET.active:
        return  # compile-time constant folding: no render is running
    _BUDGET.steps += count
    if _BUDGET.steps > MAX_STEPS:
        raise TemplateLimit(f"more than {MAX_STEPS} loop iterations and calls")
    if time.monotonic() > _BUDGET.deadline:
        raise TemplateLimit(f"rendering took longer than {MAX_SECONDS:g} s")


def _room() -> int:
    return MAX_MADE - _BUDGET.made if _BUDGET.active else MAX_MADE


def _make(size: int, what: str) -> None:
    """Count `size` characters or items about to be (or just) made against the render's budget."""
    if size > _room():
        raise TemplateLimit(f"{what} would make more than {MAX_MADE} characters or items in one render")
    if _BUDGET.active:
        _BUDGET.made += size


def _size(value: Any, cap: int | None = None) -> int:
    """Characters of a string; items of a container, counting what it holds as often as it holds
    it (capped: the walk stops once past `cap`, answering `cap + 1`)."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, range):
        return len(value)
    if not isinstance(value, _CONTAINERS):
        return 0
    limit = _room() if cap is None else cap
    known = _BUDGET.sizes.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    total = len(value)
    children: Iterable[Any] = (
        (item for pair in value.items() for item in pair) if isinstance(value, dict) else value
    )
    for child in children:
        if total > limit:
            return limit + 1
        total += _size(child, limit - total)
    if _BUDGET.active and total <= limit:
        _BUDGET.sizes[id(value)] = (value, total)
    return total


def _made(result: Any, inputs: Iterable[Any], what: str) -> Any:
    """Count a result unless it is one of the inputs (a filter that returned its argument)."""
    if isinstance(result, (str, bytes, *_CONTAINERS)) and not any(result is i for i in inputs):
        _make(_size(result), what)
    _check_int(result, what)
    return result


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
        return left * right
    count, sequence = (right, left) if isinstance(right, int) else (left, right)
    if isinstance(count, int) and isinstance(sequence, (str, bytes, list, tuple)):
        _make(_size(sequence) * max(count, 0), "repeating a string or list")
        return left * right
    return left * right


def _power(left: Any, right: Any) -> Any:
    big = isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1
    if big and left.bit_length() * right > MAX_INT_BITS:
        raise TemplateLimit(f"a power over {MAX_INT_BITS} bits")
    return left**right


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, (str, bytes, list, tuple)):
        size = _size(left) + _size(right)
        _make(size, "joining two strings or lists")
        result: Any = operator.add(left, right)
        if _BUDGET.active and isinstance(result, (list, tuple)):
            _BUDGET.sizes[id(result)] = (result, size)  # known: no walk when it is added to again
        return result
    return left + right


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        _check_format(left)
        return _made(left % right, (), "formatting")
    return left % right


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
    """What a string operation would make, counted before it makes it (methods and filters)."""
    if name in ("center", "ljust", "rjust", "zfill"):
        _make(max(_int_arg(args, kwargs, 0, "width", 0), 0), name)
    elif name == "indent":
        width = _int_arg(args, kwargs, 0, "width", 4)
        _make(len(text) + max(width, 0) * (text.count("\n") + 1), "indent")
    elif name == "expandtabs":
        size = _int_arg(args, kwargs, 0, "tabsize", 8)
        _make(len(text) + max(size, 0) * text.count("\t"), "expandtabs")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        count = text.count(args[0]) if args[0] else len(text) + 1
        limit = _int_arg(args, kwargs, 2, "count", -1)
        if limit >= 0:
            count = min(count, limit)
        _make(len(text) + count * len(args[1]), "replace")
    elif name == "join" and args and isinstance(args[0], (list, tuple)):
        items = args[0]
        _make(sum(_size(i) or 8 for i in items) + len(text) * len(items), "join")
    elif name in ("format", "format_map"):
        _check_format(text)


def _is_jinja_internal(value: Any) -> bool:
    from jinja2 import Environment
    from jinja2.nodes import EvalContext
    from jinja2.runtime import Context

    return isinstance(value, (Environment, EvalContext, Context))


#: filters whose output grows with an argument, not with their input: (argument, its bound),
#: checked before they run (`[1]|batch(300000000)` made a list of that many items first)
_COUNT_ARGS = {
    "batch": ("linecount", MAX_RANGE),
    "slice": ("slices", MAX_RANGE),
    "tojson": ("indent", 999),
    "pprint": ("indent", 999),
}


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _charge()
        values = [a for a in args if not _is_jinja_internal(a)]
        if name in _COUNT_ARGS:
            argument, bound = _COUNT_ARGS[name]
            if _int_arg(tuple(values[1:]), kwargs, 0, argument, 0) > bound:
                raise TemplateLimit(f"the {name} filter's {argument} over {bound}")
        if name in _HEAVY_FILTERS and values:
            first = values[0]
            # a text filter on a container works on its text, several characters an item
            cap = (
                MAX_HEAVY_INPUT // 10
                if name in _TEXT_FILTERS and isinstance(first, _CONTAINERS)
                else MAX_HEAVY_INPUT
            )
            if _size(first, cap) > cap:
                raise TemplateLimit(f"the {name} filter on more than {cap} characters or items")
        if values and isinstance(values[0], str):
            _precheck_text(name, values[0], tuple(values[1:]), kwargs)
        if name == "join" and values and isinstance(values[0], (list, tuple)):
            separator = values[1] if len(values) > 1 and isinstance(values[1], str) else ""
            _precheck_text("join", separator, (values[0],), {})
        return _made(func(*args, **kwargs), values, f"the {name} filter")

    if hasattr(func, "jinja_pass_arg"):  # what Jinja reads off a filter (context, environment)
        bounded.jinja_pass_arg = func.jinja_pass_arg  # type: ignore[attr-defined]
    return bounded


def _loop(iterable: Any) -> Iterator[Any]:
    """Every loop iterates through here: each iteration counts against the render's steps."""
    for item in iterable:
        _charge()
        yield item


def _concat(pieces: list[Any]) -> str:
    """`a ~ b`: the pieces as text, counted."""
    texts = [str(piece) for piece in pieces]
    _make(sum(len(t) for t in texts), "joining text with ~")
    return "".join(texts)


def _literal(value: Any) -> Any:
    """A list, tuple or dict written in the template, counted with everything it holds."""
    _make(_size(value), "a list or dict")
    return value


def _block(text: Any) -> Any:
    """The text a `{% set x %}...{% endset %}` block captured, counted."""
    _make(_size(text), "a set block")
    return text


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
    return escape_piece(str(value))


class _Bounds(NodeTransformer):
    """Puts our counting filters into a parsed template: loops, `~`, literals, set blocks."""

    @staticmethod
    def _wrap(node: nodes.Node | None, name: str, lineno: int) -> nodes.Filter:
        return nodes.Filter(node, name, [], [], None, None, lineno=lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._wrap(node.iter, _LOOP, node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._wrap(nodes.List(node.nodes, lineno=node.lineno), _CONCAT, node.lineno)

    def _literal(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        return self._wrap(node, _LITERAL, node.lineno)

    visit_List = visit_Tuple = visit_Dict = _literal

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> nodes.Node:
        self.generic_visit(node)
        node.filter = self._wrap(node.filter, _BLOCK, node.lineno)
        return node


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with bounded operators, calls, ranges, loops and allocations."""

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
        self.filters.update({_LOOP: _loop, _CONCAT: _concat, _LITERAL: _literal, _BLOCK: _block})

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
        return _made(result, (owner, *args, *kwargs.values()), "a call")

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
    """The template with our counting filters in its tree (raises Jinja2's errors)."""
    env = _environment(markdown)
    tree = _Bounds().visit(env.parse(source))
    template: Template = env.from_string(tree)
    return template


def _start() -> None:
    _BUDGET.active, _BUDGET.steps, _BUDGET.made = True, 0, 0
    _BUDGET.deadline = time.monotonic() + MAX_SECONDS
    _BUDGET.sizes = {}


def _stop() -> None:
    _BUDGET.active, _BUDGET.shared, _BUDGET.sizes = False, False, {}


@contextmanager
def one_budget() -> Iterator[None]:
    """Every render inside shares one budget (steps, allocations, time): all the template fields
    of one post together cost what one render may."""
    _start()
    _BUDGET.shared = True
    try:
        yield
    finally:
        _stop()


def render_value(template: Template, context: Mapping[str, Any], limit: int) -> str:
    """Render until `limit` characters (one over, so the caller can mark the cut), within budget."""
    own = not _BUDGET.shared
    if own:
        _start()
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
        if own:
            _stop()
    text = "".join(pieces)
    return text if len(text) <= limit + 1 else text[: limit + 1]
