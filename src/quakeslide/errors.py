"""Errors that the command line reports as one line, with a non-zero exit code."""


class InputError(ValueError):
    """Bad user input: the message names the file and the problem."""


def first_line(err: Exception, limit: int = 200) -> str:
    """A library error's first line, for a one-line message (its type when it has none)."""
    lines = str(err).strip().splitlines()
    return lines[0][:limit] if lines else type(err).__name__
