"""Errors raised by the dataset readers, carrying where the bad input is."""


class DataFormatError(ValueError):
    """A row of an input file does not have the expected form.

    The message always names the file, the 1-based line number and what was expected,
    so a user can open the file at the right place.
    """

    def __init__(self, path, line, expected, got=None):
        self.path, self.line, self.expected, self.got = str(path), line, expected, got
        where = f"{self.path}:{line}" if line is not None else self.path
        msg = f"{where}: expected {expected}"
        if got is not None:
            msg += f", got {got!r}"
        super().__init__(msg)
