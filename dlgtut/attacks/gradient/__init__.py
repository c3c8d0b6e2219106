"""Gradient leakage: the private batch read back from one participant's shared update.

Threat model: an honest-but-curious server (or a neighbour in decentralised learning) that
follows the protocol and only looks. It receives a :class:`~dlgtut.fl.SharedUpdate` (a FedSGD
gradient or a FedAvg weight change), holds the public model and knows the public facts of the
round (batch size, input shape, classes, local steps and learning rate). It never sees the
private batch; every attack here takes the shared update alone.

* :mod:`.deep_leakage`: Deep Leakage from Gradients (Zhu et al. 2019), faster and more reliable.
* :mod:`.labels`: labels read off the classifier's gradient (iDLG and its batch rules).
* :mod:`.inverting`: Inverting Gradients (Geiping et al. 2020): cosine, TV prior, FedAvg.
* :mod:`.text` and :mod:`.text_repair`: DLG on a language model's gradient.
* :mod:`.closed_form`: R-GAP (Zhu and Blaschko 2021): the input in closed form where possible.
* :mod:`.identifiability`: whether a gradient can single out a batch at all.
* :mod:`.original`: the original code, kept for parity tests and benchmarks.
"""

from .closed_form import rgap, rgap_images, rgap_supported
from .deep_leakage import DLGConfig, dlg, gradient_distance
from .identifiability import Identifiability, agreement, identifiability, input_sensitivity
from .inverting import IGConfig, cosine_distance, inverting_gradients, total_variation
from .labels import (
    LabelGuess,
    analytic_labels,
    batch_labels,
    gradinversion_labels,
    idlg_label,
    infer_labels,
    label_counts,
    last_layer_gradient,
    rounded_counts,
)
from .text import TextDLGConfig, TextReconstruction, sentence_assignment, text_dlg, token_accuracy
from .text_repair import bag_of_words, refine_tokens

__all__ = [
    "DLGConfig",
    "dlg",
    "gradient_distance",
    "IGConfig",
    "inverting_gradients",
    "cosine_distance",
    "total_variation",
    "Identifiability",
    "identifiability",
    "input_sensitivity",
    "agreement",
    "LabelGuess",
    "analytic_labels",
    "infer_labels",
    "idlg_label",
    "batch_labels",
    "gradinversion_labels",
    "label_counts",
    "last_layer_gradient",
    "rounded_counts",
    "rgap",
    "rgap_images",
    "rgap_supported",
    "TextDLGConfig",
    "TextReconstruction",
    "text_dlg",
    "token_accuracy",
    "sentence_assignment",
    "bag_of_words",
    "refine_tokens",
]
