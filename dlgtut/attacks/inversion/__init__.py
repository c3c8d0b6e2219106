"""Model inversion: what a trained model, or training beside someone, gives away about a class.

Two threat models, one question (what does the victim's class look like?):

* white-box access to a trained classifier and nothing else: MI-Face (Fredrikson et al. 2015)
  descends on the input until the model is sure of the class (:mod:`.mi_face`);
* an insider of a federation, following the protocol on the surface: the GAN attack (Hitaj et
  al. 2017) trains a generator against the shared model and makes the victim's updates reveal
  more (:mod:`.gan`, :mod:`.gan_federation`).

Neither sees one training record. The results are judged by an independent evaluation
classifier and by the real class means (:mod:`.evaluation`), never by the attacked model; the
target and the evaluator of a case are trained on two halves of real data (:mod:`.case`).
"""

from .case import INVERSION_DATASETS, InversionCase, inversion_case, inversion_data, top_classes
from .evaluation import (
    InversionScores,
    class_means,
    correlation,
    plot_inversions,
    recognised_fraction,
    score_inversion,
    train_evaluator,
)
from .gan import GAN_DATASETS, MODES, GANAdversary, GANAttackConfig, Generator
from .gan_federation import (
    Federation,
    GANAttackResult,
    federation,
    gan_attack,
    plot_curves,
    plot_rounds,
)
from .mi_face import Inversion, MIFaceConfig, mi_face

__all__ = [
    "MIFaceConfig",
    "Inversion",
    "mi_face",
    "INVERSION_DATASETS",
    "InversionCase",
    "InversionScores",
    "class_means",
    "correlation",
    "inversion_case",
    "inversion_data",
    "plot_inversions",
    "recognised_fraction",
    "score_inversion",
    "top_classes",
    "train_evaluator",
    "GAN_DATASETS",
    "MODES",
    "Generator",
    "GANAttackConfig",
    "GANAdversary",
    "Federation",
    "federation",
    "GANAttackResult",
    "gan_attack",
    "plot_rounds",
    "plot_curves",
]
