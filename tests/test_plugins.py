"""The registries of incoming sources and digest feeds: complete, importable, ordered, lazy."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path
from types import ModuleType

import pytest

from shared.digest import feeds
from shared.incoming import sources
from shared.incoming.sources.base import Incoming
from shared.plugins import Registry, Row, UnknownKind

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent


def module_files(package: ModuleType) -> set[str]:
    """Dotted names of the module files in a package's folder (not the package itself)."""
    folder = Path(str(package.__file__)).parent
    return {f"{package.__name__}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"}


@pytest.mark.parametrize(
    ("package", "registry", "helpers"),
    [(sources, sources.REGISTRY, sources.HELPERS), (feeds, feeds.REGISTRY, feeds.HELPERS)],
    ids=["sources", "feeds"],
)
def test_every_module_file_is_registered(
    package: ModuleType, registry: Registry, helpers: frozenset[str]
) -> None:
    registered = {registry.row(kind).module for kind in registry.kinds()}
    declared_helpers = {f"{package.__name__}.{name}" for name in helpers}
    assert registered | declared_helpers == module_files(package), (
        "register the new module, or list it in HELPERS"
    )
    assert not registered & declared_helpers


def test_every_source_row_imports_and_provides_its_kind() -> None:
    for kind in sources.REGISTRY.kinds():
        source = sources.REGISTRY.get(kind)
        assert source.name == kind
        assert callable(source.detect) and callable(source.parse) and callable(source.build)
        assert isinstance(source.extra_content_types, tuple) and isinstance(source.legacy_reply, bool)


def test_every_feed_row_imports_and_provides_its_kind() -> None:
    from shared.digest.feeds.base import Feed, FeedError, feed_for

    for kind in feeds.kinds():
        feed = feeds.REGISTRY.get(kind)
        assert isinstance(feed, Feed) and feed.source == kind
        assert type(feed).gather is not Feed.gather
        assert feed_for(kind) is feed
    with pytest.raises(FeedError, match="expected one of rss, weather, events, json"):
        feed_for("podcast")


def test_subscription_type_names_the_registered_feeds() -> None:
    """`Subscription.source` repeats the feed kinds as a type; it must name exactly the registry's."""
    from shared.store.models import Subscription

    assert set(typing.get_args(Subscription.model_fields["source"].annotation)) == set(feeds.kinds())
    assert set(feeds.kinds(chat=True)) < set(feeds.kinds())


def test_lookups_stay_lazy() -> None:
    """A route imports its own source and no other (Jinja2 and the rest stay off its cold start);
    the bot's commands read the feed rows without importing a feed."""
    code = (
        "import sys\n"
        "from shared.incoming import sources\n"
        "sources.get('alertmanager')\n"
        "import shared.outgoing.commands\n"
        "from shared.digest.feeds.base import feed_for\n"
        "feed_for('events')\n"
        "loaded = [m for m in sys.modules if m.startswith(('shared.incoming.sources.', 'shared.digest.feeds.'))]\n"
        "print(sorted(loaded), 'jinja2' in sys.modules, 'feedparser' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [
        "['shared.digest.feeds.base',",
        "'shared.digest.feeds.events',",
        "'shared.incoming.sources.alertmanager',",
        "'shared.incoming.sources.base']",
        "False",
        "False",
    ], out.stderr


# --- detection order ---------------------------------------------------------------------------


def incoming(
    body: bytes, content_type: str, headers: dict[str, str] | None = None, data: object = None
) -> Incoming:
    return Incoming(headers=headers or {}, body=body, data=data, content_type=content_type)


def test_catch_all_is_asked_last_and_text_before_it() -> None:
    order = sources.kinds()
    assert order[-1] == "generic" and sources.REGISTRY.row("generic").last
    assert order.index("text") < order.index("generic")
    assert sources.get("azure-devops") is sources.get("azure_devops")
    with pytest.raises(sources.UnknownSource):
        sources.get("../base")


def test_auto_picks_text_for_a_plain_text_body() -> None:
    assert sources.detect(incoming(b"Disk cleanup done\nfreed 3 GB", "text/plain")).name == "text"
    assert sources.detect(incoming(b'{"x": 1}', "application/json", data={"x": 1})).name == "generic"


def test_auto_on_plain_text_through_the_pipeline() -> None:
    from shared.incoming import pipeline
    from shared.store.models import Route

    route = Route(name="r1", source="auto")
    prepared = pipeline.prepare(route, {"content-type": "text/plain"}, b"Disk cleanup done\nfreed 3 GB")
    assert prepared.source.name == "text"
    header = prepared.notice.cards[0]["body"][0]["items"][0]["text"]
    assert "Disk cleanup done" in header  # the first line is the title (generic would say "Notification")


def test_a_source_registered_later_is_detected_before_the_catch_all() -> None:
    probed = incoming(b'{"x": 1}', "application/json", {"x-probe": "1"}, data={"x": 1})
    assert sources.detect(probed).name == "generic"
    with sources.REGISTRY.registered("probe", Row("tests.support.probe_source")):
        assert sources.kinds()[-2:] == ["probe", "generic"]
        assert sources.detect(probed).name == "probe"
        assert sources.detect(incoming(b"{}", "application/json", data={})).name == "generic"
    assert "probe" not in sources.kinds()
    assert sources.detect(probed).name == "generic"
    with pytest.raises(sources.UnknownSource):
        sources.get("probe")


# --- the registry itself -----------------------------------------------------------------------


def test_registry_order_lookups_and_temporary_rows() -> None:
    reg: Registry[object, Row] = Registry(
        "thing", "SOURCES", {"last": Row("tests.support.probe_source", last=True), "a": Row("x")}
    )
    assert reg.kinds() == ("a", "last")
    reg.register("b", Row("y"))
    assert reg.kinds() == ("a", "b", "last")
    with pytest.raises(ValueError, match="registered already"):
        reg.register("b", Row("z"))
    with pytest.raises(RuntimeError), reg.registered("c", Row("tests.support.probe_source")):
        assert "c" in reg
        raise RuntimeError
    assert "c" not in reg
    with pytest.raises(UnknownKind):
        reg.unregister("c")
    with pytest.raises(UnknownKind):
        reg.get("nope")
    with pytest.raises(LookupError, match="has no thing 'last'"):
        reg.get("last")  # the module exists but does not provide that kind


def test_the_cli_and_the_bot_offer_the_registered_feeds() -> None:
    """The feed registry is the one list: the admin CLI's forms and the bot's usage come from it."""
    from shared.admin import source_forms
    from shared.outgoing.commands import registry

    assert source_forms() == [f"{k}:<{feeds.REGISTRY.row(k).target}>" for k in feeds.kinds()]
    [subscribe] = [e for e in registry.entries() if e.name == "subscribe"]
    for kind in feeds.kinds():
        offered = f"{kind} {feeds.REGISTRY.row(kind).target.upper()}"
        assert (offered in subscribe.usage) == feeds.REGISTRY.row(kind).chat, kind
