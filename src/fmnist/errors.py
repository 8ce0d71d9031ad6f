"""User-facing errors: one line each, in one shape everywhere:

    <what was wrong>; allowed: <what is allowed>; got: <what was given>; fix: <how to fix it>

The CLI prints ``str(error)`` and exits with ``error.exit_code``; no traceback for a user's mistake.
Parts that would say nothing are left out (``allowed`` of a missing file, ``got`` of a crash).
"""

from __future__ import annotations

from typing import Any

_UNSET = object()


class FmnistError(Exception):
    """Base class for every error a user can cause and fix."""

    exit_code = 2

    def __init__(
        self, what: str, *, allowed: str | None = None, got: Any = _UNSET, fix: str | None = None
    ) -> None:
        parts = [what]
        parts += [f"allowed: {allowed}"] if allowed else []
        parts += [f"got: {got!r}"] if got is not _UNSET else []
        parts += [f"fix: {fix}"] if fix else []
        super().__init__("; ".join(parts))


class ConfigError(FmnistError):
    """A config field, override or recipe is invalid."""


class DataError(FmnistError):
    """A data file is missing, corrupt or not Fashion-MNIST."""


class UnknownModelError(ConfigError):
    """A model name or model option is not registered."""


class RunDirError(FmnistError):
    """A run directory is missing, incomplete or not an fmnist run."""


class TrainingDiverged(FmnistError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 3
