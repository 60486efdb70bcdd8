"""``python -m hepmlp``: the same as the ``hepmlp`` command."""

import sys

from hepmlp.cli import main

sys.exit(main())
