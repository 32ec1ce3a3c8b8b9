"""`admin route add|set` refuses a template any payload would take over a bound (issue 13, item 9)."""

from __future__ import annotations

import json

from shared.store import Store
from tests.admin.test_cli import WORKFLOW_URL, Cli, cli, prefix, same_store  # noqa: F401  (fixtures)

BOMB = json.dumps({"text": "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}"})
FINE = json.dumps({"title": "{{ title }}", "text": "{{ data.count + 1 }} new"})


def test_route_add_and_set_refuse_a_template_bomb(cli: Cli, same_store: Store) -> None:  # noqa: F811
    channel = cli("channel", "add", "ops", "--url", WORKFLOW_URL)
    assert channel.code == 0, channel.err
    refused = cli(
        "route",
        "add",
        "t1",
        "--source",
        "generic",
        "--to",
        "ops",
        "--auth",
        "none",
        "--setting",
        f"template={BOMB}",
    )
    assert refused.code == 2, refused.err
    assert "template.text: more than 10000 loop iterations" in refused.err
    assert same_store.routes.find("t1") is None
    added = cli(
        "route",
        "add",
        "t1",
        "--source",
        "generic",
        "--to",
        "ops",
        "--auth",
        "none",
        "--setting",
        f"template={FINE}",
    )
    assert added.code == 0, added.err
    changed = cli("route", "set", "t1", "--setting", f"template={BOMB}")
    assert changed.code == 2 and "template.text:" in changed.err
    assert json.loads(same_store.routes.get("t1").settings["template"]) == json.loads(FINE)
