"""The HTML report: captions that render to valid reStructuredText, and the report in a browser.

Caption tests (fast, no browser): every caption in ``workflow/report/`` is
rendered the way Snakemake 9 renders it (Jinja2 with ``trim_blocks`` and
``lstrip_blocks`` and a ``snakemake`` object, Snakemake's link targets
appended, then docutils) for the shipped configs and every figure name, and
must give reStructuredText without a docutils warning that states the config.

Browser tests (marker ``browser``): the report of the CI run (the session
fixture ``ci_report`` of ``tests/conftest.py``: path of ``report.html``) is
opened in headless Chromium (Debian's ``chromium``), driven with Playwright
without a Playwright browser download. They check that the page loads
without console errors or requests leaving the file, that a screenshot is not
blank, and that every model's ROC and loss-history figures are displayed: they
click through the report's menu like a reader (category -> model -> the eye
button of the figure's row) and find one loaded ``<img>`` per figure.
"""

from __future__ import annotations

import functools
import html
import io
import re
import shutil
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CAPTIONS = REPO / "workflow" / "report"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SHIPPED_CONFIGS = ("config.yaml", "ci.yaml")

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

CLASSIFIER_FIGURES = ("roc", "roc_rejection", "score_distribution", "loss_history", "significance",
                      "input_features", "correlations", "feature_ranking", "confusion_matrix",
                      "a_future_figure")
REGRESSION_FIGURES = ("response", "resolution", "calibrated_vs_true", "ratio_distributions",
                      "loss_history", "a_future_figure")
COMPARISON_FIGURES = ("roc", "roc_rejection", "loss_per_epoch", "loss_per_second", "a_future_figure")
OPTIMIZER_FIGURES = ("gd_step_sizes", "gd_step_sizes_parabola", "quadratic_2d_loss", "quadratic_2d_paths",
                     "schedules", "a_future_figure")
INPUT_FIGURES = ("input_features", "correlations", "feature_ranking", "a_future_figure")

# Snakemake 9.27 appends these link targets to every caption before rendering
# (snakemake/report/__init__.py, ``rst_links``); a caption must not clash with them.
SNAKEMAKE_RST_LINKS = textwrap.dedent("""

    .. _Workflow: javascript:show_panel('workflow')
    .. _Statistics: javascript:show_panel('statistics')
    {% for cat, catresults in categories|dictsort %}
    .. _{{ cat.name }}: javascript:app.showCategory('{{ cat.name|urlencode }}')
    {% endfor %}
    {% for res in files %}
    .. _{{ res.target }}: javascript:app.showResultInfo('{{ res.path|urlencode }}')
    {% endfor %}
    """)


# --- Captions ---------------------------------------------------------------------


def validated_config(name: str) -> dict:
    """A shipped config, validated and completed with the schema's defaults, as the Snakefile does."""
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / name).read_text())
    validate(config, str(SCHEMA))
    return config


def multiclass_config() -> dict:
    """The CI config with every sample its own class (softmax output)."""
    config = validated_config("ci.yaml")
    for sample_name, sample in config["samples"].items():
        if sample["class"] != "signal":
            sample["class"] = sample_name
    return config


def minimal_config() -> dict:
    """The CI config without regression, baselines or selection, and a model name ending in ``_``."""
    config = validated_config("ci.yaml")
    del config["regression"]
    config["classification"]["baselines"] = []
    config["selection"] = None
    models = config["classification"]["models"]
    models["adam_"] = models.pop("adam")
    return config


CONFIGS = {
    **{name: lambda name=name: validated_config(name) for name in SHIPPED_CONFIGS},
    "multiclass": multiclass_config,
    "minimal": minimal_config,
}


class _Category:
    """What Snakemake passes as a category to the caption template (``.name``, sortable)."""

    def __init__(self, name: str):
        self.name = name

    def __lt__(self, other: _Category) -> bool:
        return self.name < other.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Category) and self.name == other.name

    def __hash__(self) -> int:
        return hash(self.name)


@functools.cache
def caption_template(caption: str):
    """The caption compiled with Snakemake's Jinja settings, Snakemake's link targets appended."""
    from jinja2 import Environment

    environment = Environment(trim_blocks=True, lstrip_blocks=True)
    return environment.from_string((CAPTIONS / caption).read_text() + SNAKEMAKE_RST_LINKS)


def render_caption(caption: str, config: dict, *, wildcards: dict | None = None,
                   rule: str = "a_rule", front_page: bool = False) -> tuple[str, str, str]:
    """Render ``workflow/report/<caption>`` like Snakemake: (RST, text shown, docutils warnings)."""
    from docutils.core import publish_parts
    from snakemake.iocontainers import Namedlist, Wildcards

    categories = {_Category(name): {} for name in ("Classification", "Optimizers", "Regression")}
    files = [types.SimpleNamespace(target="roc.png", path="results/classification/gd/plots/roc.png")]
    if front_page:
        snakemake = types.SimpleNamespace(config=config)
    else:
        snakemake = types.SimpleNamespace(config=config, wildcards=Wildcards(fromdict=wildcards or {}),
                                          params=Namedlist(), rule=rule)
    text = caption_template(caption).render(snakemake=snakemake, categories=categories, files=files)
    warnings = io.StringIO()
    parts = publish_parts(text, writer="html",
                          settings_overrides={"warning_stream": warnings, "report_level": 2, "halt_level": 5})
    return text, text_content(parts["html_body" if front_page else "body"]), warnings.getvalue()


def caption_cases() -> Iterator[tuple[str, str, dict, str]]:
    """(caption file, config name, wildcards, rule): every figure name with the CI config, one per
    caption with the other configs, and every model of every config once."""
    for config_name, make_config in CONFIGS.items():
        config = make_config()
        every_name = config_name == "ci.yaml"

        def names(known: tuple[str, ...]) -> tuple[str, ...]:
            return known if every_name else (known[0], known[-1])

        models = list(config["classification"]["models"])
        for name in names(CLASSIFIER_FIGURES):
            yield "classifier.rst", config_name, {"model": models[0], "name": name}, "evaluate_classifier"
        for model in models[1:]:
            yield "classifier.rst", config_name, {"model": model, "name": "roc"}, "evaluate_classifier"
        for model in (config.get("regression") or {}).get("models", {}):
            for name in names(REGRESSION_FIGURES):
                yield "regression.rst", config_name, {"model": model, "name": name}, "evaluate_regressor"
        for name in names(COMPARISON_FIGURES):
            yield "comparison.rst", config_name, {"name": name}, "compare_models"
        yield "comparison_table.rst", config_name, {}, "compare_models"
        for name in names(OPTIMIZER_FIGURES):
            yield "optimizers.rst", config_name, {"name": name}, "plots"
        for name in (*names(INPUT_FIGURES), next(iter(config["features"]))):
            yield "inputs.rst", config_name, {"name": name, "model": models[0]}, "evaluate_classifier"
        yield "inputs.rst", config_name, {"name": "correlations"}, "plot_inputs"
        if config.get("regression"):
            yield "inputs.rst", config_name, {"name": "input_features"}, "plot_regression_inputs"


def test_every_caption_in_the_rules_exists():
    referenced = set()
    for rule_file in (REPO / "workflow" / "rules").glob("*.smk"):
        referenced |= set(re.findall(r'caption="\.\./report/([\w.-]+)"', rule_file.read_text()))
    assert referenced, "no report captions found in workflow/rules/*.smk"
    assert sorted(name for name in referenced if not (CAPTIONS / name).is_file()) == []


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_front_page_renders_and_states_the_config(config_name):
    config = CONFIGS[config_name]()
    rst, shown, warnings = render_caption("workflow.rst", config, front_page=True)
    assert warnings == "", f"docutils warnings in workflow.rst:\n{warnings}\n{rst}"
    expected = [*config["samples"], *config["features"], *config["classification"]["models"],
                f"{config['classification']['luminosity']} fb"]
    for model in config["classification"]["models"].values():
        expected += [(model["optimizer"]["name"], f"η₀ = {model['optimizer']['learning_rate']}",
                      f"hidden {'×'.join(map(str, model['hidden']))} ({model['activation']})")]
    missing = [item for item in expected if not all(str(part) in shown for part in _parts(item))]
    assert missing == [], f"not on the front page: {missing}"


def test_captions_render_as_valid_rst_and_state_the_config():
    configs = {name: make() for name, make in CONFIGS.items()}
    failures = []
    for caption, config_name, wildcards, rule in caption_cases():
        config = configs[config_name]
        rst, shown, warnings = render_caption(caption, config, wildcards=wildcards, rule=rule)
        where = f"{caption} with {config_name} and {wildcards}"
        if warnings:
            failures.append(f"{where}: docutils warnings:\n{warnings}\n{rst}")
            continue
        if "name" in wildcards and wildcards["name"] not in shown:
            failures.append(f"{where}: the figure name is not in the caption")
        if "Configuration that produced it" not in shown:
            failures.append(f"{where}: no configuration in the caption")
        missing = [item for item in _expected_config_text(caption, config, wildcards, rule) if item not in shown]
        if missing:
            failures.append(f"{where}: missing from the caption: {missing}\n{shown}")
    assert failures == [], "\n\n".join(failures[:5])


@pytest.mark.parametrize("caption, figures", [("classifier.rst", CLASSIFIER_FIGURES),
                                               ("regression.rst", REGRESSION_FIGURES),
                                               ("comparison.rst", COMPARISON_FIGURES),
                                               ("optimizers.rst", OPTIMIZER_FIGURES)])
def test_captions_explain_each_known_figure_differently(caption, figures):
    config = validated_config("ci.yaml")
    section = config["regression"] if caption == "regression.rst" else config["classification"]
    wildcards = {"model": next(iter(section["models"]))}
    explanations = set()
    for name in figures:
        _, shown, _ = render_caption(caption, config, wildcards=wildcards | {"name": name})
        explanations.add(shown.split("Configuration that produced it")[0].replace(name, ""))
    assert len(explanations) == len(figures)


def _parts(item) -> tuple:
    return item if isinstance(item, tuple) else (item,)


def _expected_config_text(caption: str, config: dict, wildcards: dict, rule: str) -> list[str]:
    """Config values a caption must show."""
    if caption in ("classifier.rst", "regression.rst"):
        section = config["classification"] if caption == "classifier.rst" else config["regression"]
        model = section["models"][wildcards["model"]]
        training = model["training"]
        expected = [wildcards["model"], " → ".join(map(str, model["hidden"])), model["activation"],
                    model["optimizer"]["name"], f"η₀ = {model['optimizer']['learning_rate']}",
                    model["schedule"]["name"].replace("_", " "), f"at most {training['epochs']} epochs",
                    f"seed {training['seed']}"]
        if caption == "regression.rst":
            expected += [config["regression"]["target"], *config["regression"]["features"].values()]
        elif wildcards["name"] in ("input_features", "correlations", "feature_ranking"):
            expected += list(config["features"].values())
        return expected
    if caption in ("comparison.rst", "comparison_table.rst"):
        models = config["classification"]["models"]
        return [*models, *(f"η₀ = {model['optimizer']['learning_rate']}" for model in models.values()),
                *config["classification"]["baselines"]]
    if caption == "inputs.rst":
        regression = "regression" in wildcards["name"] or "regress" in rule
        features = config["regression"]["features"] if regression else config["features"]
        return [*features.values()]
    if caption == "optimizers.rst":
        return [*config["plots"]["formats"]]
    return []


def text_content(markup: str) -> str:
    """The text of rendered HTML, whitespace collapsed (docutils splits literals into spans)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


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
