"""Datasets: FER2013 (image folders or the original CSV) and CK+48, decoded once into arrays."""

from fer_core.data.ckplus import (
    load_ckplus,
    protocol_folds,
    seed_folds,
    subject_folds,
    subject_of,
)
from fer_core.data.faceset import DatasetError, FaceSet, holdout_split
from fer_core.data.fer2013 import FER2013_SPLITS, load_fer2013

__all__ = [
    "FER2013_SPLITS",
    "DatasetError",
    "FaceSet",
    "holdout_split",
    "load_ckplus",
    "load_fer2013",
    "protocol_folds",
    "seed_folds",
    "subject_folds",
    "subject_of",
]
