"""What an attack returns: the reconstruction, how it ended, and its history."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor

__all__ = ["Attempt", "Snapshot", "Reconstruction", "Status"]

Status = Literal["converged", "unidentified", "max_iterations", "diverged", "stalled"]


class Snapshot(NamedTuple):
    """The dummy batch at one iteration of an attack.

    Attributes:
        iteration: optimiser steps taken when the snapshot was recorded (0 = initialisation).
        images: ``N x C x H x W`` dummy images, clamped to [0, 1], on the CPU.
        distance: the gradient distance at that point.
    """

    iteration: int
    images: Tensor
    distance: float


@dataclass(eq=False)
class Reconstruction:
    """The outcome of a gradient inversion attack.

    Attributes:
        images: ``N x C x H x W`` reconstructed images in [0, 1] (float32, CPU).
        labels: ``N`` recovered labels (analytic, or the argmax of the optimised soft label).
        status: ``"converged"`` (the stop rule on the gradient distance fired and nothing
            showed that other batches match the gradient as well), ``"unidentified"`` (the
            gradient was matched, but it does not single out this batch: other starts match it
            equally well with other images, or it barely depends on the input; see
            ``message``), ``"max_iterations"`` (ran out of iterations), ``"diverged"`` (NaN,
            inf or an exploding distance) or ``"stalled"`` (the optimiser made no progress).
        iterations: optimiser steps taken in the returned run.
        seconds: wall-clock time of the whole attack, restarts included.
        distance: final gradient distance of the returned run.
        restarts: how many times the attack started over after a divergence or stall.
        history: snapshots every ``snapshot_every`` iterations (the first is the initialisation).
        distances: the gradient distance after every iteration.
        label_probs: ``N x K`` soft labels when labels were optimised jointly, else None.
        message: a one-line human-readable account of how the attack ended.
        identifiable: False when the gradient does not determine the batch: it has more
            unknowns than the gradient can constrain
            (:mod:`~dlgtut.attacks.gradient.identifiability`), the gradient barely depends on
            the input, or starts that matched it disagree.
        warnings: one line for each assumption of the attack that did not hold (repeated
            labels where distinct ones were assumed, an uninformative gradient, ...).
    """

    images: Tensor
    labels: Tensor
    status: Status
    iterations: int
    seconds: float
    distance: float
    restarts: int = 0
    history: list[Snapshot] = field(default_factory=list)
    distances: list[float] = field(default_factory=list)
    label_probs: Tensor | None = None
    message: str = ""
    identifiable: bool = True
    warnings: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        """True when the attack's own stop rule on the gradient distance fired."""
        return self.status == "converged"

    def __repr__(self) -> str:
        return (
            f"Reconstruction(batch={self.images.shape[0]}, status={self.status!r}, "
            f"iterations={self.iterations}, distance={self.distance:.3g}, "
            f"seconds={self.seconds:.2f}, labels={self.labels.tolist()})"
        )

    def final_images(self) -> Tensor:
        """The reconstruction as float32 in [0, 1] (a copy, safe to modify)."""
        return self.images.detach().to(torch.float32).clamp(0, 1).clone()


@dataclass(eq=False)
class Attempt:
    """One optimisation run of an attack from one start: what its restarts are compared by.

    Attributes:
        status: how the run ended (the attack may refine it for the whole result).
        message: a one-line account of how it ended.
        steps: optimiser steps taken.
        distance: the lowest gradient distance the run reached; ``found`` is what reached it.
        found: what the run found at that distance: the dummy images (DLG, Inverting
            Gradients) or the dummy's state (text DLG).
        label: DLG's jointly optimised soft label at that point, else None.
        history: snapshots of the run.
        distances: the gradient distance after every step.
    """

    status: Status
    message: str
    steps: int
    distance: float
    found: Any
    label: Tensor | None = None
    history: list[Snapshot] = field(default_factory=list)
    distances: list[float] = field(default_factory=list)

    def rank(self) -> tuple[bool, bool, float]:
        """Smaller is better: a run that converged, then one that did not diverge, then the
        lower distance (a NaN distance counts as infinite)."""
        d = self.distance if math.isfinite(self.distance) else math.inf
        return (self.status != "converged", self.status == "diverged", d)

    @staticmethod
    def best(attempts: list[Attempt]) -> Attempt:
        """The best of several runs by :meth:`rank` (the first of equals).

        Example:
            >>> a = Attempt("stalled", "", 5, 0.1, None)
            >>> b = Attempt("diverged", "", 2, 3.0, None)
            >>> Attempt.best([a, b]) is a
            True
        """
        return min(attempts, key=Attempt.rank)
