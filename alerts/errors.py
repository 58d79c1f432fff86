"""The project's exception classes: each carries a one-line message and a CLI exit code."""

from __future__ import annotations


class AlertsError(Exception):
    """Base of every error the service reports to a person (operator or resident)."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(AlertsError):
    """A configuration value is missing or wrong; names the key."""

    exit_code = 2


class UsageError(AlertsError):
    """A command was called with arguments that do not fit together."""

    exit_code = 2


class InvalidInput(AlertsError):
    """Input data (a phone number, a file, a coordinate) is malformed."""

    exit_code = 1


class InvalidOption(UsageError, InvalidInput):
    """A command-line value that cannot be read (a time, a topic, a language, LAT,LON): a
    usage error (exit 2) whatever reads it; an import wraps it as its own bad data."""


class InvalidPhone(InvalidInput):
    """A phone number that cannot receive SMS in this service's region."""


class NotFound(AlertsError):
    """A named thing (subscriber, zone, alert) does not exist."""

    exit_code = 1


class DatabaseError(AlertsError):
    """The database cannot be reached or is at the wrong schema version."""

    exit_code = 1
