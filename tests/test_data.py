"""Dataset loaders on committed fixtures, on the full datasets, and on malformed input."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core.data import (
    DatasetError,
    load_ckplus,
    load_fer2013,
    protocol_folds,
    seed_folds,
    subject_folds,
    subject_of,
)
from fer_core.labels import CKPLUS_CLASSES, FER2013_CLASSES
from tests.core_data import CK_FIXTURE, FER_FIXTURE, full_ckplus, full_fer2013

pytestmark = pytest.mark.usefixtures("private_cache")


def _expected_fixture_labels(split_folder: str, prefix: str) -> list[int]:
    labels = []
    for cls_dir in sorted((FER_FIXTURE / split_folder).iterdir()):
        for _f in sorted(cls_dir.glob(f"{prefix}_*.jpg")):
            labels.append(FER2013_CLASSES.index(cls_dir.name))
    return labels


def test_fer2013_folder_fixture_labels_follow_class_folders() -> None:
    faces = load_fer2013(FER_FIXTURE, "PublicTest")
    assert faces.images.shape == (42, 48, 48)
    assert faces.images.dtype == np.uint8
    assert sorted(faces.labels.tolist()) == sorted(_expected_fixture_labels("test", "PublicTest"))
    for name, label in zip(faces.names, faces.labels, strict=True):
        assert (FER_FIXTURE / "test" / FER2013_CLASSES[label] / name).is_file()
    # the pixels are the file's pixels
    first = FER_FIXTURE / "test" / FER2013_CLASSES[faces.labels[0]] / faces.names[0]
    assert np.array_equal(faces.images[0], cv2.imread(str(first), cv2.IMREAD_GRAYSCALE))


def test_split_comes_from_the_file_prefix_and_aliases_work() -> None:
    train = load_fer2013(FER_FIXTURE, "train")
    assert len(train) == 28 and all(n.startswith("Training_") for n in train.names)


def test_a_folder_holding_only_test_evaluates(tmp_path: Path) -> None:
    shutil.copytree(FER_FIXTURE / "test", tmp_path / "test")
    # a PrivateTest file in the same layout is found by its prefix
    src = next((tmp_path / "test" / "happy").glob("*.jpg"))
    shutil.copy(src, tmp_path / "test" / "happy" / "PrivateTest_123.jpg")
    assert len(load_fer2013(tmp_path, "PublicTest")) == 42
    private = load_fer2013(tmp_path, "PrivateTest")
    assert private.names == ["PrivateTest_123.jpg"]
    assert private.labels.tolist() == [FER2013_CLASSES.index("happy")]
    with pytest.raises(DatasetError, match="no Training images"):
        load_fer2013(tmp_path, "Training")


def _write_csv(path: Path, faces, usage: str, extra_lines: list[str] = ()) -> None:
    lines = ["emotion,pixels,Usage"]
    for img, label in zip(faces.images, faces.labels, strict=True):
        lines.append(f"{label},{' '.join(map(str, img.flatten()))},{usage}")
    lines.extend(extra_lines)
    path.write_text("\n".join(lines) + "\n")


def test_csv_and_folder_give_identical_arrays(tmp_path: Path) -> None:
    folder = load_fer2013(FER_FIXTURE, "PublicTest")
    csv_path = tmp_path / "fer2013.csv"
    _write_csv(csv_path, folder, "PublicTest")
    from_csv = load_fer2013(csv_path, "PublicTest")
    assert np.array_equal(from_csv.images, folder.images)
    assert np.array_equal(from_csv.labels, folder.labels)
    assert load_fer2013(tmp_path, "public").images.shape == folder.images.shape


def test_malformed_csv_rows_are_counted_skips_not_mislabels(tmp_path: Path) -> None:
    folder = load_fer2013(FER_FIXTURE, "PublicTest")
    bad = [
        "9," + " ".join(["1"] * 2304) + ",PublicTest",  # label outside 0..6
        "3," + " ".join(["1"] * 2000) + ",PublicTest",  # too few pixels
        "3," + " ".join(["300"] * 2304) + ",PublicTest",  # pixel out of range
        "x," + " ".join(["1"] * 2304) + ",PublicTest",  # non-integer label
        "3,1 2 3",  # missing field
    ]
    csv_path = tmp_path / "fer2013.csv"
    _write_csv(csv_path, folder, "PublicTest", bad)
    faces = load_fer2013(csv_path, "PublicTest")
    assert len(faces) == len(folder)
    assert len(faces.skipped) == 5
    assert any("outside 0..6" in s for s in faces.skipped)
    assert any("2000 pixels" in s for s in faces.skipped)
    assert any("expected 3 fields" in s for s in faces.skipped)


def test_csv_without_the_expected_header_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(DatasetError, match="header"):
        load_fer2013(p, "PublicTest")


def test_unreadable_and_wrong_size_images_are_skipped_and_reported(tmp_path: Path) -> None:
    root = tmp_path / "fer"
    shutil.copytree(FER_FIXTURE / "test", root / "test")
    (root / "test" / "sad" / "PublicTest_bad.jpg").write_bytes(b"not an image")
    cv2.imwrite(str(root / "test" / "sad" / "PublicTest_big.jpg"), np.zeros((64, 64), np.uint8))
    faces = load_fer2013(root, "PublicTest")
    assert len(faces) == 42
    assert len(faces.skipped) == 2
    assert any("not a decodable image" in s for s in faces.skipped)
    assert any("wrong size 64x64" in s for s in faces.skipped)


def test_unknown_class_folder_and_missing_folder_are_errors(tmp_path: Path) -> None:
    (tmp_path / "test" / "bored").mkdir(parents=True)
    with pytest.raises(DatasetError, match="unknown class folder"):
        load_fer2013(tmp_path, "PublicTest")
    with pytest.raises(DatasetError, match="does not exist"):
        load_fer2013(tmp_path / "nope", "PublicTest")
    with pytest.raises(DatasetError, match="unknown FER2013 split"):
        load_fer2013(FER_FIXTURE, "Validation")


def test_cache_is_keyed_by_content(tmp_path: Path) -> None:
    root = tmp_path / "fer"
    shutil.copytree(FER_FIXTURE / "test", root / "test")
    first = load_fer2013(root, "PublicTest")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    # a changed file gives a new key, so the stale cache is never read
    victim = root / "test" / "angry" / first.names[0]
    img = cv2.imread(str(victim), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(victim), 255 - img)
    second = load_fer2013(root, "PublicTest")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    assert not np.array_equal(first.images, second.images)
    # a corrupt cache file is rebuilt, not trusted
    for f in (tmp_path / "cache").glob("*.npz"):
        f.write_bytes(b"garbage")
    third = load_fer2013(root, "PublicTest")
    assert np.array_equal(third.images, second.images)


def test_ckplus_fixture_and_subject_ids() -> None:
    faces = load_ckplus(CK_FIXTURE)
    assert faces.classes == CKPLUS_CLASSES
    assert faces.class_counts() == dict.fromkeys(CKPLUS_CLASSES, 3)
    assert subject_of("S010_004_00000017.png") == "S010"
    with pytest.raises(DatasetError):
        subject_of("image.png")


@pytest.mark.data
def test_full_fer2013_matches_the_readme_counts() -> None:
    root = full_fer2013()
    train = load_fer2013(root, "Training")
    public = load_fer2013(root, "PublicTest")
    assert train.class_counts() == {
        "angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215,
        "sad": 4830, "surprise": 3171, "neutral": 4965,
    }  # fmt: skip
    assert public.class_counts() == {
        "angry": 467, "disgust": 56, "fear": 496, "happy": 895,
        "sad": 653, "surprise": 415, "neutral": 607,
    }  # fmt: skip
    assert not train.skipped and not public.skipped


@pytest.mark.data
def test_full_ckplus_counts_and_seed_folds() -> None:
    faces = load_ckplus(full_ckplus())
    assert faces.class_counts() == {
        "anger": 135, "disgust": 177, "fear": 75, "happy": 207,
        "sadness": 84, "surprise": 249, "contempt": 54,
    }  # fmt: skip
    folds = seed_folds(faces)
    assert len(folds) == 10
    per_class = [12, 18, 9, 21, 9, 24, 6]
    for train_idx, test_idx in folds:
        assert len(test_idx) == 99
        assert np.bincount(faces.labels[test_idx], minlength=7).tolist() == per_class
        assert len(np.intersect1d(train_idx, test_idx)) == 0
        assert len(train_idx) + len(test_idx) == len(faces)
    # fold 1 tests the first block of each class, fold 10 the last
    anger = np.flatnonzero(faces.labels == 0)
    assert np.array_equal(np.sort(folds[0][1])[:12], anger[:12])
    assert set(anger[-12:]) <= set(folds[9][1].tolist())
    # the name -> folds mapping that train, evaluate and ship use gives these very folds
    for name, fn in (("seed", seed_folds), ("subject", subject_folds)):
        for (a_tr, a_te), (b_tr, b_te) in zip(protocol_folds(faces, name), fn(faces), strict=True):
            assert np.array_equal(a_tr, b_tr) and np.array_equal(a_te, b_te)


def test_an_unknown_ckplus_protocol_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="unknown CK\\+ protocol 'leave-one-out'"):
        protocol_folds(load_ckplus(CK_FIXTURE), "leave-one-out")


@pytest.mark.data
def test_full_ckplus_subject_folds_never_share_a_subject() -> None:
    faces = load_ckplus(full_ckplus())
    folds = subject_folds(faces)
    subjects = np.asarray([subject_of(n) for n in faces.names])
    seen: set[str] = set()
    for train_idx, test_idx in folds:
        test_subjects = set(subjects[test_idx])
        assert not test_subjects & set(subjects[train_idx])
        assert not test_subjects & seen
        seen |= test_subjects
    assert seen == set(subjects)
    assert sum(len(t) for _, t in folds) == len(faces)
