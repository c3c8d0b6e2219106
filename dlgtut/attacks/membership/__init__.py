r"""Membership inference: was this record in the model's training set?

Threat model: an attacker that can query the trained model on records of its choice and sees
its outputs (logits), knows how it was trained, and holds a set of *candidates*. In federated
learning the same attacker may be a participant who sees the global model round after round, or
the server that sees one update. The target was trained on a random half of the candidates;
which half is the ground truth, and it enters only in the metrics
(:func:`dlgtut.roc.roc_summary`), never in an attack's arguments::

    candidates -> train_target -> TargetRun.logits (queried) -> attack -> scores -> roc_summary
                                  TargetRun.members (ground truth) ------------------^

* :mod:`.targets`: the target and the shadow models, trained alike.
* :mod:`.scores`: the loss threshold (Yeom et al. 2018) and Shokri et al.'s attack classifiers.
* :mod:`.lira`: the likelihood-ratio attack (Carlini et al. 2022).
* :mod:`.federated`: membership signals in federated learning (successive global models, one
  participant's update).
"""

from .federated import (
    confidence_gain,
    global_model_confidences,
    gradient_alignment,
    update_loss_change,
)
from .lira import LiraStatistics, lira_attack, lira_scores, lira_statistics, shadow_benchmark
from .scores import example_loss, logit_confidence, loss_attack, plot_score_histogram, shokri_attack
from .targets import Recipe, Shadows, TargetRun, random_halves, train_shadows, train_target

__all__ = [
    "Recipe",
    "TargetRun",
    "Shadows",
    "random_halves",
    "train_target",
    "train_shadows",
    "example_loss",
    "logit_confidence",
    "loss_attack",
    "shokri_attack",
    "plot_score_histogram",
    "LiraStatistics",
    "lira_statistics",
    "lira_scores",
    "lira_attack",
    "shadow_benchmark",
    "global_model_confidences",
    "confidence_gain",
    "gradient_alignment",
    "update_loss_change",
]
