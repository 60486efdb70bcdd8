"""A model's chain of input transforms: parsed from the config, fitted, applied, stored.

A chain is a list applied in order, as in the config::

    transform: [standardise]                                   # the default
    transform: [gaussianise, decorrelate]                      # TMVA's "G,D"
    transform: [{name: log, features: [met], offset: 1.0}, standardise]
    transform: [{name: decorrelate, per_class: background}]

Names and options (the formulas are in ``linear`` and ``marginal``):

==============  ======================================================
``standardise`` (x - mean) / std, unweighted (hepmlp's standardisation)
``normalise``   the training range of each feature to [-1, 1]
``decorrelate`` y = (x - μ) C^(-1/2); option ``per_class``
``pca``         y = (x - μ) V, principal components; option ``per_class``
``gaussianise`` y = Φ⁻¹(F(x)), F the weighted ECDF; option ``knots``
``log``         log(x + offset) for ``features`` (required); ``offset``
==============  ======================================================

Every step is fitted on the training events it is given, with their
training weights, after the steps before it.  ``per_class: NAME`` fits
``decorrelate`` / ``pca`` on the events of class NAME only (``true``: the
signal class, ``classes[1]`` of a binary classifier), as TMVA's per-class
transforms; at application the class of an event is unknown, so that one
transform is applied to every event, whatever its class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepmlp.choices import check_choice
from hepmlp.errors import UserError
from hepmlp.transforms import linear, marginal
from hepmlp.transforms.linear import TransformError

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Kind:
    """One transform name: its options (with defaults), fit, apply, inverse and array names."""

    options: Mapping[str, Any]
    fit: Callable[..., Arrays]
    apply: Callable[[np.ndarray, Arrays], np.ndarray]
    inverse: Callable[[np.ndarray, Arrays], np.ndarray]
    arrays: tuple[str, ...]


KINDS: dict[str, Kind] = {
    "standardise": Kind({}, linear.fit_standardise, linear.apply_standardise, linear.inverse_standardise,
                        ("mean", "std")),
    "normalise": Kind({}, linear.fit_normalise, linear.apply_normalise, linear.inverse_normalise,
                      ("centre", "half_range")),
    "decorrelate": Kind({"per_class": None}, linear.fit_decorrelate, linear.apply_matrix, linear.inverse_matrix,
                        ("matrix", "offset")),
    "pca": Kind({"per_class": None}, linear.fit_pca, linear.apply_matrix, linear.inverse_matrix,
                ("matrix", "offset")),
    "gaussianise": Kind({"knots": marginal.DEFAULT_KNOTS}, marginal.fit_gaussianise, marginal.apply_gaussianise,
                        marginal.inverse_gaussianise, ("x_knots", "u_knots")),
    "log": Kind({"features": None, "offset": 0.0}, marginal.fit_log, marginal.apply_log, marginal.inverse_log,
                ("mask", "offset", "floor")),
}
NAMES = tuple(KINDS)
DEFAULT_CHAIN = ("standardise",)


@dataclass(frozen=True)
class TransformSpec:
    """One configured step: ``name``, its ``options`` (defaults filled) and the config ``key`` it came from."""

    name: str
    options: Mapping[str, Any]
    key: str


@dataclass(frozen=True)
class FittedTransform:
    """One fitted step: name, options and its parameters as plain float64 arrays."""

    name: str
    options: Mapping[str, Any]
    arrays: Arrays = field(repr=False)

    def apply(self, X: np.ndarray) -> np.ndarray:
        return KINDS[self.name].apply(X, self.arrays)

    def inverse(self, Y: np.ndarray) -> np.ndarray:
        return KINDS[self.name].inverse(Y, self.arrays)


# --------------------------------------------------------------------------- parsing
def parse_chain(entries: Sequence[Any] | None, *, features: Sequence[str], classes: Sequence[str],
                key: str) -> list[TransformSpec]:
    """The steps of a ``transform`` list (``None``: the default ``[standardise]``).

    Each entry is a name or a mapping with ``name`` and that name's options.
    ``UserError`` naming ``key[i]`` for an unknown name or option, a ``log``
    feature that is not a model feature, or a ``per_class`` that is not a class.
    """
    if entries is None:
        entries = list(DEFAULT_CHAIN)
    if isinstance(entries, (str, Mapping)) or not isinstance(entries, Sequence):
        raise UserError(f"config key {key}: give a list of transforms, e.g. [gaussianise, decorrelate]")
    specs = []
    for index, entry in enumerate(entries):
        where = f"{key}[{index}]"
        if isinstance(entry, str):
            name, given = entry, {}
        elif isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            name, given = entry["name"], {k: v for k, v in entry.items() if k != "name"}
        else:
            raise UserError(f"config key {where}: {entry!r} is neither a transform name nor a mapping with 'name'")
        check_choice("transform", name, NAMES, where=f"config key {where}", error=UserError)
        defaults = KINDS[name].options
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            valid = ", ".join(defaults) if defaults else "none"
            raise UserError(f"config key {where}: {name} takes no option(s) {', '.join(unknown)}; its options: {valid}")
        options = {**defaults, **{k: v for k, v in given.items() if v is not None}}
        specs.append(TransformSpec(name, _checked_options(name, options, features, classes, where), where))
    return specs


def _checked_options(name: str, options: dict, features: Sequence[str], classes: Sequence[str],
                     where: str) -> dict:
    if name == "log":
        chosen = options["features"]
        if isinstance(chosen, str):
            chosen = [chosen]
        if not chosen or not all(isinstance(item, str) for item in chosen):
            raise UserError(f"config key {where}.features: log needs a list of feature names, e.g. [met]")
        missing = [item for item in chosen if item not in features]
        if missing:
            raise UserError(f"config key {where}.features: {', '.join(missing)} not among the model's features "
                            f"({', '.join(features)})")
        if not isinstance(options["offset"], (int, float)) or isinstance(options["offset"], bool):
            raise UserError(f"config key {where}.offset: {options['offset']!r} should be a number")
        return {"features": list(chosen), "offset": float(options["offset"])}
    if name == "gaussianise":
        knots = options["knots"]
        if isinstance(knots, bool) or not isinstance(knots, int) or knots < 2:
            raise UserError(f"config key {where}.knots: {knots!r} should be an integer >= 2")
        return {"knots": knots}
    if "per_class" in options:
        per_class = options["per_class"]
        if per_class not in (None, False) and not classes:
            raise UserError(f"config key {where}.per_class: there are no classes (a regression?); drop per_class")
        if per_class is True:
            if len(classes) != 2:
                raise UserError(f"config key {where}.per_class: true means the signal class of a binary "
                                f"classifier; with classes {', '.join(classes)} name one of them")
            per_class = classes[1]
        if per_class is False:
            per_class = None
        if per_class is not None and per_class not in classes:
            raise UserError(f"config key {where}.per_class: {per_class!r} is not a class of the dataset; "
                            f"choose one of: {', '.join(classes)}")
        return {"per_class": per_class}
    return {}


# --------------------------------------------------------------------------- fitting and applying
def fit_chain(specs: Sequence[TransformSpec], X: np.ndarray, weights: np.ndarray, *,
              features: Sequence[str], labels: np.ndarray | None = None, classes: Sequence[str] = (),
              standardisation: tuple[Any, Any] | None = None) -> FittedChain:
    """Fit each step on the events ``X`` ``(n, d)`` with ``weights`` ``(n,)``, transformed by the steps before.

    ``labels`` (indices into ``classes``) select the events of a
    ``per_class`` step.  ``standardisation``: ``(mean, std)`` the dataset
    stage computed for its whole training split; a leading ``standardise``
    takes it when it is the fit of these events (equal to 1e-9, in another
    summation order), so that the numbers stay bit-identical; on other
    events (a fold's) the step is fitted here.
    """
    current = np.asarray(X, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    features = list(features)
    steps = []
    for index, spec in enumerate(specs):
        options = dict(spec.options)
        rows = slice(None)
        if options.get("per_class") is not None:
            if labels is None:
                raise ValueError(f"{spec.key}: per_class needs the event labels")
            rows = np.asarray(labels) == list(classes).index(options["per_class"])
        try:
            if index == 0 and spec.name == "standardise" and standardisation is not None:
                arrays = _same_standardisation(linear.fit_standardise(current, weights, features), standardisation)
            elif spec.name == "log":
                arrays = marginal.fit_log(current, weights, features, offset=options["offset"],
                                          columns=[features.index(name) for name in options["features"]])
            elif spec.name == "gaussianise":
                arrays = marginal.fit_gaussianise(current, weights, features, knots=options["knots"])
            else:
                if current[rows].shape[0] < 2:
                    raise TransformError("fewer than two events to fit it on")
                arrays = KINDS[spec.name].fit(current[rows], weights[rows], features)
        except TransformError as error:
            scope = f" on class {options['per_class']}" if options.get("per_class") else ""
            raise UserError(f"config key {spec.key} ({spec.name}{scope}): {error}") from None
        step = FittedTransform(spec.name, options, {k: np.asarray(v, np.float64) for k, v in arrays.items()})
        steps.append(step)
        current = step.apply(current)
    return FittedChain(tuple(steps), len(features))


def _same_standardisation(fitted: Arrays, given: tuple[Any, Any]) -> Arrays:
    """``given`` (mean, std) where it equals ``fitted`` to rounding, else ``fitted``."""
    mean, std = np.asarray(given[0], np.float64), np.asarray(given[1], np.float64)
    same = (mean.shape == fitted["mean"].shape and std.shape == fitted["std"].shape
            and np.allclose(mean, fitted["mean"], rtol=1e-9, atol=1e-12 * float(np.max(fitted["std"])))
            and np.allclose(std, fitted["std"], rtol=1e-9, atol=0))
    return {"mean": mean, "std": std} if same else fitted


@dataclass(frozen=True)
class FittedChain:
    """The fitted steps of one model, applied in order to raw features ``(n, d)``."""

    steps: tuple[FittedTransform, ...]
    n_features: int

    def apply(self, X: np.ndarray) -> np.ndarray:
        """``T_k(... T_1(X))``, in ``X``'s dtype (float32 or float64)."""
        for step in self.steps:
            X = step.apply(X)
        return X

    def inverse(self, Y: np.ndarray) -> np.ndarray:
        """``T_1⁻¹(... T_k⁻¹(Y))`` in float64 (gaussianise: inside the training range)."""
        Y = np.asarray(Y, dtype=np.float64)
        for step in reversed(self.steps):
            Y = step.inverse(Y)
        return Y

    @property
    def names(self) -> list[str]:
        return [step.name for step in self.steps]

    def is_default(self) -> bool:
        return tuple(self.names) == DEFAULT_CHAIN
