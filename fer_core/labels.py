"""Class labels for the two datasets, in one place.

FER2013 uses the dataset's own integer coding 0..6; CK+48 (the 48x48 crop distribution) has no
neutral class but has contempt. Every module that needs a class name or index reads it from here so
the coding can never drift between training, evaluation, the pipeline and the logs.
"""

from __future__ import annotations

FER2013_CLASSES: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
)

CKPLUS_CLASSES: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "happy",
    "sadness",
    "surprise",
    "contempt",
)

DATASET_CLASSES: dict[str, tuple[str, ...]] = {
    "fer2013": FER2013_CLASSES,
    "ckplus": CKPLUS_CLASSES,
}

# CK+ folder names mapped onto the FER2013 vocabulary, for code that wants one vocabulary
# (for example the log schema, whose probability columns use FER2013's names).
CKPLUS_TO_FER2013: dict[str, str | None] = {
    "anger": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "sadness": "sad",
    "surprise": "surprise",
    "contempt": None,
}

NEGATIVE_AFFECT: tuple[str, ...] = ("angry", "disgust", "fear", "sad")


def classes_for(dataset: str) -> tuple[str, ...]:
    """Return the ordered class names of ``dataset`` ("fer2013" or "ckplus")."""
    try:
        return DATASET_CLASSES[dataset]
    except KeyError:
        known = ", ".join(sorted(DATASET_CLASSES))
        raise ValueError(f"unknown dataset {dataset!r}; expected one of: {known}") from None


def index_of(dataset: str, name: str) -> int:
    """Return the integer label of class ``name`` in ``dataset``'s coding."""
    classes = classes_for(dataset)
    try:
        return classes.index(name)
    except ValueError:
        raise ValueError(
            f"unknown class {name!r} for {dataset}; expected one of: {', '.join(classes)}"
        ) from None
