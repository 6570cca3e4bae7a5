"""The ``fabsim`` command line: ``commands`` (argparse, exit codes, one function per command),
``progress`` (the progress and compile displays), and the renderers ``validate``
(``fabsim validate``), ``sweep`` (``fabsim sweep``: dry run, progress, closing table),
``report`` (rich tables of a run or sweep) and ``plot`` (PNG figures).

``main`` is the console script's entry point (``fabsim = "fabsim.cli:main"``).
"""

from .commands import main

__all__ = ["main"]
