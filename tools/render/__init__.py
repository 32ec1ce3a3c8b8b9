"""Cards as Teams would show them: the official Adaptive Cards renderer (npm `adaptivecards`) in
headless Chromium, driven by Playwright, with Teams' host configs.

Development only: the render tests, `make demo`, `make gallery` and `python -m shared.admin preview`
use it; nothing deployed imports it (playwright is imported when a `Renderer` starts). Chromium is
Debian's (`apt-get install chromium`, or `CHROMIUM=/path`); Playwright never downloads a browser here.

    with Renderer() as renderer:
        shown = renderer.render(card, theme="light")
        shown.png, shown.warnings, shown.dropped, shown.empty, shown.version
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Playwright, Route

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness.html"
CARDS_JS = HERE / "cards.js"
NODE_MODULES = ROOT / "node_modules"
#: the scripts the harness (and the sink's page) load, all from node_modules: no CDN
SCRIPTS = {
    "adaptivecards.min.js": NODE_MODULES / "adaptivecards" / "dist" / "adaptivecards.min.js",
    "markdown-it.min.js": NODE_MODULES / "markdown-it" / "dist" / "markdown-it.min.js",
    "cards.js": CARDS_JS,
    "teams.css": HERE / "teams.css",
}
HOSTCONFIG_DIR = ROOT.parent / "shared" / "hostconfig"
THEMES = ("light", "dark")
#: the highest card version the Workflows bot displays (teams-platform.md §2.2)
TARGET_VERSION = "1.4"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium waits on services it cannot reach on a closed network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
HOW_TO_GET_CHROMIUM = (
    "install it with `apt-get install chromium` (make test does this as root), or set CHROMIUM=/path"
)
# A grey picture for every image URL on a card: nothing is fetched from the network.
PLACEHOLDER_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
    b'<rect width="64" height="64" fill="#c8c8c8"/>'
    b'<path d="M12 48 L26 30 L36 42 L42 35 L52 48 Z" fill="#9a9a9a"/>'
    b'<circle cx="42" cy="22" r="5" fill="#9a9a9a"/>'
    b"</svg>"
)


class RendererUnavailable(RuntimeError):
    """Something the renderer needs is missing; the message says how to get it."""


def find_chromium() -> str | None:
    """`CHROMIUM` when set, else Debian's Chromium on PATH."""
    named = os.environ.get("CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def missing() -> str | None:
    """Why the renderer cannot run here (with how to fix it), or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is missing: pip install -r requirements-dev.txt (make deps)"
    if find_chromium() is None:
        named = os.environ.get("CHROMIUM")
        where = f"CHROMIUM={named} is not a file" if named else "Chromium is not installed"
        return f"{where}: {HOW_TO_GET_CHROMIUM}"
    for name, path in SCRIPTS.items():
        if not path.is_file():
            return f"{name} is missing ({path}): run npm ci (make deps)"
    return None


def hostconfig_path(theme: str) -> Path:
    return HOSTCONFIG_DIR / f"microsoft-teams-{theme}.json"


@lru_cache(maxsize=4)
def host_config(theme: str) -> dict[str, Any] | None:
    """Teams' host config for `theme` from ../shared/hostconfig (never copied into the repo), or None."""
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, not {theme!r}")
    path = hostconfig_path(theme)
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def version_tuple(text: str) -> tuple[int, int] | None:
    parts = text.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


@dataclass(frozen=True)
class Rendered:
    """One card as the official renderer showed it, and everything it complained about."""

    png: bytes | None
    html: str
    warnings: list[str]
    dropped: list[str]
    empty: bool
    version: str
    theme: str = "light"
    host_config: str = ""  # the file used, or "renderer default" when ../shared/hostconfig is absent
    elements: int = 0  # elements, actions and inlines counted in the card's JSON
    target: str = TARGET_VERSION

    @property
    def too_new(self) -> bool:
        """The card declares a version the target host does not display (or no valid version)."""
        declared, target = version_tuple(self.version), version_tuple(self.target)
        return declared is None or target is None or declared > target

    def problems(self) -> list[str]:
        """Everything wrong, one line each (empty when Teams would show the card as built)."""
        found = list(self.warnings) + list(self.dropped)
        if self.empty:
            found.append("the card renders empty")
        if self.too_new:
            found.append(
                f"version {self.version or '(none)'!s} is above {self.target}: Workflows shows "
                "\"We're sorry, this card couldn't be displayed\""
            )
        return found


@dataclass
class Renderer:
    """One headless Chromium with the harness page loaded; `render` many cards, then `stop`.

    Not thread-safe (Playwright's sync API): use it from the thread that started it.
    """

    chromium: str | None = None
    target: str = TARGET_VERSION
    width: int = 560
    _playwright: Playwright | None = field(default=None, init=False, repr=False)
    _context: BrowserContext | None = field(default=None, init=False, repr=False)
    _page: Page | None = field(default=None, init=False, repr=False)
    _profile: str | None = field(default=None, init=False, repr=False)
    _errors: list[str] = field(default_factory=list, init=False, repr=False)

    def start(self) -> Renderer:
        if self._page is not None:
            return self
        reason = missing() if self.chromium is None else None
        if reason:
            raise RendererUnavailable(reason)
        executable = self.chromium or find_chromium()
        assert executable is not None
        from playwright.sync_api import sync_playwright

        self._profile = tempfile.mkdtemp(prefix="render-chromium-")
        self._playwright = sync_playwright().start()
        try:
            self._context = self._playwright.chromium.launch_persistent_context(
                self._profile,
                executable_path=executable,
                args=list(CHROMIUM_ARGS),
                headless=True,
                viewport={"width": self.width + 200, "height": 800},
                device_scale_factor=1,
                timeout=60_000,
            )
            page = self._context.pages[0] if self._context.pages else self._context.new_page()
            page.route("**/*", _offline)
            page.on("pageerror", lambda error: self._errors.append(f"page error: {error}"))
            page.goto(HARNESS.as_uri())
            page.wait_for_function("() => window.TeamsCards !== undefined", timeout=30_000)
            page.set_default_timeout(30_000)
            self._page = page
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        context, playwright, profile = self._context, self._playwright, self._profile
        self._page = self._context = self._playwright = None
        self._profile = None
        try:
            if context is not None:
                context.close()
        finally:
            if playwright is not None:
                playwright.stop()
            if profile:
                shutil.rmtree(profile, ignore_errors=True)

    def __enter__(self) -> Renderer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def render(self, card: dict[str, Any], theme: str = "light", *, png: bool = True) -> Rendered:
        """Parse `card` for the target version with Teams' host config, validate, render, look."""
        if self._page is None:
            self.start()
        page = self._page
        assert page is not None
        config = host_config(theme)
        self._errors.clear()
        result: dict[str, Any] = page.evaluate(
            """([card, config, target, dark, width]) => {
                const frame = document.getElementById("frame");
                frame.className = dark ? "dark" : "";
                const host = document.getElementById("card");
                host.style.width = width + "px";
                return TeamsCards.renderCard(card, config, target, host);
            }""",
            [card, config, self.target, theme == "dark", self.width],
        )
        picture = None
        if png:
            page.wait_for_function(
                "() => Array.from(document.images).every(image => image.complete)", timeout=10_000
            )
            picture = page.locator("#frame").screenshot(type="png", animations="disabled")
        return Rendered(
            png=picture,
            html=str(result.get("html", "")),
            warnings=[str(w) for w in result.get("warnings", [])] + list(self._errors),
            dropped=[str(d) for d in result.get("dropped", [])],
            empty=bool(result.get("empty", True)),
            version=str(result.get("version", "")),
            theme=theme,
            host_config=hostconfig_path(theme).name if config is not None else "renderer default",
            elements=int(result.get("counted", 0)),
            target=self.target,
        )

    def visit(self, url: str, ready: str, *, full_page: bool = True) -> Visited:
        """Open `url` (on this machine) in a new tab until the JS expression `ready` is true; look."""
        if self._context is None:
            self.start()
        assert self._context is not None
        tab = self._context.new_page()
        try:
            tab.route("**/*", _offline)
            tab.goto(url)
            tab.wait_for_function(ready, timeout=30_000)
            tab.wait_for_function(
                "() => Array.from(document.images).every(image => image.complete)", timeout=10_000
            )
            return Visited(tab.screenshot(full_page=full_page, type="png"), tab.inner_text("body"))
        finally:
            tab.close()


LOOPBACK = ("http://127.0.0.1:", "http://localhost:", "http://[::1]:")


@dataclass(frozen=True)
class Visited:
    """A page on this machine as Chromium showed it."""

    png: bytes
    text: str


def _offline(route: Route) -> None:
    """Nothing leaves the machine: images get a placeholder, every other web request fails
    (pages on this machine, the sink's for one, load as usual)."""
    request = route.request
    if not request.url.startswith(("http://", "https://")) or request.url.startswith(LOOPBACK):
        route.continue_()
    elif request.resource_type == "image":
        route.fulfill(status=200, content_type="image/svg+xml", body=PLACEHOLDER_SVG)
    else:
        route.abort()
