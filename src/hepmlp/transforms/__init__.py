"""TMVA-style input-variable transforms, pure math: fit on weighted events, apply, invert, store.

``parse_chain`` reads a model's ``transform`` list, ``fit_chain`` fits it
on the model's training events, ``FittedChain.apply`` maps raw features to
the network's inputs; ``stored`` turns a fitted chain into plain arrays and
JSON for the model file and back.  Nothing here reads or writes files.
"""

from hepmlp.transforms.chain import (
    DEFAULT_CHAIN,
    KINDS,
    NAMES,
    FittedChain,
    FittedTransform,
    TransformSpec,
    fit_chain,
    parse_chain,
)
from hepmlp.transforms.linear import TransformError, weighted_moments

__all__ = [
    "DEFAULT_CHAIN",
    "KINDS",
    "NAMES",
    "FittedChain",
    "FittedTransform",
    "TransformError",
    "TransformSpec",
    "fit_chain",
    "parse_chain",
    "weighted_moments",
]
