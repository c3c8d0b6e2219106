"""Property inference: a trait of a participant's data that the task does not ask about.

Threat model: a participant of a FedSGD federation that sees the global model round after
round (so the average update of everyone else), or a server or neighbour that sees one
participant's update, and holds auxiliary data of its own with and without the property. It
wants to know, round by round, whether the victim's batch had the property (Melis et al. 2019;
Ganju et al. 2018). It never sees the victim's data: those enter only through
:func:`~dlgtut.attacks.property.classifier.observe`, which plays the federation and knows the
truth for the metrics.

* :mod:`.data`: the property (thick strokes on digits, bright faces) and who holds which data.
* :mod:`.classifier`: the attacker's classifier of updates, trained on simulated aggregates.
* :mod:`.federated`: the federation and the attack, round by round.
"""

from .classifier import (
    FEATURES,
    PropertyAttacker,
    attack_round,
    flatten_update,
    last_layer_columns,
    observe,
    others_update,
    per_example_gradients,
)
from .data import (
    PROPERTY_NAMES,
    LabelledPool,
    PropertySplit,
    intensity_property,
    split_for_property,
)
from .federated import (
    PropertyConfig,
    PropertyResult,
    plot_attack_roc,
    plot_rounds,
    run_property_inference,
)

__all__ = [
    "PROPERTY_NAMES",
    "intensity_property",
    "LabelledPool",
    "PropertySplit",
    "split_for_property",
    "FEATURES",
    "PropertyAttacker",
    "per_example_gradients",
    "flatten_update",
    "last_layer_columns",
    "others_update",
    "observe",
    "attack_round",
    "PropertyConfig",
    "PropertyResult",
    "run_property_inference",
    "plot_rounds",
    "plot_attack_roc",
]
