"""README screenshots of the workbench's main pages (工作台截图), saved to docs/screenshots/.

Builds the same demo world as the browser tests (``tests/support/workbench_flows.py``:
a 500-firm province, an alarm scan, fixture models, a marketing run, referred applications, a
consent and a bureau query), serves it on a free local port and photographs each page in
Debian's headless chromium through Playwright. Chinese needs ``fonts-noto-cjk``.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]  # for ``support.workbench_flows``
CHROMIUM = Path("/usr/bin/chromium")


@dataclass(frozen=True)
class Shot:
    """One screenshot: who signs in, which page, what to wait for and show at the top."""

    name: str
    user: str | None
    path: str
    wait_for: str
    scroll_to: str | None = None


def shots(world) -> list[Shot]:  # type: ignore[no-untyped-def]
    return [
        Shot("login", None, "/login", "[data-testid=login-submit]"),
        Shot("tasks", "demo_account_manager", "/alarm/tasks?today=2026-06-12", "table.data"),
        Shot(
            "warning",
            "demo_account_manager",
            f"/alarm/warnings/{world.warning_id}?today=2026-06-12",
            "[data-testid=evidence]",
        ),
        Shot("profile", "demo_account_manager", f"/firms/{world.own_firm}", "[data-testid=radar]"),
        Shot(
            "related_graph",
            "demo_account_manager",
            f"/firms/{world.own_firm}",
            "[data-testid=related-graph-2hop]",
            "[data-testid=related]",
        ),
        Shot("marketing", "demo_account_manager", "/marketing", "[data-testid=marketing-list]"),
        Shot("portfolio", "demo_risk_officer", "/portfolio", "[data-testid=kpis]"),
        Shot(
            "model_monitoring",
            "demo_risk_officer",
            "/portfolio",
            "[data-testid=model-monitoring]",
            "section:has([data-testid=model-monitoring])",
        ),
        Shot("reviews", "demo_risk_officer", "/reviews", "[data-testid=review-queue]"),
        Shot(
            "sentinel",
            "demo_risk_officer",
            "/sentinel?refer_points=20&reject_points=40",
            "[data-testid=sentinel-arms]",
        ),
        Shot("audit", "demo_auditor", "/audit", "[data-testid=bureau-log]"),
    ]


def _check_fonts() -> None:
    listing = subprocess.run(["fc-list"], capture_output=True, text=True, check=False).stdout
    if "CJK" not in listing:
        sys.exit("no CJK font: install fonts-noto-cjk (scripts/setup-system.sh)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing: install Debian's chromium (scripts/setup-system.sh)")
    _check_fonts()
    from playwright.sync_api import sync_playwright

    from support import workbench_flows as flows

    folder = Path(tempfile.mkdtemp(prefix="puhui-screenshots-"))
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the CLI steps' tables
            world = flows.build_flow_world(folder / "data")
        url, server, thread = flows.serve(flows.flow_app(world))
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            for shot in shots(world):
                context = browser.new_context(
                    viewport={"width": 1280, "height": 900}, base_url=url, locale="zh-CN"
                )
                page = context.new_page()
                if shot.user:
                    flows.sign_in(page, world.credentials, shot.user)
                page.set_default_timeout(180_000)  # the sentinel builds its index once
                page.goto(shot.path)
                page.wait_for_selector(shot.wait_for)
                if shot.scroll_to:
                    page.locator(shot.scroll_to).first.scroll_into_view_if_needed()
                    page.evaluate(
                        "s => document.querySelector(s).scrollIntoView({block: 'start'})",
                        shot.scroll_to,
                    )
                target = args.out / f"{shot.name}.png"
                page.screenshot(path=str(target))
                print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
                context.close()
            browser.close()
        server.should_exit = True
        thread.join(timeout=10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
