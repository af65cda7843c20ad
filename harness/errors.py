"""The one error type for a user's mistakes."""


class BenchUsageError(Exception):
    """A mistake in what the user asked for; the CLI prints it as one line and exits with status 2.

    The message names the offending value and what is accepted, e.g.
    ``--hidden: 'abc' is not a positive integer (expected e.g. 3,32,64)``.
    """


def one_line(error: BaseException) -> str:
    """``Type: message`` squeezed onto one line, for a record's message or a plugin problem."""
    return " ".join(f"{type(error).__name__}: {error}".split())
