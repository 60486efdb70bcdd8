"""hepmlp.nn: the multilayer perceptron, as in the lecture, vectorised over events.

- ``MLP``: forward pass, backward pass, flat ``params`` (``network.py``)
- units and losses as tables (``activations.py``, ``losses.py``)
- ``hessian``: the exact Hessian by the R-operator (``hessian.py``)
- ``fit`` / ``History``: the training loop (``training.py``)
- ``build_model`` / ``fit_from_config``: the same from a config model entry
"""

from .from_config import build_model, fit_from_config
from .hessian import hessian
from .network import MLP, one_hot
from .training import History, fit

__all__ = ["History", "MLP", "build_model", "fit", "fit_from_config", "hessian", "one_hot"]
