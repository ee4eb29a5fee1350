"""How the CLI tells a problem the user can fix from a bug.

Each layer has its own error base class (``model.errors.ModelError`` and so on) with the
class attribute ``user_facing = True`` and a message that says what to do. The CLI prints
those as one line; anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the command line itself (bad FILE:LINE:COL, missing file...)."""

    user_facing = True


def is_user_facing(exc: BaseException) -> bool:
    return bool(getattr(exc, "user_facing", False))
