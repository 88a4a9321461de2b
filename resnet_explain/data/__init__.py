"""Image data for the training lab: generated shapes with masks (:mod:`.shapes`), CIFAR-10 when
online or cached (:mod:`.cifar`), the ImageSet container (:mod:`.imageset`), input normalisation
(:mod:`.normalizer`) and upload validation (:mod:`.upload`)."""

from .cifar import load_cifar10, load_dataset
from .imageset import DataError, ImageSet, balanced_labels
from .normalizer import Normalizer
from .shapes import SHAPE_CLASSES, make_shapes, shape_params, shapes_train_test

__all__ = ["DataError", "ImageSet", "Normalizer", "SHAPE_CLASSES", "balanced_labels", "load_cifar10",
           "load_dataset", "make_shapes", "shape_params", "shapes_train_test"]
