"""The one exception type for user errors.

A ``UserError`` is something the analyst can fix (a missing file, a config
typo, NaNs in a feature).  The command line prints its message on one line
and exits with status 1, without a Python traceback.  Every message names the
thing that is wrong and what would fix it.
"""


class UserError(Exception):
    """An error in the analyst's input: printed without a traceback."""
