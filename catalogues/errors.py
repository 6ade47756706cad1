"""The error every catalogue reader raises for a file it cannot read."""


class FileFormatError(Exception):
    """The file cannot be read as the format it claims; nothing was imported."""
