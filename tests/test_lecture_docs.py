"""docs/lecture.md: every slide title, in order, and every file, function, test and figure it names exists.

The slide titles are the distinct ``# `` lines of the lecture's text, in
order (``SLIDE_TITLES``).  Where the text itself is at hand (``../shared/
lecture/`` next to the repository, or ``$HEPMLP_LECTURE_DIR``), the list is
checked against it too.
"""

from __future__ import annotations

import ast
import os
import re
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "lecture.md"
LABELS = ("**Formula:**", "**Code:**", "**Test:**", "**Figure:**", "**Differs:**")

SLIDE_TITLES = (
    "Moderne Methoden der Datenanalyse – Ereignisklassifikation –",
    "Inhalt der Vorlesung",
    "Übergang zur kontinuierlichen Aktivierungsfunktion",
    "Sigmoidfunktion",
    "Training als Optimierungsproblem",
    "Supervised learning",
    "Unsupervised learning",
    "Reinforcement learning",
    "Labels",
    "Verlustfunktion",
    "Kreuzentropie (binäre Klassifikation)",
    "Binomialverteilung",
    "Anmerkungen zur Verlustfunktion",
    "Minimierung der Verlustfunktion",
    "Gradientenabstiegsverfahren",
    "Optimale Schrittweite",
    "Diskussion Konvergenzverhalten",
    "Newtonverfahren",
    "Newtonverfahren in d Dimensionen",
    "Gradientenabstieg in d Dimensionen",
    "Newtonverfahren in 2 Dimensionen",
    "Newtonverfahren – Diskussion",
    "Adaptive Schrittweite",
    "Impulsverfahren (engl. *momentum methods*)",
    "Nesterov's accelerated gradient (Y. Nesterov 1983)",
    "Putting things together...",
    "Ableitung an einem festen Punkt im MLP",
    "Schritt-1: Forward pass",
    "Gradientenabstieg – Teil 1",
    "Schritt-2: Backward pass",
    "Gradientenabstieg – Teil 2",
    "Backup",
)

CODE_REFERENCE = re.compile(r"`((?:src|tests)/[\w/.-]+\.py)(?:::([\w.]+))?`")
FIGURE_REFERENCE = re.compile(r"`(results/[\w/.-]+\.png)`")


def lecture_text() -> Path | None:
    """The slides' text, if it is next to the repository (or named by $HEPMLP_LECTURE_DIR)."""
    folders = [Path(os.environ["HEPMLP_LECTURE_DIR"])] if os.environ.get("HEPMLP_LECTURE_DIR") else []
    folders += [parent / "shared" / "lecture" for parent in REPO.parents]
    for folder in folders:
        texts = sorted(folder.glob("*.txt")) if folder.is_dir() else []
        if texts:
            return texts[0]
    return None


def sections() -> list[tuple[str, str]]:
    """(title, body) of every ``## `` section of docs/lecture.md, in order."""
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.MULTILINE)
    return [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts), 2)]


def test_the_titles_are_the_slides_titles():
    text = lecture_text()
    if text is None:
        pytest.skip("the lecture's text (../shared/lecture/*.txt) is not next to the repository")
    titles = []
    for line in text.read_text().splitlines():
        if line.startswith("# ") and (not titles or titles[-1] != line[2:].strip()):
            titles.append(line[2:].strip())
    assert list(dict.fromkeys(titles)) == list(SLIDE_TITLES)


def test_every_slide_title_has_its_section_in_order():
    assert [title for title, _ in sections()] == list(SLIDE_TITLES)


def test_every_section_gives_formula_code_test_figure_and_differences():
    missing = [(title, label) for title, body in sections() for label in LABELS if label not in body]
    assert missing == []


@cache
def defined_names(path: Path) -> frozenset[str]:
    """Qualified names of the classes and functions a Python file defines (``A``, ``A.method``, ``f``)."""
    names = set()

    def visit(node, prefix=""):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(prefix + child.name)
                visit(child, prefix + child.name + ".")

    visit(ast.parse(path.read_text()))
    return frozenset(names)


def test_every_named_file_function_and_test_exists():
    references = CODE_REFERENCE.findall(DOC.read_text())
    assert len(references) > 50
    missing = []
    for file, name in references:
        path = REPO / file
        if not path.is_file():
            missing.append(file)
        elif name and name not in defined_names(path):
            missing.append(f"{file}::{name}")
    assert missing == [], f"docs/lecture.md names what does not exist: {missing}"
    tested = [name for file, name in references if file.startswith("tests/")]
    assert all(name.startswith("test_") for name in tested)


def figure_names() -> dict[str, set[str]]:
    """Folder pattern -> the figure names hepmlp writes there."""
    from hepmlp.evaluate.classifier_report import COMMON_STEMS
    from hepmlp.evaluate.comparison import PLOT_STEMS as COMPARISON_STEMS
    from hepmlp.evaluate.input_report import PLOT_STEMS as INPUT_STEMS
    from hepmlp.evaluate.optimizer_study import PLOT_STEMS as OPTIMIZER_STEMS
    from hepmlp.stages.regress import PLOT_STEMS as REGRESSION_STEMS

    return {
        r"results/optimizers/plots/(\w+)\.png": set(OPTIMIZER_STEMS),
        r"results/classification/comparison/plots/(\w+)\.png": set(COMPARISON_STEMS),
        r"results/classification/(?!comparison/)[\w-]+/plots/(\w+)\.png": set(COMMON_STEMS) | {"significance"},
        r"results/regression/[\w-]+/plots/(\w+)\.png": set(REGRESSION_STEMS),
        r"results/inputs/plots/(\w+)\.png": set(INPUT_STEMS),
    }


def test_every_named_figure_is_one_the_workflow_writes():
    import yaml

    figures = FIGURE_REFERENCE.findall(DOC.read_text())
    assert figures
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    models = {"classification": set(config["classification"]["models"]), "regression": set(config["regression"]["models"])}
    unknown = []
    for figure in figures:
        matches = [(pattern, names) for pattern, names in figure_names().items() if re.fullmatch(pattern, figure)]
        if not matches or re.fullmatch(matches[0][0], figure).group(1) not in matches[0][1]:
            unknown.append(figure)
            continue
        parts = figure.split("/")
        if parts[1] in models and parts[2] != "comparison" and parts[2] not in models[parts[1]]:
            unknown.append(f"{figure} (no model {parts[2]!r} in config/config.yaml)")
    assert unknown == [], f"docs/lecture.md names figures the workflow does not write: {unknown}"


def test_the_readme_links_the_lecture_map_and_marks_what_goes_beyond_it():
    readme = (REPO / "README.md").read_text()
    assert "docs/lecture.md" in readme
    paragraphs = [" ".join(part.lower().split()) for part in re.split(r"\n\s*\n", readme)]
    beyond = [part for part in paragraphs if "beyond the lecture" in part]
    assert any("adam" in part for part in beyond) and any("damped newton" in part for part in beyond)
    config = (REPO / "config" / "config.yaml").read_text().lower()
    assert config.count("beyond the lecture") >= 2
