"""The report's captions: they render to valid reStructuredText and state the config.

Every caption in ``workflow/report/`` is rendered the way Snakemake 9 renders
it (Jinja2 with ``trim_blocks`` and ``lstrip_blocks`` and a ``snakemake``
object, Snakemake's link targets appended, then docutils) for the shipped
configs and every figure name, and must give reStructuredText without a
docutils warning that states the config.
"""

from __future__ import annotations

import functools
import html
import io
import re
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

CLASSIFIER_FIGURES = ("roc", "roc_rejection", "score_distribution", "loss_history", "significance",
                      "input_features", "correlations", "feature_ranking", "confusion_matrix",
                      "templates", "a_future_figure")
REGRESSION_FIGURES = ("response", "resolution", "calibrated_vs_true", "ratio_distributions",
                      "loss_history", "a_future_figure")
COMPARISON_FIGURES = ("roc", "roc_rejection", "loss_per_epoch", "loss_per_second", "a_future_figure")
OPTIMIZER_FIGURES = ("gd_step_sizes", "gd_step_sizes_parabola", "quadratic_2d_loss", "quadratic_2d_paths",
                     "steps_vs_condition_number", "newton_saddle", "schedules", "a_future_figure")
INPUT_FIGURES = ("input_features", "correlations", "feature_ranking", "a_future_figure")
SCAN_FIGURES = ("validation_loss_vs_learning_rate", "validation_loss_vs_hidden", "validation_loss_heatmap",
                "a_future_figure")

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
    config["classification"]["scans"] = {"random_": {"base": {"hidden": [4], "optimizer": {"name": "gd"}}, "random": {
        "n": 3, "seed": 2, "parameters": {"optimizer.learning_rate": {"log_uniform": [0.001, 0.1]},
                                          "hidden": {"choice": [[4], [8, 8]]}}}}}
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
                   rule: str = "a_rule", front_page: bool = False,
                   params: dict | None = None) -> tuple[str, str, str]:
    """Render ``workflow/report/<caption>`` like Snakemake: (RST, text shown, docutils warnings)."""
    from docutils.core import publish_parts
    from snakemake.iocontainers import Namedlist, Wildcards

    categories = {_Category(name): {} for name in ("Classification", "Optimizers", "Regression")}
    files = [types.SimpleNamespace(target="roc.png", path="results/classification/gd/plots/roc.png")]
    if front_page:
        snakemake = types.SimpleNamespace(config=config)
    else:
        snakemake = types.SimpleNamespace(config=config, wildcards=Wildcards(fromdict=wildcards or {}),
                                          params=Namedlist(fromdict=params or {}), rule=rule)
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
        for model, entry in config["classification"]["models"].items():
            if entry["transform"] != ["standardise"]:
                for name in ("transformed_inputs", "correlations_transformed"):
                    yield "inputs.rst", config_name, {"name": name, "model": model}, "plot_transformed_inputs"
        for scan in config["classification"].get("scans") or {}:
            for name in names(SCAN_FIGURES):
                yield "scans.rst", config_name, {"scan": scan, "name": name}, "summarise_scan"
            yield "scan_table.rst", config_name, {"scan": scan}, "summarise_scan"
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
                                               ("optimizers.rst", OPTIMIZER_FIGURES),
                                               ("scans.rst", SCAN_FIGURES)])
def test_captions_explain_each_known_figure_differently(caption, figures):
    config = validated_config("ci.yaml")
    section = config["regression"] if caption == "regression.rst" else config["classification"]
    wildcards = {"model": next(iter(section["models"])), "scan": next(iter(config["classification"]["scans"]))}
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
                    *(step if isinstance(step, str) else step["name"] for step in model.get("transform", [])),
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
        if "transformed" in wildcards["name"]:
            chain = config["classification"]["models"][wildcards["model"]]["transform"]
            return [*features.values(), ", ".join(step if isinstance(step, str) else step["name"] for step in chain)]
        return [*features.values()]
    if caption == "optimizers.rst":
        return [*config["plots"]["formats"]]
    if caption in ("scans.rst", "scan_table.rst"):
        scan = config["classification"]["scans"][wildcards["scan"]]
        expected = [wildcards["scan"], "validation loss", *(scan.get("grid") or scan["random"]["parameters"])]
        if isinstance(scan["base"], str):
            expected.append(scan["base"])
        if "random" in scan:
            expected += [f"{scan['random']['n']} points", f"seed {scan['random']['seed']}",
                         *(kind for distribution in scan["random"]["parameters"].values() for kind in distribution)]
        else:
            expected += [str(values) for values in scan["grid"].values()]
        return expected
    return []


def text_content(markup: str) -> str:
    """The text of rendered HTML, whitespace collapsed (docutils splits literals into spans)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


# --- The optimizer captions state the run's numbers ------------------------------------


@pytest.fixture(scope="module")
def study_numbers(tmp_path_factory):
    """What the plots rule hands the captions: caption_numbers of a steps.json the study computed."""
    import json

    from hepmlp.evaluate.optimizer_study import caption_numbers, compute_study

    path = tmp_path_factory.mktemp("study") / "steps.json"
    path.write_text(json.dumps(compute_study().document))
    return caption_numbers(path)


def _number(value) -> str:
    return f"{value:.3g}"


def test_optimizer_captions_state_the_numbers_of_the_run(study_numbers):
    config = validated_config("ci.yaml")

    def shown(name: str) -> str:
        rst, text, warnings = render_caption("optimizers.rst", config, wildcards={"name": name}, rule="plots",
                                             params={"study": study_numbers})
        assert warnings == "", f"docutils warnings in optimizers.rst for {name}:\n{warnings}\n{rst}"
        return text

    methods = study_numbers["methods"]
    paths = shown("quadratic_2d_paths")
    problem = study_numbers["problem"]
    expected = [f"condition number {_number(problem['condition_number'])}",
                f"x₀ = ({_number(problem['x0'][0])}, {_number(problem['x0'][1])})",
                f"= {_number(methods['gd']['learning_rate'])} = {_number(methods['gd']['learning_rate_times_lambda_max'])}/λ_max",
                f"changing sign {methods['gd']['stiff_sign_changes']} times in {methods['gd']['steps_until_stopping_rule']} steps",
                f"amplitude {_number(methods['gd']['stiff_amplitude'])} over the first {methods['gd']['amplitude_steps']} steps",
                f"{methods['gd']['steps_to_loss_tolerance']} steps to F − F* ≤ 1e-08",
                f"= {_number(methods['momentum']['momentum'])}: the memory term damps",
                f"amplitude {_number(methods['momentum']['stiff_amplitude'])}",
                f"in {methods['momentum']['steps_to_loss_tolerance']} steps",
                f"1/λ_max = {_number(methods['nesterov']['learning_rate'])} with β = (√κ − 1)/(√κ + 1) = {_number(methods['nesterov']['momentum'])}",
                f"{methods['nesterov']['steps_to_loss_tolerance']} steps.",
                "minimum in 1 step."]
    assert [item for item in expected if item not in paths] == [], paths
    loss = shown("quadratic_2d_loss")
    for method, record in methods.items():
        assert (f"{method} (η = {_number(record['learning_rate'])}" in loss
                and f"{record['steps_to_loss_tolerance']} steps to the tolerance, stopped after "
                    f"{record['steps_until_stopping_rule']}." in loss), loss
    condition = shown("steps_vs_condition_number")
    for method, steps in study_numbers["sweep"]["steps"].items():
        assert f"{method}: {', '.join(map(str, steps))} steps" in condition, condition
    saddle = shown("newton_saddle")
    for run in study_numbers["saddle"]["runs"]:
        assert (f"the plain step ends at the {run['plain']['ends_at']} after {run['plain']['steps']} steps" in saddle
                and f"the damped step at the {run['damped']['ends_at']} after {run['damped']['steps']} steps"
                in saddle), saddle
    schedules = shown("schedules")
    for name, sums in study_numbers["schedules"].items():
        assert (f"{name}: Σ η_k = {sums['sum_rates']:.5g} ({sums['sum_rates_half']:.5g}), "
                f"Σ η_k² = {sums['sum_squares']:.5g} ({sums['sum_squares_half']:.5g})") in schedules, schedules


def test_optimizer_captions_without_a_run_render_without_numbers():
    """Before the study ran (params.study empty) the captions still render and name where the numbers are."""
    config = validated_config("ci.yaml")
    for name in OPTIMIZER_FIGURES:
        rst, text, warnings = render_caption("optimizers.rst", config, wildcards={"name": name}, rule="plots",
                                             params={"study": {}})
        assert warnings == "", f"{name}:\n{warnings}\n{rst}"
        assert "steps.json" in text
