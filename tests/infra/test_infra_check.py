"""The infra check fails on what checkov lets pass: unparsed files and skips without a reason."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tools import infra_check

CHECKOV = Path(infra_check.ROOT) / ".venv-iac" / "bin" / "checkov"


def report(**summary: int) -> dict[str, Any]:
    base = {"passed": 3, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 2}
    return {"summary": {"checkov_version": "x", **base, **summary}, "results": {}}


@pytest.mark.unit
def test_a_clean_report_passes() -> None:
    errors, notes = infra_check.problems([report()])
    assert errors == [] and "passed 3" in notes[0]


@pytest.mark.unit
def test_unparsed_files_and_empty_scans_fail() -> None:
    errors, _ = infra_check.problems([report(parsing_errors=1, resource_count=0)])
    assert any("could not be parsed" in e for e in errors)
    assert any("no resource was scanned" in e for e in errors)


@pytest.mark.unit
def test_failed_checks_and_reasonless_skips_fail() -> None:
    data = report(failed=1, skipped=2)
    data["results"] = {
        "failed_checks": [
            {"check_id": "CKV_AZURE_44", "check_name": "TLS", "resource": "a", "file_path": "/s.bicep"}
        ],
        "skipped_checks": [
            {"check_id": "CKV_AZURE_1", "resource": "b", "file_path": "/f.bicep",
             "check_result": {"suppress_comment": "No comment provided"}},
            {"check_id": "CKV_AZURE_2", "resource": "c", "file_path": "/f.bicep",
             "check_result": {"suppress_comment": "Public by design: webhooks call it"}},
        ],
    }
    errors, notes = infra_check.problems([data])
    assert any(e.startswith("CKV_AZURE_44") for e in errors)
    assert any("CKV_AZURE_1 is skipped without a reason" in e for e in errors)
    assert not any("CKV_AZURE_2" in e for e in errors)
    assert any("CKV_AZURE_2" in n and "Public by design" in n for n in notes)


@pytest.mark.unit
def test_missing_checkov_is_a_message_not_a_trace(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="checkov not found"):
        infra_check.run_checkov(str(tmp_path / "no-checkov"), tmp_path)


@pytest.mark.skipif(not CHECKOV.is_file() and not shutil.which("checkov"), reason="needs .venv-iac (make infra-check)")
def test_real_checkov_run_fails_on_bicep_it_cannot_parse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """checkov exits 0 on a file its pinned parser cannot read; the wrapper must not."""
    (tmp_path / "new-syntax.bicep").write_text(
        "func double(x int) int => x * 2\n"
        "resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n"
        "  name: 'st${double(1)}'\n  location: 'westeurope'\n  kind: 'StorageV2'\n"
        "  sku: {\n    name: 'Standard_LRS'\n  }\n}\n",
        encoding="utf-8",
    )
    checkov = str(CHECKOV) if CHECKOV.is_file() else "checkov"
    assert infra_check.main(["--checkov", checkov, "--dir", str(tmp_path)]) == 1
    assert "could not be parsed" in capsys.readouterr().err
