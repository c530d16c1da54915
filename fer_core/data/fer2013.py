"""FER2013 in both of its common distributions.

* Image folders: ``<root>/{train,test}/<class>/<Split>_<id>.jpg``; the split comes from the
  file-name prefix (Training_, PublicTest_, PrivateTest_), never from the parent folder, so a folder
  that holds only ``test/`` (or PrivateTest files the project never saw) evaluates the same way.
* The original ``fer2013.csv``: columns emotion, pixels (2304 space-separated ints), Usage.

Both decode to a :class:`FaceSet` in FER2013's own label coding 0..6.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from fer_core.data.cache import bytes_key, cached, files_key
from fer_core.data.decode import IMAGE_SUFFIXES, decode_files
from fer_core.data.faceset import IMAGE_SIZE, DatasetError, FaceSet
from fer_core.labels import FER2013_CLASSES

log = logging.getLogger(__name__)

FER2013_SPLITS: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
_SPLIT_ALIASES = {
    "train": "Training",
    "training": "Training",
    "publictest": "PublicTest",
    "public": "PublicTest",
    "privatetest": "PrivateTest",
    "private": "PrivateTest",
}


def normalise_split(split: str) -> str:
    """Map user spellings (train, public, PrivateTest, ...) to the dataset's Usage names."""
    if split in FER2013_SPLITS:
        return split
    try:
        return _SPLIT_ALIASES[split.lower()]
    except KeyError:
        raise DatasetError(
            f"unknown FER2013 split {split!r}; expected one of {', '.join(FER2013_SPLITS)}"
        ) from None


def load_fer2013(path: str | Path, split: str, *, use_cache: bool = True) -> FaceSet:
    """Load one FER2013 split from an image-folder root or from ``fer2013.csv``."""
    path = Path(path)
    split = normalise_split(split)
    if not path.exists():
        raise DatasetError(f"FER2013 path does not exist: {path}")
    if path.is_file():
        return _load_csv(path, split, use_cache=use_cache)
    csv_path = path / "fer2013.csv"
    if csv_path.is_file() and not any((path / d).is_dir() for d in ("train", "test")):
        return _load_csv(csv_path, split, use_cache=use_cache)
    return _load_folder(path, split, use_cache=use_cache)


def _split_files(root: Path, split: str) -> list[tuple[Path, int]]:
    """All (file, label) of ``split`` under ``root/<any>/<class>/``, in a stable order."""
    found: list[tuple[Path, int]] = []
    subdirs = sorted(p for p in root.iterdir() if p.is_dir())
    if not subdirs:
        raise DatasetError(f"{root} holds no train/ or test/ folder")
    class_dirs: list[Path] = []
    for sub in subdirs:
        # accept either <root>/<split folder>/<class>/ or <root>/<class>/ directly
        if sub.name in FER2013_CLASSES:
            class_dirs.append(sub)
            continue
        for cls in sorted(p for p in sub.iterdir() if p.is_dir()):
            class_dirs.append(cls)
    for cls_dir in class_dirs:
        if cls_dir.name not in FER2013_CLASSES:
            raise DatasetError(
                f"unknown class folder {cls_dir}; expected one of {', '.join(FER2013_CLASSES)}"
            )
        label = FER2013_CLASSES.index(cls_dir.name)
        for f in sorted(cls_dir.iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES and f.name.startswith(split + "_"):
                found.append((f, label))
    return found


def _load_folder(root: Path, split: str, *, use_cache: bool) -> FaceSet:
    items = _split_files(root, split)
    if not items:
        raise DatasetError(
            f"no {split} images under {root} (expected files named {split}_<id>.jpg "
            f"in <root>/<train|test>/<class>/)"
        )
    files = [f for f, _ in items]

    def build() -> FaceSet:
        images, kept, skipped = decode_files(files)
        labels = np.asarray([items[i][1] for i in kept], dtype=np.int64)
        names = [files[i].name for i in kept]
        log.info("decoded %d %s images from %s (%d skipped)", len(kept), split, root, len(skipped))
        return FaceSet(images, labels, FER2013_CLASSES, names, skipped)

    return cached(files_key(f"fer2013-folder-{split}", root, files), build, use_cache)


def _load_csv(path: Path, split: str, *, use_cache: bool) -> FaceSet:
    def build() -> FaceSet:
        images: list[np.ndarray] = []
        labels: list[int] = []
        names: list[str] = []
        skipped: list[str] = []
        with path.open(newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise DatasetError(f"{path} is empty")
            cols = [h.strip().lower() for h in header]
            try:
                i_emo, i_pix, i_use = (
                    cols.index("emotion"),
                    cols.index("pixels"),
                    cols.index("usage"),
                )
            except ValueError:
                raise DatasetError(
                    f"{path}: header must hold emotion, pixels, Usage; got {header}"
                ) from None
            for line_no, row in enumerate(reader, start=2):
                if len(row) != len(cols):
                    skipped.append(f"{path}:{line_no}: expected {len(cols)} fields, got {len(row)}")
                    continue
                if row[i_use].strip() != split:
                    continue
                try:
                    label = int(row[i_emo])
                    if not 0 <= label < len(FER2013_CLASSES):
                        raise ValueError(f"emotion {label} outside 0..6")
                    pixels = np.array(row[i_pix].split(), dtype=np.int64)
                    if pixels.size != IMAGE_SIZE * IMAGE_SIZE:
                        raise ValueError(f"{pixels.size} pixels, expected 2304")
                    if pixels.min() < 0 or pixels.max() > 255:
                        raise ValueError("pixel values outside 0..255")
                except ValueError as exc:
                    skipped.append(f"{path}:{line_no}: malformed row ({exc})")
                    continue
                images.append(pixels.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE))
                labels.append(label)
                names.append(f"csv:{line_no}")
        for reason in skipped[:20]:
            log.warning("skipped %s", reason)
        if not images:
            raise DatasetError(f"no {split} rows in {path}")
        log.info("read %d %s rows from %s (%d skipped)", len(images), split, path, len(skipped))
        return FaceSet(
            np.stack(images), np.asarray(labels, dtype=np.int64), FER2013_CLASSES, names, skipped
        )

    return cached(bytes_key("fer2013-csv", path, split), build, use_cache)
