"""Errors a user can act on. The CLI prints them as one line and exits with ``exit_code``."""


class FhdrError(Exception):
    """Base class: a failed conversion or unreadable input (exit code 1)."""

    exit_code = 1


class UsageError(FhdrError):
    """The command line asks for something impossible: bad option, path or extension (exit code 2)."""

    exit_code = 2


class InputError(FhdrError):
    """An input file exists but cannot be used as an image (exit code 1)."""


class WeightsError(FhdrError):
    """The weights file is missing, corrupt or not an FHDR checkpoint (exit code 1)."""
