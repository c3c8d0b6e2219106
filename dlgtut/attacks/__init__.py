"""Attacks on what federated learning shares, one subpackage per threat model.

=====================  =======================================================================
:mod:`.gradient`       gradient leakage: a batch read back from one shared update (DLG, iDLG
                       labels, Inverting Gradients, text)
:mod:`.membership`     membership inference: was a record in the training set?
:mod:`.property`       property inference: a trait of a participant's data
:mod:`.inversion`      model inversion and the GAN attack: what a class looks like
:mod:`.malicious`      a malicious server that chooses the model it sends: images read off the
                       update in closed form (imprint, trap weights), even from a secure
                       aggregate; and what a participant can check
=====================  =======================================================================

Shared by the optimisation attacks: :class:`~.result.Reconstruction` (what they return) and
:class:`~.stopping.StopRule` (when they stop). Each attack takes what its threat model grants and
never the private data; ground truth enters only in :mod:`dlgtut.metrics` and
:mod:`dlgtut.roc`. The gradient-leakage attacks, the heart of the book, are also importable from
here (``from dlgtut.attacks import dlg``).
"""

from .gradient import (
    DLGConfig,
    Identifiability,
    IGConfig,
    batch_labels,
    dlg,
    gradient_distance,
    identifiability,
    idlg_label,
    infer_labels,
    inverting_gradients,
    last_layer_gradient,
    rounded_counts,
)
from .result import Reconstruction, Snapshot
from .stopping import StopRule

__all__ = [
    "DLGConfig",
    "dlg",
    "gradient_distance",
    "IGConfig",
    "inverting_gradients",
    "identifiability",
    "Identifiability",
    "idlg_label",
    "batch_labels",
    "infer_labels",
    "last_layer_gradient",
    "rounded_counts",
    "Reconstruction",
    "Snapshot",
    "StopRule",
]
