"""Label data: the 1000 ImageNet classes and per-image label sets (original, ReaL, multi-labels)."""

from reassess.labels.imagenet import ImageNetClasses, imagenet_classes
from reassess.labels.label_sets import LabelSets

__all__ = ["ImageNetClasses", "LabelSets", "imagenet_classes"]
