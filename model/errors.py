"""Errors of the model layer. Every message names the file or model and what to do."""


class ModelError(Exception):
    """A model cannot be found, loaded or run. The message says what to do about it."""

    user_facing = True


class ModelNotFound(ModelError):
    """No such registry name or file."""


class BadModelFile(ModelError):
    """A file that is missing, truncated, corrupt, or of the wrong architecture."""


class DownloadError(ModelError):
    """A download that cannot happen here (no network) or failed."""
