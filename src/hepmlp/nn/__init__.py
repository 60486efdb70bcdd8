"""hepmlp.nn: the multilayer perceptron, as in the lecture, vectorised over events.

- ``MLP``: forward pass, backward pass, flat ``params`` (``network.py``)
- units as objects with their derivatives (``activations.py``); losses (``losses.py``)
- ``hessian``: the exact Hessian by the R-operator (``hessian.py``)
- ``fit`` / ``History`` / ``EpochProgress``: the training loop (``training.py``);
  it reports each epoch to a callback and raises ``TrainingError``
- ``MLP.save`` / ``MLP.load``: the network's files (``network_file.py``;
  a ``NetworkFileError`` for a description that does not fit)
- ``build_model`` / ``fit_from_config``: the same from a config model entry
"""

from .errors import TrainingError
from .from_config import build_model, fit_from_config
from .hessian import hessian
from .network import MLP, one_hot
from .training import EpochProgress, History, fit

__all__ = [
    "EpochProgress",
    "History",
    "MLP",
    "TrainingError",
    "build_model",
    "fit",
    "fit_from_config",
    "hessian",
    "one_hot",
]
