"""Errors of the training package. Each message says what went wrong and what to do.

They carry ``user_facing = True`` so the CLI prints them as one line (qwenpair/errors.py);
anything else raised from training/ is a bug and keeps its traceback.
"""


class TrainingError(Exception):
    """A training or data run cannot go on; the message says what to do about it."""

    user_facing = True


class DataError(TrainingError):
    """The corpus, a source, a benchmark file or a shard set is unusable."""


class MismatchError(TrainingError):
    """A checkpoint, adapter or shard set was written with a different prompt format,
    tokenizer or configuration than the one this run uses."""


class OutOfSpace(TrainingError):
    """The disk filled up (or a file-size limit was hit) while writing; nothing partial was
    left under a final name."""
