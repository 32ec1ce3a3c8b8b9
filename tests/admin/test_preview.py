"""`python -m shared.admin preview`: a payload's cards on a real route, rendered, nothing posted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.store import Store
from tests.admin.test_cli import WORKFLOW_URL, Cli, base_env, cli, prefix, same_store  # noqa: F401
from tools import render

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "tests" / "incoming" / "payloads" / "alertmanager_firing.json"


@pytest.fixture
def prom(cli: Cli) -> str:  # noqa: F811
    """A route `prom` (Alertmanager, bearer auth) to a channel no test can reach."""
    assert cli("channel", "add", "ops", "--url", WORKFLOW_URL).code == 0
    added = cli(
        "route", "add", "prom", "--source", "alertmanager", "--to", "ops", "--auth", "bearer",
        stdin="preview-secret",
    )  # fmt: skip
    assert added.code == 0, added.err
    return "prom"


@pytest.fixture
def renders() -> None:
    reason = render.missing()
    if reason:
        pytest.skip(f"the card renderer cannot run: {reason}")


@pytest.mark.usefixtures("renders")
def test_preview_png_and_html_post_nothing(cli: Cli, prom: str, tmp_path: Path, same_store: Store) -> None:  # noqa: F811
    png = tmp_path / "card.png"
    run = cli(
        "preview", "--route", prom, "--body", str(PAYLOAD),
        "--header", "Authorization: Bearer preview-secret", "--out", str(png),
    )  # fmt: skip
    assert run.code == 0, run.err
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "route prom (alertmanager): 1 card(s), nothing posted" in run.out and "card 1:" in run.out
    assert "preview-secret" not in run.out + run.err

    page = tmp_path / "out" / "card.html"
    run = cli("preview", "--route", prom, "--body", str(PAYLOAD), "--no-auth", "--out", str(page), "--json")
    assert run.code == 0, run.err
    (row,) = run.json()["cards"]
    assert row["file"] == str(page) and isinstance(row["problems"], list)
    html = page.read_text(encoding="utf-8")
    assert "Preview of route prom" in html and "HighErrorRate" in html
    assert list(page.parent.glob("*.png"))  # the page shows the card as a PNG beside it

    assert same_store.outbox.list() == [] and same_store.deliveries.recent("ops", 10) == []


@pytest.mark.usefixtures("renders")
def test_preview_says_what_the_proxy_would_answer(cli: Cli, prom: str, tmp_path: Path) -> None:  # noqa: F811
    out = str(tmp_path / "card.png")
    run = cli("preview", "--route", prom, "--body", str(PAYLOAD), "--out", out)
    assert run.code == 1 and "would answer 401" in run.err and "preview-secret" not in run.err
    bad = tmp_path / "bad.json"
    bad.write_text('{"status": "firing",')
    run = cli("preview", "--route", prom, "--body", str(bad), "--no-auth", "--out", out)
    assert run.code == 1 and "would answer 400" in run.err and "not valid JSON" in run.err
    run = cli("preview", "--route", "nope", "--body", str(PAYLOAD), "--out", out)
    assert run.code == 1 and "list" in run.err


def test_preview_usage_errors(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    assert cli("preview", "--route", "r", "--body", str(PAYLOAD), "--out", str(tmp_path / "x.gif")).code == 2
    assert cli("preview", "--route", "r", "--body", str(tmp_path / "none"), "--out", "x.png").code == 2
    run = cli("preview", "--route", "r", "--body", str(PAYLOAD), "--header", "nocolon", "--out", "x.png")
    assert run.code == 2 and "NAME:VALUE" in run.err


def test_preview_in_a_deployed_app_says_it_needs_the_dev_tools(tmp_path: Path) -> None:
    """A deployed app has shared/ but not tools/ (.funcignore): preview explains, it does not crash."""
    app = tmp_path / "app"
    shutil.copytree(ROOT / "shared", app / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    env = base_env(PYTHONPATH=str(app))
    proc = subprocess.run(
        [sys.executable, "-m", "shared.admin", "preview", "--route", "r", "--body", str(PAYLOAD), "--out", "c.png"],
        capture_output=True, text=True, env=env, cwd=app, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "needs the dev tools" in proc.stderr and "Traceback" not in proc.stderr
