"""User-facing errors: one clear line naming the problem and the fix."""


class GanforgeError(Exception):
    """An error caused by the user's input (config, data, checkpoint).

    The CLI prints ``error: <message>`` and exits with status 2, with no traceback.
    """
