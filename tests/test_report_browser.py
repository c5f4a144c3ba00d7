"""The tiny run's report in a real browser: headless Chromium, no network, laptop and phone."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .helpers import ROOT, TINY_CONFIG

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"


# The page's width, tables wider than a box that does not scroll, the tallest architectures row.
LAYOUT = """() => {
  const contentWidth = box => {
    const style = getComputedStyle(box);
    return box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  };
  const scrolls = box => ["auto", "scroll"].includes(getComputedStyle(box).overflowX);
  return {
    page: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    clipped: [...document.querySelectorAll("table")]
      .filter(t => t.offsetWidth > contentWidth(t.parentElement) + 1 && !scrolls(t.parentElement))
      .map(t => t.id || t.className || t.parentElement.tagName),
    tallest_architecture_row: Math.max(...[...document.querySelectorAll("#architectures-table tr")]
      .map(row => row.getBoundingClientRect().height)),
  };
}"""
SCREENSHOTS = {1280: "report.png", 390: "report-390px.png"}


@pytest.mark.workflow
@pytest.mark.slow
def test_report_renders_in_a_real_browser(tiny_run):
    """Headless Chromium, no network, on a laptop and a phone (1280 and 390 px wide).

    No console errors or failed requests, every figure drawn, and with every <details> open
    the page never scrolls sideways: a wide table scrolls in its own box.
    """
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make installs it where apt works)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    errors, failed, seen = [], [], {}
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        for width, screenshot in SCREENSHOTS.items():
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.route("http*://**", lambda route: route.abort())
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto((tiny_run / "results" / "report.html").as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img",
                "els => els.map(e => [e.alt, e.naturalWidth, e.getBoundingClientRect().height])",
            )
            page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
            chart = page.locator("img[alt^='Test accuracy against batch-1 latency']")
            chart.screenshot(path=str(ARTIFACTS / f"deployment-{width}px.png"))
            deployment_box = chart.bounding_box()
            page.eval_on_selector_all("details", "els => els.forEach(e => { e.open = true; })")
            seen[width] = {
                "images": images,
                "tables": page.eval_on_selector_all("table[id]", "els => els.map(e => e.id)"),
                "text": page.inner_text("body"),
                "layout": page.evaluate(LAYOUT),
                "deployment_chart": deployment_box,
                "deployment_front": page.inner_text("#deployment-front"),
            }
            page.close()
        browser.close()
    assert errors == [] and failed == []
    variants = yaml.safe_load(TINY_CONFIG.read_text())["variants"]
    questions = ("What is TensorFlow", "What is TensorRT", "What is ImageNet", "MobileNet")
    for width, found in seen.items():
        images, layout = found["images"], found["layout"]
        assert images and all(drawn > 0 and high > 0 for _, drawn, high in images), images
        assert layout["viewport"] == width and layout["page"] <= width, layout
        assert layout["clipped"] == [], layout
        assert {
            "accuracy-table",
            "baseline-layers-mlp_baseline",
            "environment-table",
            "conversions-cnn",
            "deployment-front",
        } <= set(found["tables"])
        assert [name for name in (*variants, *questions) if name not in found["text"]] == []
        # the chart fits the page and its numbered points are named in the table under it
        chart = found["deployment_chart"]
        assert chart and 0 < chart["width"] <= width and chart["height"] > 100, chart
        assert "\n1\t" in "\n" + found["deployment_front"] and "cnn" in found["deployment_front"]
    assert seen[1280]["layout"]["tallest_architecture_row"] < 100, seen[1280]["layout"]
    print("screenshots:", *(ARTIFACTS / name for name in SCREENSHOTS.values()))
