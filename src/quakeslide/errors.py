"""Errors that the command line reports as one line, with a non-zero exit code."""

from collections.abc import Iterable


class InputError(ValueError):
    """Bad user input: the message names the file and the problem."""


def check_choice(option: str, value: str, choices: Iterable[str]) -> str:
    """`value` when it is one of `choices`, else an InputError naming `option` and them."""
    choices = list(choices)
    if value not in choices:
        raise InputError(f"{option} {value!r}: use one of {', '.join(choices)}")
    return value


def first_line(err: Exception, limit: int = 200) -> str:
    """A library error's first line, for a one-line message (its type when it has none)."""
    lines = str(err).strip().splitlines()
    return lines[0][:limit] if lines else type(err).__name__
