"""The one exception type that means "invalid input"."""

__all__ = ["InvalidInputError"]


class InvalidInputError(ValueError):
    """An argument or an input file is invalid (a negative variance, M > N where that is not allowed,
    a malformed or oversized data file, NaN in user data, an output folder that cannot be written, ...).

    Every layer of the library raises it for input a user can fix; it is a ``ValueError``, so code that
    catches ``ValueError`` keeps working. Only the command line turns it into exit code 2 with its message
    as one line on stderr.
    """
