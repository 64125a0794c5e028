"""Errors Mizan raises on bad input: each message names the problem and the fix."""


class MizanError(Exception):
    """Base class: an error a user can act on, shown without a traceback by the CLI."""


class DataError(MizanError, ValueError):
    """Input data (a CSV, a TSV, a JSONL file) is missing, malformed or of the wrong schema."""


class ModelError(MizanError):
    """A model or tokenizer could not be found or built (offline, wrong folder, ...)."""


class ProfileError(MizanError, ValueError):
    """An unknown profile name or an invalid budget field."""


class StudentFileError(MizanError, ValueError):
    """A ``student.toml`` that cannot be used: not UTF-8 TOML, an unknown key, a malformed name or ID."""
