"""Errors that the CLI reports as one clear line (naming the file and the problem) instead of a traceback."""


class InputError(ValueError):
    """Bad input data: a missing root, an unreadable file, a split that would end empty."""


class ConfigError(ValueError):
    """params.yaml is missing, unreadable or does not match the schema."""
