"""``python -m fabsim``: the same as the ``fabsim`` command."""

import sys

from .cli import command

sys.exit(command())
