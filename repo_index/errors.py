"""The error a user of the workspace index can fix; anything else is a bug.

Here rather than in ``workspace`` so that the modules ``workspace`` uses can raise it too.
"""


class WorkspaceError(Exception):
    """A problem the user can fix (a root that is not a directory, a full cache disk...)."""

    user_facing = True
