"""Errors that mean "the user's input is wrong", which the CLI reports in one line, no traceback."""


class FerError(Exception):
    """Base class of errors caused by input (files, folders, ids), not by a bug."""
