"""Domain errors: the CLI turns each into a clear message and a non-zero exit."""


class ProcureError(Exception):
    """A user-facing error: the message says what went wrong and where."""

    exit_code = 1


class InputFileError(ProcureError):
    """A file could not be read or used at all (nothing was written)."""

    exit_code = 2


class UnknownReferenceError(ProcureError):
    """A code (supplier, trust, profile, scenario) that the database does not know."""

    exit_code = 3


class DuplicateImportError(ProcureError):
    """The identical file was imported before; reported, nothing written."""

    exit_code = 0
