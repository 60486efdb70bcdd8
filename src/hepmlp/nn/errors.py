"""The exception the network code raises when training cannot go on."""


class TrainingError(ValueError):
    """Inputs or settings with which training (or the exact Hessian) cannot work:
    NaN/inf features, a non-positive weight sum, a diverging loss, a Hessian
    above ``max_params``.  The message says what would fix it; the stage that
    called ``fit`` reports it to the analyst as a ``hepmlp.errors.UserError``."""


class NetworkFileError(ValueError):
    """A network file (``model.json`` next to ``model.npz``) that cannot be read as
    one: not JSON, another format or version, keys missing, shapes that disagree.
    The message names the file and what would fix it; ``hepmlp.io.model_files``
    reports it to the analyst as a ``hepmlp.errors.UserError``.  (The arrays'
    own checks, in ``hepmlp.io.array_files``, raise ``UserError`` directly.)"""
