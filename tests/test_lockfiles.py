"""The lock files agree with pyproject.toml, and the freeze filter that writes them is right.

`make test` and CI install `lock/py3.X.txt` for the running Python (the app, the train and test
extras) and `make app` installs `lock/app/py3.X.txt` (the app alone, no torch), so a lock that
drifted from the ranges in pyproject.toml (a dependency added but never locked, a pin outside its
range) would install a set nobody declared. These tests read the real files.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from scripts.lockfile import LockError, normalise

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCKS = ROOT / "lock"


def supported_pythons() -> list[str]:
    """The minor versions that ``requires-python`` admits, from 3.11 up to 3.19."""
    spec = SpecifierSet(PYPROJECT["project"]["requires-python"])
    return [f"3.{m}" for m in range(11, 20) if f"3.{m}.0" in spec]


def read_lock(path: Path) -> dict[str, Requirement]:
    pins = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            pins[canonicalize_name(req.name)] = req
    return pins


def core() -> list[Requirement]:
    """What ``pip install .`` (the app, ``make app``) installs: no extras."""
    return [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]


def declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]


def test_supported_pythons_are_3_11_to_3_13() -> None:
    assert supported_pythons() == ["3.11", "3.12", "3.13"]
    classifiers = PYPROJECT["project"]["classifiers"]
    for version in supported_pythons():
        assert f"Programming Language :: Python :: {version}" in classifiers


@pytest.mark.parametrize("python", supported_pythons())
def test_every_declared_dependency_is_pinned_inside_its_range(python: str) -> None:
    path = LOCKS / f"py{python}.txt"
    assert path.is_file(), f"no lock for Python {python}: run `make lock PY=python{python}`"
    pins = read_lock(path)
    for req in declared():
        pin = pins.get(canonicalize_name(req.name))
        assert pin is not None, f"{req.name} is declared in pyproject.toml but not in {path.name}"
        (spec,) = pin.specifier
        assert spec.operator == "==", f"{path.name}: {pin} is not an exact pin"
        assert req.specifier.contains(spec.version, prereleases=True), (
            f"{path.name} pins {pin}, outside pyproject.toml's {req}"
        )


def test_the_app_needs_no_torch_and_training_does() -> None:
    names = {canonicalize_name(r.name) for r in core()}
    assert "torch" not in names and "onnxruntime" in names
    train = {canonicalize_name(Requirement(r).name)
             for r in PYPROJECT["project"]["optional-dependencies"]["train"]}  # fmt: skip
    assert {"torch", "onnx"} <= train


@pytest.mark.parametrize("python", supported_pythons())
def test_the_app_lock_pins_the_app_alone_as_the_full_lock_does(python: str) -> None:
    """lock/app/py3.X.txt: every core dependency inside its range, no torch, and each package at
    the full lock's version (one set, of which the app installs a part)."""
    path = LOCKS / "app" / f"py{python}.txt"
    assert path.is_file(), f"no app lock for Python {python}: run `make lock PY=python{python}`"
    app, full = read_lock(path), read_lock(LOCKS / f"py{python}.txt")
    for req in core():
        pin = app.get(canonicalize_name(req.name))
        assert pin is not None, f"{req.name} is a core dependency but not in {path}"
        (spec,) = pin.specifier
        assert spec.operator == "==" and req.specifier.contains(spec.version, prereleases=True)
    heavy = {n for n in app if n in ("torch", "onnx", "triton") or n.startswith("nvidia-")}
    assert not heavy, f"{path} pins training-only packages {sorted(heavy)}"
    for name, pin in app.items():
        assert name in full, f"{path} pins {name}, which {python}'s full lock does not"
        assert str(pin.specifier) == str(full[name].specifier), (pin, full[name])


@pytest.mark.parametrize("python", supported_pythons())
@pytest.mark.parametrize("lock", ["py{}.txt", "app/py{}.txt"])
def test_locks_install_anywhere(python: str, lock: str) -> None:
    """No local version labels; CUDA packages only on Linux, as torch's own metadata says."""
    for name, pin in read_lock(LOCKS / lock.format(python)).items():
        (spec,) = pin.specifier
        assert "+" not in spec.version, f"{pin}: a local version label PyPI does not serve"
        if name.startswith(("nvidia-", "cuda-")) or name == "triton":
            assert pin.marker is not None and "Linux" in str(pin.marker), pin


def test_normalise_strips_local_labels_marks_cuda_and_drops_pip() -> None:
    freeze = "\n".join([
        "torch==2.13.0+cpu",
        "pip==26.3",
        "Nvidia-Cublas==13.1.1.3",
        "triton==3.7.1",
        "setuptools==84.2.1",
        "aiortc==1.16.0",
        "",
    ])  # fmt: skip
    lines = [x for x in normalise(freeze, "3.13").splitlines() if not x.startswith("#")]
    assert lines == [
        "aiortc==1.16.0",
        'nvidia-cublas==13.1.1.3  ; platform_system == "Linux"',
        "setuptools==84.2.1",
        "torch==2.13.0",
        'triton==3.7.1  ; platform_system == "Linux"',
    ]
    assert "Python 3.13" in normalise(freeze, "3.13").splitlines()[0]
    assert "`make app`" in normalise(freeze, "3.13", app=True).splitlines()[0]
    assert "`make app`" not in normalise(freeze, "3.13").splitlines()[0]


@pytest.mark.parametrize(
    "freeze",
    ["-e git+https://example.org/x.git#egg=x", "pkg @ file:///tmp/pkg", "pkg>=1.0", "", "# only"],
)
def test_normalise_refuses_what_is_not_an_exact_pin(freeze: str) -> None:
    with pytest.raises(LockError):
        normalise(freeze, "3.11")
