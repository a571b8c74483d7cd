"""The report and a model page in headless Chromium with the network blocked, as a reader offline sees them.

Needs Debian's chromium at /usr/bin/chromium and the playwright package (.ci/run installs both); elsewhere the
test is skipped with the reason, unless MLPSTUDY_REQUIRE_BROWSER=1 (set by .ci/run) turns that into a failure.
"""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import unavailable

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        unavailable("MLPSTUDY_REQUIRE_BROWSER", f"{CHROMIUM} not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("MLPSTUDY_REQUIRE_BROWSER", "the playwright package is missing (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_offline(browser, path: Path, screenshot: Path):
    """Load `path` with every non-file request refused; return the page and the problems seen."""
    problems = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def only_local(route):
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            problems.append(f"network request blocked: {route.request.url}")
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and problems.append(f"console error: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url} {request.failure}"))
    page.goto(path.as_uri(), wait_until="load")
    broken = page.evaluate(
        "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt || i.src.slice(0, 80))"
    )
    problems += [f"image does not decode: {name}" for name in broken]
    page.screenshot(path=str(screenshot), full_page=True)
    if os.environ.get("MLPSTUDY_SCREENSHOTS"):  # to look at them: MLPSTUDY_SCREENSHOTS=/some/folder pytest ...
        shutil.copy(screenshot, Path(os.environ["MLPSTUDY_SCREENSHOTS"]) / screenshot.name)
    return page, problems


def test_report_opens_offline_without_errors_and_lists_every_experiment(browser, study, tmp_path):
    workdir, _ = study
    page, problems = open_offline(browser, workdir / "results" / "report.html", tmp_path / "report.png")
    assert problems == []
    assert page.evaluate("document.images.length") >= 3 * 5 + 3 + 8
    listed = page.eval_on_selector_all("table.wide tbody tr td:first-child a", "cells => cells.map(c => c.textContent)")
    assert listed == list(pd.read_csv(workdir / "results" / "comparison.csv")["experiment"])
    assert page.title().startswith("mlpstudy report")
    assert "We recommend" in page.inner_text("#summary")


def test_model_page_opens_offline_without_errors(browser, study, tmp_path):
    workdir, config = study
    name = config["experiments"][0]["name"]
    page, problems = open_offline(
        browser, workdir / "results" / "experiments" / name / "model_report.html", tmp_path / "model_report.png"
    )
    assert problems == []
    assert page.evaluate("document.images.length") >= 5
    assert name in page.inner_text("body")
