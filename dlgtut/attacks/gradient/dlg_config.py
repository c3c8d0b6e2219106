"""The settings of the DLG attack: dlgtut's defaults, and the original paper's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...checks import choice, flag, integer, number, replace
from ...checks import seed as check_seed
from ...errors import ConfigError

__all__ = ["DLGConfig"]


@dataclass(frozen=True)
class DLGConfig:
    """Settings of the DLG attack. The defaults are dlgtut's; :meth:`paper` gives the original's.

    Attributes:
        iterations: optimiser steps (for L-BFGS one step is up to ``max_iter`` inner
            iterations, the unit the paper counts in; for Adam one gradient step).
        optimizer: ``"lbfgs"`` (:class:`~dlgtut.optim.CompactLBFGS`, strong Wolfe),
            ``"torch-lbfgs"`` (``torch.optim.LBFGS`` at its defaults, the original's) or
            ``"adam"``.
        lr: learning rate (default 1 for L-BFGS, 0.1 for Adam).
        history_size: L-BFGS curvature pairs kept.
        max_iter: L-BFGS inner iterations per step.
        distance: ``"l2"`` (squared distance summed over all layers) or ``"cosine"``
            (one minus the cosine similarity of the whole gradients).
        normalize: divide the squared distance by the target gradient's squared norm, so the
            objective is scale free (and L-BFGS tolerances do not stop it early).
        init: dummy start: ``"analytic"`` (what the gradient gives away in closed form:
            :func:`~dlgtut.attacks.gradient.closed_form.rgap_images` where the model and batch
            allow it, kept only if it matches the gradient better than a grey start; grey
            otherwise), ``"grey"`` (0.5 plus noise of standard deviation 1e-3), ``"randn"``
            (standard normal, the paper's) or ``"rand"`` (uniform in [0, 1]).
        labels: ``"analytic"`` (read off the gradient: iDLG, or the batch rule for distinct
            labels) or ``"joint"`` (optimise a dummy soft label, the paper's DLG).
        dtype: arithmetic of the attack (the model and gradient are converted).
        stop_distance: stop when the (normalised) distance falls below this; None never stops.
        snapshot_every: record the dummy batch every this many steps (0 for none).
        restarts: start again from a fresh draw after a divergence or a stall, this many times.
        image_bound: a dummy pixel beyond this magnitude counts as divergence.
        explode_factor: a distance this many times its starting value counts as divergence.
        stall_steps: steps without any decrease of the distance that count as a stall.
        time_limit: stop after this many seconds (None: no limit).
        progress: show a tqdm progress bar.
        seed: seed of the attack's own random draws (a generator of its own); None draws from
            the global generator's current stream.
        after_paper_init: start the seeded generator where the original script's global
            stream stands when it draws its dummies: seeded with ``seed``, then past the
            U(-0.5, 0.5) initialisation of the update's model (:func:`~dlgtut.models.paper_init_`
            replayed on a copy). With a model built as ``LeNet(seed=seed)`` the attack's start
            is then the original's, bit for bit, whatever was drawn in between.
        verify_starts: after a converged run, this many more runs from uniformly random
            starts; if one of them also matches the gradient but finds other images, the batch
            is not identified (status ``"unidentified"``). None: 1 for batches of two or more,
            0 for a single example.
    """

    iterations: int = 300
    optimizer: Literal["lbfgs", "torch-lbfgs", "adam"] = "lbfgs"
    lr: float | None = None
    history_size: int = 300
    max_iter: int = 20
    distance: Literal["l2", "cosine"] = "l2"
    normalize: bool = True
    init: Literal["analytic", "grey", "randn", "rand"] = "analytic"
    labels: Literal["analytic", "joint"] = "analytic"
    dtype: Literal["float64", "float32"] = "float64"
    stop_distance: float | None = 1e-9
    snapshot_every: int = 10
    restarts: int = 2
    image_bound: float = 1e3
    explode_factor: float = 1e6
    stall_steps: int = 10
    time_limit: float | None = None
    progress: bool = True
    seed: int | None = 0
    verify_starts: int | None = None
    after_paper_init: bool = False

    def __post_init__(self) -> None:
        choices = {
            "optimizer": ("lbfgs", "torch-lbfgs", "adam"),
            "distance": ("l2", "cosine"),
            "init": ("analytic", "grey", "randn", "rand"),
            "labels": ("analytic", "joint"),
            "dtype": ("float64", "float32"),
        }
        for name, allowed in choices.items():
            choice(getattr(self, name), allowed, name)
        for name in ("iterations", "history_size", "max_iter", "stall_steps"):
            integer(getattr(self, name), name, low=1)
        for name in ("snapshot_every", "restarts"):
            integer(getattr(self, name), name, low=0)
        if self.verify_starts is not None:
            integer(self.verify_starts, "verify_starts", low=0)
        if self.lr is not None:
            number(self.lr, "lr", low=0, low_open=True)
        if self.stop_distance is not None:
            number(self.stop_distance, "stop_distance", low=0)
        if self.time_limit is not None:
            number(self.time_limit, "time_limit", low=0, low_open=True)
        number(self.image_bound, "image_bound", low=0, low_open=True)
        number(self.explode_factor, "explode_factor", low=1)
        flag(self.normalize, "normalize")
        flag(self.progress, "progress")
        flag(self.after_paper_init, "after_paper_init")
        if self.after_paper_init and self.seed is None:
            raise ConfigError("after_paper_init needs the seed the model was initialised with")
        if self.seed is not None:
            check_seed(self.seed)

    @classmethod
    def paper(cls, **overrides) -> DLGConfig:
        """The original code's settings: randn start, joint label, torch L-BFGS, plain L2, float32.

        No stop rule and no restarts, as in the original; divergence is still detected and
        reported (the run stops there instead of producing garbage). The start is drawn as the
        original draws it, after ``torch.manual_seed(1234)`` and the model's initialisation
        (``after_paper_init``).
        """
        base = dict(
            optimizer="torch-lbfgs", history_size=100, distance="l2", normalize=False,
            init="randn", labels="joint", dtype="float32", stop_distance=None, restarts=0,
            seed=1234, after_paper_init=True, stall_steps=10**9,
        )
        base["verify_starts"] = 0  # the original claims nothing, so nothing is verified
        return replace(cls(**base), overrides)

    def replace(self, **changes) -> DLGConfig:
        """A copy with some fields changed (an unknown field is a ConfigError)."""
        return replace(self, changes)
