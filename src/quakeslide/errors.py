"""Errors that the command line reports as one line, with a non-zero exit code."""


class InputError(ValueError):
    """Bad user input: the message names the file and the problem."""
