"""Fixtures and switches shared by the whole suite.

* ``model_path`` / ``model``: the shipped default model (``models/fast.pt``, committed, or
  ``FER_MODEL``). A missing or unreadable file **fails** every test that needs it, never skips:
  a skip would hide the loss of the model behind a green run.
* ``FER_REQUIRE_DATA=1`` (set by ``.ci/run``): a test that needs the full datasets fails when
  they are absent instead of skipping (:func:`tests.core_data.require_data`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_core.models.file_format import LoadedModel


@pytest.fixture(scope="session")
def model_path() -> Path:
    """Path of the shipped default model; fails the test when it is missing."""
    from fer_core.models.shipped import resolve_model_path

    try:
        return resolve_model_path(None)
    except FileNotFoundError as exc:
        pytest.fail(f"the shipped model is missing (models/fast.pt is committed): {exc}")


@pytest.fixture(scope="session")
def model(model_path: Path) -> LoadedModel:
    """The shipped default model, loaded once for the session."""
    from fer_core.models.file_format import load_model

    return load_model(model_path)


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (as the benchmarks' default: the cores are shared, and two
    threads fighting other jobs are slower); the previous count is restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A decode cache of the test's own (``FER_CACHE_DIR``): tests never read or fill the user's
    cache, and never see each other's cached arrays."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("FER_CACHE_DIR", str(cache))
    return cache
