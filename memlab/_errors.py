"""The one exception type that means "the user gave bad input"."""


class UserInputError(ValueError):
    """Bad user input: the CLI prints its message as one line on stderr and exits with code 2.

    Library functions raise it for invalid arguments a user can fix (a negative variance,
    M > N where that is not allowed, a malformed data file, NaN in user data, ...).
    """
