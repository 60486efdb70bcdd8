"""The exception the network code raises when training cannot go on."""


class TrainingError(ValueError):
    """Inputs or settings with which training (or the exact Hessian) cannot work:
    NaN/inf features, a non-positive weight sum, a diverging loss, a Hessian
    above ``max_params``.  The message says what would fix it; the stage that
    called ``fit`` reports it to the analyst as a ``hepmlp.errors.UserError``."""
