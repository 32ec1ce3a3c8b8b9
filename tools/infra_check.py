"""Offline checks of infra/: checkov's Bicep policies, failing on any unparsed file.

checkov silently skips a Bicep file its parser cannot read (it reports parsing_errors and still
exits 0), so this wrapper turns that, a failed check, or a skip without a written reason into a
failure. Run by `make test` (and `make infra-check`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_checkov(checkov: str, directory: Path) -> list[dict[str, Any]]:
    """checkov's JSON reports; a missing tool or unreadable output stops with a message, not a trace."""
    if not (Path(checkov).is_file() or shutil.which(checkov)):
        raise SystemExit(f"checkov not found at {checkov}: run `make infra-check` (it installs .venv-iac)")
    result = subprocess.run(
        [checkov, "-d", str(directory), "--framework", "bicep", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if not result.stdout.strip():
        raise SystemExit(
            f"checkov printed nothing (exit {result.returncode}): {result.stderr.strip()[-2000:]}"
        )
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise SystemExit(
            f"checkov did not print JSON (exit {result.returncode}): {result.stdout.strip()[:500]}"
        ) from None
    return data if isinstance(data, list) else [data]


def problems(reports: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(errors, notes): parse errors, failed checks and reason-less skips are errors."""
    errors: list[str] = []
    notes: list[str] = []
    for report in reports:
        summary = report.get("summary", {})
        notes.append(
            "checkov {checkov_version}: passed {passed}, failed {failed}, skipped {skipped}, "
            "parsing errors {parsing_errors}, resources {resource_count}".format(**summary)
        )
        if summary.get("parsing_errors", 0):
            errors.append(
                f"{summary['parsing_errors']} Bicep file(s) could not be parsed, so were not checked"
            )
        if summary.get("resource_count", 0) == 0:
            errors.append("no resource was scanned")
        results = report.get("results", {})
        for check in results.get("failed_checks", []):
            errors.append(
                f"{check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']})"
            )
        for check in results.get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment", "").strip()
            if not reason or reason == "No comment provided":
                errors.append(f"{check['check_id']} is skipped without a reason ({check['file_path']})")
            else:
                notes.append(f"skipped {check['check_id']} on {check['resource']}: {reason}")
    return errors, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkov", default=str(ROOT / ".venv-iac" / "bin" / "checkov"))
    parser.add_argument("--dir", default=str(ROOT / "infra"))
    args = parser.parse_args(argv)
    errors, notes = problems(run_checkov(args.checkov, Path(args.dir)))
    for note in notes:
        print(note)
    if errors:
        print("infra check FAILED:", file=sys.stderr)
        for error in errors:
            print(f"  - {error}", file=sys.stderr)
        return 1
    print("infra check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
