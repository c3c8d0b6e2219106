"""Attacks on what federated learning shares.

Each attack takes a :class:`~dlgtut.fl.SharedUpdate` (what its threat model grants: the shared
update, the public model, public facts) and never the private batch.
"""

from .dlg import DLGConfig, dlg, gradient_distance
from .identifiability import Identifiability, identifiability
from .inverting import IGConfig, inverting_gradients
from .labels import batch_labels, idlg_label, infer_labels, last_layer_gradient, rounded_counts
from .result import Reconstruction, Snapshot

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
]
