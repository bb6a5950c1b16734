"""The report page in a real browser: headless Chromium (system package) opens it, takes a screenshot, and
the DOM says that the verdict table has one row per claim, that every figure's image loaded, that the
sort works and that the page made no external request. Skipped, with the reason, where no Chromium is
installed (`.ci/run` installs it with the system package manager).

Set MEMLAB_REPORT_SCREENSHOT=FILE.png to keep the screenshot.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest
from _chromium import Chromium, find_chromium
from report_fixtures import claims, png_bytes, write_figure1, write_figure2, write_verify_json

from memlab.report import default_verify_json, write_report

CHROMIUM, WHY_NOT = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=WHY_NOT or "no Chromium")

#: An address that is never routed (TEST-NET-1, RFC 5737); the browser's proxy refuses it anyway.
EXTERNAL = "http://192.0.2.1/pixel.png"

_DOM = """(() => ({
  rows: Array.from(document.querySelectorAll('#verdicts tbody tr')).map(r => r.dataset.claim),
  verdicts: Array.from(document.querySelectorAll('#verdicts tbody tr')).map(r => r.dataset.verdict),
  images: Array.from(document.images).map(i => ({src: i.getAttribute('src').slice(0, 30), complete: i.complete,
                                                  width: i.naturalWidth, height: i.naturalHeight})),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  failsColor: getComputedStyle(document.querySelector('#verdicts .v-fails')).color,
  holdsColor: getComputedStyle(document.querySelector('#verdicts .v-holds')).color,
  missing: document.querySelectorAll('#missing-table tbody tr').length,
}))()"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    log = tmp_path_factory.mktemp("chromium") / "chromium.log"
    with Chromium(CHROMIUM, log=log) as chromium:
        yield chromium


@pytest.fixture
def report(tmp_path) -> Path:
    figures = tmp_path / "figures"
    write_figure1(figures)
    write_figure2(figures)
    extra = figures / "my-experiment"
    extra.mkdir()
    (extra / "my-experiment.png").write_bytes(png_bytes(12, 8))
    write_verify_json(default_verify_json(figures))
    path, _ = write_report(figures / "report.html", figures_dir=figures, verify_json=default_verify_json(figures))
    return path


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


def test_page_in_chromium_rows_images_no_network_screenshot(browser, report, tmp_path):
    page = browser.load(report.resolve().as_uri())
    dom = page.evaluate(_DOM)
    assert sorted(dom["rows"]) == sorted(c["id"] for c in claims())  # one row per claim
    assert len(dom["images"]) == 3  # figure1, figure2, my-experiment
    assert [(i["width"], i["height"]) for i in dom["images"]] == [(40, 20), (30, 10), (12, 8)]
    assert all(i["complete"] and i["src"].startswith("data:image/png;base64,") for i in dom["images"])
    assert dom["missing"] == 5  # Figures 3-7
    assert dom["failsColor"] == "rgb(207, 34, 46)" and dom["holdsColor"] == "rgb(26, 127, 55)"
    assert page.external_requests == []
    assert page.csp_violations == []
    assert all(name.startswith(("file:", "data:")) for name in dom["resources"])
    shot = page.screenshot(tmp_path / "report.png")
    width, height = _png_size(shot)
    assert width == 1280 and height > 900
    if os.environ.get("MEMLAB_REPORT_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["MEMLAB_REPORT_SCREENSHOT"])
    page.close()


def test_clicking_a_heading_sorts_the_verdict_table(browser, report):
    page = browser.load(report.resolve().as_uri())
    page.evaluate("document.querySelectorAll('#verdicts thead th')[4].click()")  # the verdict column
    verdicts = page.evaluate(_DOM)["verdicts"]
    order = ["holds", "fails", "inconclusive", "error", "unknown"]
    assert verdicts == sorted(verdicts, key=order.index)
    page.evaluate("document.querySelectorAll('#verdicts thead th')[4].click()")
    assert page.evaluate(_DOM)["verdicts"] == sorted(verdicts, key=order.index, reverse=True)
    page.close()


def test_the_checks_see_an_external_request_when_a_page_makes_one(browser, report, tmp_path):
    """Negative controls: the same page with an external image, with and without its Content-Security-Policy."""
    html = report.read_text(encoding="utf-8").replace("<main>", f'<main><img src="{EXTERNAL}" alt="external">', 1)
    blocked = tmp_path / "blocked.html"
    blocked.write_text(html, encoding="utf-8")
    page = browser.load(blocked.resolve().as_uri())
    assert any(EXTERNAL in v for v in page.csp_violations)  # the policy stopped it and said so
    assert page.evaluate(_DOM)["images"][0]["width"] == 0  # and it did not load
    page.close()
    unprotected = tmp_path / "unprotected.html"
    unprotected.write_text(
        html.replace('http-equiv="Content-Security-Policy"', 'name="no-policy"', 1), encoding="utf-8"
    )
    page = browser.load(unprotected.resolve().as_uri())
    assert page.external_requests == [EXTERNAL]  # the request was attempted (the proxy refused it)
    assert page.evaluate(_DOM)["images"][0]["width"] == 0
    page.close()
