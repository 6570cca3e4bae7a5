"""The ``fabsim`` command line: ``commands`` (argparse, exit codes, one function per command),
``progress`` (the progress and compile displays), and the renderers ``validate``
(``fabsim validate``), ``sweep`` (``fabsim sweep``: dry run, progress, closing table),
``report`` (rich tables of a run or sweep) and ``plot`` (PNG figures).

``command`` is the console script's entry point (``fabsim = "fabsim.cli:command"``): ``main``
in a process of its own; ``main(argv)`` runs the same in any process.
"""

from .commands import command, main

__all__ = ["command", "main"]
