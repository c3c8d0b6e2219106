"""Real images for the attacks: torchvision datasets, offline fallbacks, and single image files.

Everything comes out the same way: ``N x C x H x W`` float32 tensors in [0, 1] with int64
labels, wrapped in an :class:`ImageSet` that also names the classes and says where the images
come from.

Five datasets come from torchvision and need a download the first time (``cifar10``,
``cifar100``, ``mnist``, ``svhn``, ``lfw``). Four ship with packages dlgtut already depends on
and never touch the network:

* ``photos``: a dozen real photographs from scikit-image and scikit-learn, one class each;
* ``patches``: 270 tiles of the nine colour photos among them (each cut into 1, 4, 9 and 16
  tiles), labelled by photo: enough real colour images for batches of up to 256;
* ``faces``: 200 grayscale 25x25 crops from Labeled Faces in the Wild (scikit-image), half faces;
* ``digits``: scikit-learn's 1797 handwritten 8x8 digits.

When a torchvision dataset cannot be had (no internet, a failed download, ``download=False``
without a cached copy, or the environment variable ``DLGTUT_OFFLINE=1``), :func:`load_dataset`
logs one warning line on the ``dlgtut`` logger and returns its offline fallback
(:data:`OFFLINE_FALLBACK`) instead, so every notebook runs anywhere.

Nothing is downloaded at import time, and nothing is written anywhere but the dataset root
(:func:`data_root`), and there only when a download is attempted.
"""

from .datasets import DATASETS, OFFLINE_FALLBACK, data_root, load_dataset
from .images import load_image, to_image_tensor
from .imageset import ImageSet

__all__ = [
    "ImageSet",
    "DATASETS",
    "OFFLINE_FALLBACK",
    "load_dataset",
    "load_image",
    "to_image_tensor",
    "data_root",
]
