"""The README's deploy and sender instructions do what they say, so a newcomer need not guess.

The snippets are read from README.md itself: a snippet that drifts from the code fails here.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.incoming.auth import sign
from tests.conftest import unique
from tests.incoming.helpers import payload

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECRET = "Rd" + "me-" + "4c8e1f7a9b"


def section(title: str) -> str:
    """The text of the `## title` section, up to the next `## ` heading."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL)


def block_with(text: str, lang: str, needle: str) -> str:
    found = [b for b in blocks(text, lang) if needle in b]
    assert found, f"no {lang} block with {needle!r} in the README"
    return found[0]


def admin_commands() -> list[list[str]]:
    """Every `admin ...` line of the README's shell blocks, as argv."""
    commands = []
    for block in blocks(README, "bash"):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("admin "):
                commands.append(shlex.split(line, comments=True)[1:])
    return commands


@pytest.mark.unit
def test_every_admin_command_in_the_readme_parses() -> None:
    from shared.admin import build_parser

    commands = admin_commands()
    assert len(commands) >= 10
    parser = build_parser()
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"the README's `admin {shlex.join(argv)}` is not accepted by the CLI")


@pytest.mark.unit
def test_deploy_step_3_points_the_admin_cli_at_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    """With local.settings.json present (make deps wrote it), the exports must still win."""
    from shared import settings
    from shared.store.account import resolve_connection

    deploy = section("Deploy to Azure")
    step3 = block_with(deploy, "bash", "TEAMS_STORAGE__tableServiceUri")
    variables = {"STORAGE": "stexample123", "APP": "teams-example"}
    exports: dict[str, str] = {}
    for line in map(str.strip, step3.splitlines()):
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            for var, text in variables.items():
                value = value.replace(f"${var}", text)
            exports[name] = value
    monkeypatch.setattr(os, "environ", {**exports})
    settings.load_local_settings(ROOT / "local.settings.example.json")  # what the admin CLI does next
    connection = resolve_connection()
    assert connection.endpoint == "https://stexample123.table.core.windows.net"
    assert connection.connection_string is None
    assert settings.get("PUBLIC_BASE_URL") == "https://teams-example.azurewebsites.net"


@pytest.mark.unit
def test_readme_endpoints_match_the_functions_and_the_bicep_outputs() -> None:
    routes = {
        folder: json.loads((ROOT / folder / "function.json").read_text())["bindings"][0]["route"]
        for folder in ("outgoing_handler", "incoming_proxy")
    }
    assert routes == {"outgoing_handler": "outgoing/{team}", "incoming_proxy": "incoming/{route}"}
    bicep = (ROOT / "infra" / "main.bicep").read_text(encoding="utf-8")
    assert "/api/outgoing/<team>'" in bicep and "/api/incoming/<route>'" in bicep
    assert "`https://<app-name>.azurewebsites.net/api/outgoing/<team>`" in README
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    declared = set(re.findall(r"^param (\w+) ", bicep, flags=re.MULTILINE))
    assert set(parameters) <= declared, "az rejects a parameters file naming unknown parameters"
    assert "appName" not in parameters, "the app name is given on the command line (globally unique)"


# --- the sender snippets, through the dev host, the real store and the Teams sink ---------------


@pytest.fixture
def env(sink: Any) -> Iterator[None]:
    sink.reset()
    sink.set_limits(windows=[])
    yield
    sink.reset()


def connect(app_store: Any, sink: Any, source: str, auth: str, secret: str) -> tuple[str, str]:
    """A route like the README's `admin route add`, to a fresh channel on the sink."""
    from shared.store.models import Channel, Route

    channel = unique("ch")
    app_store.channels.save(Channel(name=channel, url=sink.workflow_url(channel)))
    route = unique("r")
    app_store.routes.save(Route(name=route, source=source, auth=auth, secret=secret, channels=[channel]))
    return route, channel


def readme_route(source: str) -> tuple[str, str]:
    """(route name, --auth) of the README's `admin route add ... --source <source>`."""
    found = [
        a for a in admin_commands() if a[:2] == ["route", "add"] and f"--source {source}" in shlex.join(a)
    ]
    assert found, f"the README has no `admin route add ... --source {source}`"
    argv = found[0]
    return argv[2], argv[argv.index("--auth") + 1]


def incoming_path(url: str) -> str:
    match = re.search(r"/api/incoming/([A-Za-z0-9_-]+)", url)
    assert match, url
    return match.group(1)


def assert_delivered(sink: Any, channel: str, url: str, body: bytes, headers: dict[str, str]) -> None:
    """The sender's post is accepted (202) and exactly one card reaches the route's channel."""
    reply = requests.post(url, data=body, headers=headers, timeout=30)
    assert reply.status_code == 202, reply.text
    assert len(sink.wait_for_messages(channel, 1, timeout=10)) == 1


def test_alertmanager_snippet_bearer_flow(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    name, auth = readme_route("alertmanager")
    snippet = block_with(section("Connect Teams and your services"), "yaml", "webhook_configs")
    assert incoming_path(re.search(r"url: (\S+)", snippet).group(1)) == name  # type: ignore[union-attr]
    scheme = re.search(r"type: (\w+)", snippet).group(1)  # type: ignore[union-attr]
    assert (auth, scheme) == ("bearer", "Bearer")
    route, channel = connect(app_store, sink, "alertmanager", auth, SECRET)
    url = f"{devhost}/api/incoming/{route}"
    body = payload("alertmanager_firing.json")
    headers = {"Content-Type": "application/json"}
    assert requests.post(url, data=body, headers=headers, timeout=30).status_code == 401
    assert_delivered(sink, channel, url, body, {**headers, "Authorization": f"{scheme} {SECRET}"})


def test_grafana_snippet_bearer_flow(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    name, auth = readme_route("grafana")
    snippet = block_with(section("Connect Teams and your services"), "yaml", "contactPoints")
    assert incoming_path(re.search(r"url: (\S+)", snippet).group(1)) == name  # type: ignore[union-attr]
    scheme = re.search(r"authorization_scheme: (\w+)", snippet).group(1)  # type: ignore[union-attr]
    assert (auth, scheme) == ("bearer", "Bearer")
    route, channel = connect(app_store, sink, "grafana", auth, SECRET)
    headers = {"Content-Type": "application/json", "Authorization": f"{scheme} {SECRET}"}
    assert_delivered(
        sink, channel, f"{devhost}/api/incoming/{route}", payload("grafana_firing.json"), headers
    )


def test_github_snippet_signature_flow(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    name, auth = readme_route("github")
    snippet = block_with(section("Connect Teams and your services"), "bash", "gh api")
    assert incoming_path(snippet) == name and auth == "github"
    assert "config[content_type]=json" in snippet and "config[secret]=" in snippet
    route, channel = connect(app_store, sink, "github", auth, SECRET)
    body = payload("github_push.json")
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": unique("d"),
        "X-Hub-Signature-256": sign(SECRET, body),
    }
    assert_delivered(sink, channel, f"{devhost}/api/incoming/{route}", body, headers)


def test_azure_devops_snippet_basic_flow(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    name, auth = readme_route("azure-devops")
    snippet = block_with(section("Connect Teams and your services"), "bash", "hooks/subscriptions")
    assert incoming_path(snippet) == name and auth == "basic"
    user = re.search(r'"basicAuthUsername": "([^"]+)"', snippet).group(1)  # type: ignore[union-attr]
    secret = f"{user}:{SECRET}"  # the README's `printf '<user>:%s' ...` secret file
    assert f"printf '{user}:%s'" in section("Connect Teams and your services")
    route, channel = connect(app_store, sink, "azure-devops", auth, secret)
    token = base64.b64encode(secret.encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
    assert_delivered(
        sink, channel, f"{devhost}/api/incoming/{route}", payload("ado_build_failed.json"), headers
    )


def test_messagecard_snippet_code_flow(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """An old connector script: only the URL changes (plus ?code=), and it still reads `1`."""
    name, auth = readme_route("messagecard")
    snippet = block_with(section("Connect Teams and your services"), "bash", "?code=")
    assert incoming_path(snippet) == name and auth == "key"
    body = re.search(r"-d '([^']+)'", snippet).group(1).encode()  # type: ignore[union-attr]
    route, channel = connect(app_store, sink, "messagecard", auth, SECRET)
    url = f"{devhost}/api/incoming/{route}"
    headers = {"Content-Type": "application/json"}
    wrong = requests.post(url, data=body, headers=headers, params={"code": "Bad" + "Value1"}, timeout=30)
    assert wrong.status_code == 401 and "BadValue1" not in wrong.text
    reply = requests.post(url, data=body, headers=headers, params={"code": SECRET}, timeout=30)
    assert (reply.status_code, reply.text) == (200, "1")
    assert "Hello from the old script" in json.dumps(sink.wait_for_messages(channel, 1, timeout=10))


@pytest.mark.unit
def test_settings_table_lists_every_setting_the_code_reads() -> None:
    from tests.infra.test_bicep import settings_read_by_code

    rows = [line for line in section("Settings").splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([A-Za-z0-9_]+)`", row.split("|")[1])}
    assert settings_read_by_code() <= documented, sorted(settings_read_by_code() - documented)


@pytest.mark.unit
def test_ci_runs_make_test_with_the_documented_toolchain() -> None:
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert "run: make test" in workflow
    python = 'python-version: "3.11"' in workflow or "container: python:3.11-" in workflow
    assert python and 'node-version: "20"' in workflow
    assert "pull_request:" in workflow and "contents: read" in workflow
