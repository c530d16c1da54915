"""Errors that mean "the user's input is wrong", which the CLI reports in one line, no traceback."""


class FerError(Exception):
    """Base class of errors caused by input (files, folders, ids), not by a bug."""


class ModelFileError(FerError, ValueError):
    """A file is not a model file (or ONNX graph) this version of fer_core can load.

    Defined here, not in :mod:`fer_core.models.file_format`, so the torch-free app can catch it.
    """
