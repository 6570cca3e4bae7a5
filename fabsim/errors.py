"""Errors that the CLI turns into one-line messages and exit codes."""

from __future__ import annotations

#: Exit code of a command interrupted by Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


class FabsimError(Exception):
    """Base class of every error fabsim reports to a user."""

    exit_code = 1


class ScenarioError(FabsimError):
    """An invalid scenario: names the file and the dotted key path.

    ``str(err)`` is the one-line message shown to the user, e.g.
    ``scenario.toml: topology.host_rate: cannot parse "100Gbs" as a rate (did you mean Gbps?)``.
    """

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None):
        self.message = message
        self.file = file
        self.path = path
        super().__init__(self.__str__())

    def with_file(self, file: str | None) -> "ScenarioError":
        """The same error attributed to ``file`` (kept if already set)."""
        return ScenarioError(self.message, file=self.file or file, path=self.path)

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.path) if p]
        parts.append(self.message)
        return ": ".join(parts)


class UsageError(FabsimError):
    """Bad command-line usage (exit code 2)."""

    exit_code = 2


class SimulationError(FabsimError):
    """The engine stopped with a status code the driver could not recover from."""

    exit_code = 1

    def __init__(self, message: str, status: int = 0):
        self.status = status
        super().__init__(message)
