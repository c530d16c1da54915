"""Fixtures shared by the whole suite.

``model``: the shipped default model (``models/fast.pt``, committed). A missing or unreadable file
fails every test that needs it, never skips: a skip would hide the loss of the model behind a
green run.
"""

from __future__ import annotations

import pytest

from fer_core.modelfile import LoadedModel


@pytest.fixture(scope="session")
def model() -> LoadedModel:
    """The shipped default model, loaded once for the session."""
    from fer_core.model_zoo import resolve_model_path
    from fer_core.modelfile import load_model

    try:
        return load_model(resolve_model_path(None))
    except FileNotFoundError as exc:
        pytest.fail(f"the shipped model is missing (models/fast.pt is committed): {exc}")
