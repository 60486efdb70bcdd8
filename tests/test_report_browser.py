"""The HTML report of the CI run in a real browser (marker ``browser``).

The report (the session fixture ``ci_report`` of ``tests/conftest.py``: path
of ``report.html``, written by the workflow's ``report`` rule) is opened in
headless Chromium (Debian's ``chromium``), driven with Playwright without a
Playwright browser download. The tests check that the page loads without
console errors or requests leaving the file, that a screenshot is not blank,
and that every model's ROC and loss-history figures are displayed: they click
through the report's menu like a reader (category -> model -> the eye button
of the figure's row) and find one loaded ``<img>`` per figure.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

# The figures the browser test looks for: category -> figure names, in every
# subcategory named after a model of the CI config (Classification / <model>).
REPORT_FIGURES = {"Classification": ("roc", "loss_history")}
CI_CONFIG = REPO / "config" / "ci.yaml"

CHROMIUM_ARGUMENTS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
PAGE_TIMEOUT_MS = 30_000


# --- The report in headless Chromium ---------------------------------------------


def report_models() -> list[str]:
    """The models of the CI config: one report subcategory each."""
    return list(yaml.safe_load(CI_CONFIG.read_text())["classification"]["models"])


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of Debian's chromium; skip when it or the Playwright driver is missing."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium not installed (Debian: apt-get install chromium); CI's .ci/run installs it")
    pytest.importorskip("playwright.sync_api", reason="the Playwright Python package is not installed "
                        "(pip install -e '.[test]')")
    return path


@pytest.fixture(scope="module")
def report_html(chromium, request) -> Path:
    """The CI report (fixture ``ci_report``), asked for only once chromium is known to be there."""
    try:
        report = Path(request.getfixturevalue("ci_report"))
    except pytest.FixtureLookupError:
        pytest.skip("no ci_report fixture (tests/conftest.py) to build the report with")
    assert report.is_file(), f"the report {report} was not written"
    return report


class BrowserLog:
    """Console errors, uncaught exceptions and requests that leave the report file."""

    def __init__(self):
        self.errors: list[str] = []
        self.external_requests: list[str] = []

    def attach(self, page) -> None:
        page.on("console", lambda message: message.type == "error" and self.errors.append(
            f"console.error: {message.text} ({message.location})"))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("request", lambda request: request.url.split(":", 1)[0] not in ("file", "data", "blob")
                and self.external_requests.append(request.url))

    def assert_clean(self) -> None:
        assert self.errors == [], "errors in the browser console:\n" + "\n".join(self.errors)
        assert self.external_requests == [], f"the report is not self-contained: {self.external_requests}"


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    """A headless Chromium (Debian's) with a fresh profile, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # --user-data-dir
            executable_path=chromium,
            headless=True,  # --headless
            args=list(CHROMIUM_ARGUMENTS),
            viewport={"width": 1400, "height": 900},
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture
def report_page(browser, report_html):
    """The report opened in a new tab, its menu rendered; yields (page, log)."""
    page = browser.new_page()
    log = BrowserLog()
    log.attach(page)
    page.goto(report_html.resolve().as_uri(), wait_until="load")
    page.locator("#loading-screen").wait_for(state="hidden")
    menu_link(page, "Workflow").wait_for(state="visible")
    yield page, log
    page.close()


def exact_text(label: str) -> re.Pattern:
    return re.compile(rf"^\s*{re.escape(label)}\s*$")


def menu_link(page, label: str):
    """The navigation menu's entry ``label`` (category, subcategory or general item)."""
    return page.locator("nav div.p-3 li > a").filter(has_text=exact_text(label))


def breadcrumb(page, label: str):
    """The breadcrumb ``label`` above the menu (e.g. "Results", back to the categories)."""
    return page.locator("nav nav a").filter(has_text=exact_text(label))


def show_figure(page, category: str, subcategory: str, figure: str):
    """Click through the menu to ``figure`` and show it; return the result table's row."""
    menu_link(page, category).click()
    breadcrumb(page, category).wait_for(state="visible")
    # A category with one subcategory opens its table of results directly.
    if not page.locator("nav tbody").count():
        link = menu_link(page, subcategory)
        assert link.count() == 1, f"{category}: no subcategory {subcategory!r} in the menu"
        link.click()
    row = page.locator("nav tbody tr").filter(
        has=page.locator("td").filter(has_text=exact_text(figure))
    )
    assert row.count() == 1, f"{category} / {subcategory}: no single row for the figure {figure!r}"
    row.locator("a[iconname='eye']").click()  # the row's "show" button
    return row


def assert_not_blank(png: bytes, what: str) -> None:
    """A screenshot holds more than one flat colour."""
    from PIL import Image, ImageStat

    image = Image.open(io.BytesIO(png)).convert("L")
    low, high = image.getextrema()
    spread = ImageStat.Stat(image).stddev[0]
    assert high - low > 64 and spread > 5, f"{what} looks blank (grey levels {low}..{high}, std {spread:.1f})"


@pytest.mark.browser
def test_report_loads_without_console_errors(report_page, report_html):
    page, log = report_page
    for category in REPORT_FIGURES:
        assert menu_link(page, category).count() == 1, f"no {category} category in the menu"
    assert 'class="system-message"' not in report_html.read_text(errors="replace"), \
        "a caption did not render as valid reStructuredText"
    title = page.locator("#app h1.title")
    assert title.count() == 1, "the front page (workflow/report/workflow.rst) has no title"
    assert title.bounding_box()["y"] >= 0, ("the front page is cut off at the top: shorten "
                                            "workflow/report/workflow.rst or build the report with "
                                            "--report-stylesheet workflow/report/report.css")
    assert_not_blank(page.screenshot(), "the report's front page")
    log.assert_clean()


@pytest.mark.browser
@pytest.mark.parametrize("category", list(REPORT_FIGURES))
def test_figures_are_displayed(report_page, category):
    """Every model's figures of ``REPORT_FIGURES`` show up as a loaded image, with a caption."""
    page, log = report_page
    models = report_models()
    for model in models:
        for figure in REPORT_FIGURES[category]:
            row = show_figure(page, category, model, figure)
            image = page.locator("xpath=//img[not(ancestor::nav)]")
            image.wait_for(state="visible")
            assert image.count() == 1, f"{model}/{figure}: {image.count()} images displayed"
            assert image.get_attribute("src").startswith("data:image/png")
            size = image.evaluate("img => img.complete ? [img.naturalWidth, img.naturalHeight] : [0, 0]")
            assert min(size) > 0, f"{model}/{figure}: the image did not load"
            assert_not_blank(image.screenshot(), f"{model}/{figure}")
            assert_not_blank(page.screenshot(), f"the page showing {model}/{figure}")

            row.locator("a[iconname='information-circle']").click()  # the caption
            caption = page.locator("nav .prose")
            caption.wait_for(state="visible")
            assert model in caption.inner_text()

            breadcrumb(page, "Results").click()  # back to the list of categories
            menu_link(page, category).wait_for(state="visible")
    log.assert_clean()
