"""``python -m fabsim``: the same as the ``fabsim`` command."""

import sys

from .cli import main

sys.exit(main())
