"""Copy the configuration page's third-party assets into shared/configure/static/vendor/.

The official Adaptive Cards renderer and markdown-it (npm packages in node_modules, MIT) and,
when present, Teams' host config (../shared/hostconfig, MIT) are copied at build/publish time,
never committed: vendor/ is git-ignored and not in .funcignore, so `func azure functionapp
publish` ships it. `make configure-assets` runs this; the page works without it, minus "Show me".

    python -m tools.configure_assets
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "shared" / "configure" / "static" / "vendor"
NODE = ROOT / "node_modules"
#: (source, name in vendor/, required)
ASSETS = (
    (NODE / "adaptivecards" / "dist" / "adaptivecards.min.js", "adaptivecards.min.js", True),
    (NODE / "adaptivecards" / "LICENSE", "adaptivecards.LICENSE.txt", False),
    (NODE / "markdown-it" / "dist" / "markdown-it.min.js", "markdown-it.min.js", True),
    (NODE / "markdown-it" / "LICENSE", "markdown-it.LICENSE.txt", False),
    (ROOT.parent / "shared" / "hostconfig" / "microsoft-teams-light.json", "hostconfig-light.json", False),
)


def copy() -> list[str]:
    """Copy what is there; returns the problems (a required asset missing)."""
    VENDOR.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for source, name, required in ASSETS:
        if source.is_file():
            shutil.copyfile(source, VENDOR / name)
        elif required:
            problems.append(f"{source} is missing (run npm ci)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.parse_args(argv)
    problems = copy()
    for problem in problems:
        print(f"configure_assets: {problem}", file=sys.stderr)
    names = ", ".join(sorted(p.name for p in VENDOR.iterdir()))
    print(f"configure_assets: {VENDOR.relative_to(ROOT)}: {names}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
