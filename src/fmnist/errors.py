"""User-facing errors: one line each, saying what was wrong, what is allowed and how to fix it.

The CLI prints ``str(error)`` and exits with ``error.exit_code``; no traceback for a user's mistake.
"""


class FmnistError(Exception):
    """Base class for every error a user can cause and fix."""

    exit_code = 2


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
