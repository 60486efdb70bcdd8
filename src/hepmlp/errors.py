"""The one exception type for user errors.

A ``UserError`` is something the analyst can fix (a missing file, a config
typo, NaNs in a feature).  The command line prints its message on one line
and exits with status 1, without a Python traceback.  Every message names the
thing that is wrong and what would fix it.
"""


class UserError(Exception):
    """An error in the analyst's input: printed without a traceback."""


class SampleError(UserError):
    """A ``UserError`` about one sample of the config: the message starts with
    ``sample '<name>': ``, so code that adds the sample's name to an error
    knows from the type, not from the text, that it is already there."""

    def __init__(self, sample: str, problem: str):
        super().__init__(f"sample {sample!r}: {problem}")
        self.sample = sample
