"""One error hierarchy for the whole tool; each class carries its process exit code.

Exit codes (documented in the README): 0 ok, 1 operation failed or check found a
difference, 2 usage or configuration error, 3 drift or diff found under --fail-on-change.
"""

from __future__ import annotations


class TradingDrError(Exception):
    """Base of every error the CLI reports without a traceback."""

    exit_code = 1


class ConfigError(TradingDrError):
    """An environment file is unusable: names the file, the field and the fix."""

    exit_code = 2

    def __init__(
        self, source: str, field: str, message: str, more: list[str] | None = None
    ) -> None:
        self.source = source
        self.field = field
        self.message = message
        self.more = list(more or [])
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.source}: {self.field}: {self.message}"]
        lines += [f"{self.source}: {item}" for item in self.more]
        return "\n".join(lines)


class UsageError(TradingDrError):
    """The command line asks for something that cannot be done."""

    exit_code = 2


class StaleTemplatesError(TradingDrError):
    """`generate.py --check` found committed templates that differ from the code."""

    exit_code = 1


class OperationFailedError(TradingDrError):
    """A deployment operation failed; the message carries the reasons AWS gave."""

    exit_code = 1


class ChangesFoundError(TradingDrError):
    """Drift or diff found where --fail-on-change asked to fail on it."""

    exit_code = 3


class PlanError(TradingDrError):
    """The rollout plan cannot be built, e.g. a template parameter nothing can fill."""

    exit_code = 2


class CredentialsError(TradingDrError):
    """No usable AWS credentials: names where they are looked for and the fix."""

    exit_code = 2


class EndpointError(TradingDrError):
    """The AWS endpoint cannot be reached (network, endpoint URL, or the local AWS)."""

    exit_code = 1


class OutputError(TradingDrError):
    """An output directory cannot be written (--out, --templates-dir): nothing was written."""

    exit_code = 2


class OperationRunningError(TradingDrError):
    """The command left a StackSet operation running (deadline passed, or detached)."""

    exit_code = 1


class DelegationPendingError(TradingDrError):
    """The rollout waits for the parent zone to delegate to a new hosted zone."""

    exit_code = 1
