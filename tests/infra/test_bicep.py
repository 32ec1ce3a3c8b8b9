"""The Bicep's security defaults, and one source of truth for settings: code, Bicep and local example agree."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

pycep = pytest.importorskip("pycep", reason="pycep-parser is installed by requirements-dev.txt")

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
CODE_DIRS = ("shared", "outgoing_handler", "incoming_proxy", "scheduled_connector", "outbox_sweep", "configure")
SETTING_READERS = {"get", "require", "get_int", "get_float", "get_bool", "get_list"}
# Connection settings: named by the Functions conventions, set differently locally (connection string)
# and in Azure (identity-based `__tableServiceUri`), so they are checked on their own below.
CONNECTION = {"TEAMS_STORAGE", "TEAMS_STORAGE__tableServiceUri", "AzureWebJobsStorage"}
# Standard variables of the OS and of `requests` (proxies, CA bundles): not app settings of ours.
OS_VARIABLES = {
    "USER",
    "USERNAME",
    "HOME",
    "PATH",
    "TZ",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
}
PLATFORM_LOCAL = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "TEAMS_STORAGE"}

pytestmark = pytest.mark.unit


def parse(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = pycep.BicepParser().parse(file_path=path)
    return result


def module_constants(tree: ast.Module) -> dict[str, str]:
    """Top-level `NAME = "text"` assignments, since settings names are often kept in constants."""
    constants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                for target in targets:
                    if isinstance(target, ast.Name):
                        constants[target.id] = value.value
    return constants


def setting_name(arg: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.Name):
        return constants.get(arg.id)
    return None


SETTINGS_MODULE = ROOT / "shared" / "settings.py"


def settings_read_by_code() -> set[str]:
    """Every setting name read through `shared.settings` or the environment by deployed code."""
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            constants = module_constants(tree)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                # `shared/settings.py` declares the app's settings with its readers called bare.
                if isinstance(node.func, ast.Name) and path == SETTINGS_MODULE:
                    name = setting_name(node.args[0], constants) if node.func.id in SETTING_READERS else None
                    if name and name.upper() == name:
                        names.add(name)
                    continue
                if not isinstance(node.func, ast.Attribute):
                    continue
                func = node.func
                owner = func.value
                owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
                reads_setting = (
                    (owner_name == "settings" and func.attr in SETTING_READERS)
                    or (owner_name == "environ" and func.attr == "get")
                    or (owner_name == "os" and func.attr == "getenv")
                )
                name = setting_name(node.args[0], constants) if reads_setting else None
                # Route settings (`route.settings.get("mentions")`) are data, not app settings.
                if name and name.upper() == name and name not in OS_VARIABLES:
                    names.add(name)
            # Names kept in `*_SETTING` constants are read through a variable.
            names.update(
                value
                for key, value in constants.items()
                if key.endswith("_SETTING") and value.upper() == value
            )
        for function_json in (ROOT / folder).glob("function.json"):
            names.update(re.findall(r"%([A-Za-z0-9_]+)%", function_json.read_text(encoding="utf-8")))
    return names - CONNECTION


def test_every_bicep_file_parses() -> None:
    files = sorted(INFRA.rglob("*.bicep"))
    assert files, "infra/ has no Bicep"
    for path in files:
        parsed = parse(path)
        assert parsed.get("resources") or parsed.get("modules") or parsed.get("parameters"), path


def test_storage_is_secure_by_default() -> None:
    account = parse(INFRA / "modules" / "storage.bicep")["resources"]["account"]["config"]
    props = account["properties"]
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["allowBlobPublicAccess"] is False
    assert props["allowSharedKeyAccess"] is False


def test_function_app_is_secure_and_warm() -> None:
    parsed = parse(INFRA / "modules" / "functionapp.bicep")
    site = parsed["resources"]["site"]["config"]
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "SystemAssigned"
    props = site["properties"]
    assert props["httpsOnly"] is True
    config = props["siteConfig"]
    assert config["minTlsVersion"] == "1.2"
    assert config["scmMinTlsVersion"] == "1.2"
    assert config["remoteDebuggingEnabled"] is False
    app_config = props["functionAppConfig"]
    assert app_config["runtime"] == {"name": "python", "version": "3.11"}
    assert app_config["deployment"]["storage"]["authentication"]["type"] == "SystemAssignedIdentity"
    always_ready = app_config["scaleAndConcurrency"]["alwaysReady"]
    assert [entry["name"] for entry in always_ready] == ["http"]
    warm = parsed["parameters"]["alwaysReadyHttpInstances"]
    assert warm["default"] >= 1
    assert any(d.get("type") == "min_value" and d["argument"] >= 1 for d in warm["decorators"])
    plan = parsed["resources"]["plan"]["config"]
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}


# What Flex Consumption refuses or ignores (Microsoft: "Flex Consumption plan deprecations" in the app
# settings reference). ARM answers 400 "... for Flex Consumption sites is invalid" to several of them,
# among them ftpsState: FTP does not exist on this plan, so "FTP off" holds without the property.
FLEX_INVALID_SITE_CONFIG = {
    "alwaysOn",
    "ftpsState",
    "linuxFxVersion",
    "windowsFxVersion",
    "javaVersion",
    "netFrameworkVersion",
    "powerShellVersion",
    "use32BitWorkerProcess",
    "functionAppScaleLimit",
    "preWarmedInstanceCount",
    "functionsRuntimeScaleMonitoringEnabled",
    "vnetRouteAllEnabled",
}
FLEX_INVALID_SETTINGS = {
    "ENABLE_ORYX_BUILD",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTOVERVNET",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_TIME_ZONE",
    "TZ",
}


def test_nothing_flex_consumption_rejects() -> None:
    """`az deployment group create` fails on these; no Bicep compiler here, so the test stands in."""
    site = parse(INFRA / "modules" / "functionapp.bicep")["resources"]["site"]["config"]
    props = site["properties"]
    assert not FLEX_INVALID_SITE_CONFIG & (set(props["siteConfig"]) | set(props))
    platform = parse(INFRA / "modules" / "functionapp.bicep")["variables"]["platformSettings"]["value"]
    ours = parse(INFRA / "main.bicep")["variables"]["appSettings"]["value"]
    assert not FLEX_INVALID_SETTINGS & (set(platform) | set(ours))


def test_identity_not_keys() -> None:
    for path in INFRA.rglob("*.bicep"):
        text = path.read_text(encoding="utf-8")
        assert "listKeys(" not in text, f"{path.name} reads storage keys"
        assert "AccountKey=" not in text, f"{path.name} builds a key-based connection string"
    platform = parse(INFRA / "modules" / "functionapp.bicep")["variables"]["platformSettings"]["value"]
    assert "AzureWebJobsStorage__accountName" in platform
    assert "AzureWebJobsStorage" not in platform
    assert "TEAMS_STORAGE__tableServiceUri" in platform
    # Telemetry with Entra ID: the component refuses its key, the app authenticates as itself.
    assert platform["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "Authorization=AAD"
    insights = parse(INFRA / "modules" / "monitoring.bicep")["resources"]["appInsights"]["config"]
    assert insights["properties"]["DisableLocalAuth"] is True


# Azure built-in role definition ids (the same in every tenant).
BUILT_IN_ROLES = {
    "storageBlobDataOwner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storageBlobDataContributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "storageQueueDataContributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "storageTableDataContributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}


def test_roles_are_scoped_narrowly() -> None:
    parsed = parse(INFRA / "modules" / "functionapp.bicep")
    assert {name: parsed["variables"][name]["value"] for name in BUILT_IN_ROLES} == BUILT_IN_ROLES
    resources = parsed["resources"]
    def scope(res: dict[str, Any]) -> object:
        config = res["config"]
        if "loop_type" in config:  # a loop: `[for (name, i) in ...: {scope: things[i]}]` -> "things[]"
            operands = config["config"]["scope"]["operator"]["operands"]
            return f"{operands['operand_1']}[]"
        return config["scope"]

    scopes = {name: scope(res) for name, res in resources.items() if res["type"].endswith("roleAssignments")}
    # No blob role on the whole account: that would let the app rewrite any blob, its package included.
    assert scopes == {
        "hostBlobRoles": "hostContainers[]",
        "packageBlobRole": "deploymentContainer",
        "queueRole": "queueService",
        "tableRole": "tableService",
        "telemetryRole": "appInsights",
    }
    hosts = parse(INFRA / "main.bicep")["variables"]["hostContainerNames"]["value"]
    assert hosts == ["azure-webjobs-hosts", "azure-webjobs-secrets"]  # what the Functions host writes


def test_settings_agree_between_code_bicep_and_local_example() -> None:
    code = settings_read_by_code()
    example_values = json.loads((ROOT / "local.settings.example.json").read_text(encoding="utf-8"))["Values"]
    example = set(example_values) - PLATFORM_LOCAL
    bicep = set(parse(INFRA / "main.bicep")["variables"]["appSettings"]["value"])
    assert code == example, (
        f"code reads {sorted(code - example)} not in the example; example has {sorted(example - code)} unread"
    )
    assert example == bicep, (
        f"only in the example: {sorted(example - bicep)}; only in Bicep: {sorted(bicep - example)}"
    )
    assert "TEAMS_STORAGE" in example_values


def test_outputs_give_the_endpoints() -> None:
    outputs = parse(INFRA / "main.bicep")["outputs"]
    assert {"appName", "outgoingWebhookUrl", "incomingProxyUrl"} <= set(outputs)
