r"""Membership inference: was this record in the model's training set?

The setting of Carlini et al. (2022), which also serves the older attacks. The attacker holds a
set of *candidates* (an :class:`~dlgtut.data.ImageSet`), knows how the target is trained (a
:class:`Recipe`), and can query the target: it sees the target's logits on every candidate,
nothing else. The target was trained on a random half of the candidates; which half is the
ground truth (:attr:`TargetRun.members`), and it enters only in the metrics
(:func:`dlgtut.roc.roc_summary`), never in an attack's arguments::

    candidates -> train_target -> TargetRun.logits (queried) -> attack -> scores -> roc_summary
                                  TargetRun.members (ground truth) ------------------^

Every attack returns one score per candidate, higher meaning "member":

* :func:`loss_attack` (Yeom et al. 2018): minus the loss. Members were fitted, so their loss is
  lower; the advantage follows the generalisation gap.
* :func:`shokri_attack` (Shokri et al. 2017): shadow models trained like the target on data
  whose membership the attacker knows, and one attack classifier per class that learns to tell
  a shadow's outputs on its members from those on its non-members.
* :func:`lira_attack` (Carlini et al. 2022): the likelihood-ratio attack. For every candidate,
  the logit-scaled confidence :math:`\phi = \log \frac{p_y}{1 - p_y}` under shadow models
  trained with it (IN) and without it (OUT) is close to Gaussian; the score compares the
  target's :math:`\phi` with the two Gaussians (online) or with the OUT one alone (offline).

The shadow models (:func:`train_shadows`) are trained on random halves of the candidates, each
candidate IN exactly half of them, and serve both Shokri's attack and LiRA.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import ImageSet
from ..errors import AttackError, ConfigError, DataError
from ..training import MLP, predict_logits, train_classifier

__all__ = [
    "Recipe",
    "TargetRun",
    "Shadows",
    "LiraStatistics",
    "random_halves",
    "example_loss",
    "logit_confidence",
    "train_target",
    "train_shadows",
    "loss_attack",
    "shokri_attack",
    "lira_statistics",
    "lira_scores",
    "lira_attack",
    "shadow_benchmark",
    "plot_score_histogram",
]

Variant = Literal["online", "offline"]
Variance = Literal["global", "per-example"]


@dataclass(frozen=True)
class Recipe:
    """How the target is trained: public knowledge that the shadow models copy.

    Attributes:
        hidden: widths of the :class:`~dlgtut.training.MLP`'s hidden layers.
        epochs: passes over the training set (more: more overfitting).
        lr: Adam's learning rate.
        batch_size: examples per step.
        weight_decay: L2 penalty (narrows the generalisation gap).
    """

    hidden: tuple[int, ...] = (256,)
    epochs: int = 100
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.weight_decay < 0:
            raise ConfigError(
                f"a recipe needs epochs >= 1, batch_size >= 1, lr > 0 and weight_decay >= 0; "
                f"got {self}"
            )

    def train(self, images, labels, num_classes: int, *, seed: int, on_epoch=None) -> MLP:
        """A fresh MLP (weights seeded with ``seed``) trained on ``images``, ``labels``."""
        net = MLP(images[0].numel(), num_classes, hidden=self.hidden, seed=seed)
        train_classifier(net, images, labels, epochs=self.epochs, lr=self.lr,
                         batch_size=self.batch_size, weight_decay=self.weight_decay,
                         seed=seed, on_epoch=on_epoch)
        return net


def random_halves(n: int, count: int, *, seed: int) -> np.ndarray:
    """``count x n`` booleans: row ``s`` marks the training set of model ``s``.

    As in Carlini et al.'s code, every column has ``count // 2`` True entries (each candidate is
    IN exactly half of the models), so every candidate has IN and OUT models; each row then
    holds about ``n / 2``.

    Example:
        >>> keep = random_halves(6, 4, seed=0)
        >>> keep.shape, keep.sum(0).tolist()
        ((4, 6), [2, 2, 2, 2, 2, 2])
    """
    if count < 2 or n < 2:
        raise ConfigError(f"need at least 2 models and 2 candidates, got {count} and {n}")
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(count, n)).argsort(0) < count // 2


def _logits_and_labels(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    if z.ndim < 2 or z.shape[-1] < 2 or z.shape[-2] != len(y) or y.ndim != 1:
        raise DataError(f"need logits ... x N x K (K >= 2) for N labels; got {z.shape} and "
                        f"{y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= z.shape[-1]):
        raise DataError(f"labels must lie in [0, {z.shape[-1] - 1}]")
    return z, y


def example_loss(logits, labels) -> np.ndarray:
    r"""Per-example cross entropy :math:`\log\sum_k e^{z_k} - z_y`.

    Args:
        logits: ``N x K`` (or ``S x N x K`` for ``S`` models) array or tensor.
        labels: ``N`` class indices.

    Example:
        >>> example_loss([[0.0, 0.0], [3.0, 1.0]], [0, 1]).round(4).tolist()
        [0.6931, 2.1269]
    """
    from scipy.special import logsumexp

    z, y = _logits_and_labels(logits, labels)
    picked = np.take_along_axis(z, np.broadcast_to(y[:, None], z.shape[:-1] + (1,)), -1)[..., 0]
    return logsumexp(z, axis=-1) - picked


def logit_confidence(logits, labels) -> np.ndarray:
    r"""The logit-scaled confidence :math:`\phi = \log \frac{p_y}{1 - p_y}` of LiRA.

    Computed without forming :math:`p_y`, which rounds to 1 for a confident model:
    :math:`\phi = z_y - \log\sum_{k \ne y} e^{z_k}`. Where :math:`p_y` is a confidence in
    (0, 1), :math:`\phi` is a number on the whole real line, and close to Gaussian over models.

    Args:
        logits: ``N x K`` (or ``S x N x K``) array or tensor.
        labels: ``N`` class indices.

    Example:
        >>> logit_confidence([[2.0, 0.0], [40.0, 0.0]], [0, 0]).tolist()  # p_y = 0.88 and 1 - 4e-18
        [2.0, 40.0]
    """
    from scipy.special import logsumexp

    z, y = _logits_and_labels(logits, labels)
    mask = np.zeros(z.shape, dtype=bool)
    np.put_along_axis(mask, np.broadcast_to(y[:, None], z.shape[:-1] + (1,)), True, -1)
    picked = np.where(mask, z, 0.0).sum(-1)
    return picked - logsumexp(np.where(mask, -np.inf, z), axis=-1)


def _check_candidates(candidates: ImageSet) -> None:
    if not isinstance(candidates, ImageSet):
        raise DataError(f"candidates must be an ImageSet, got {type(candidates).__name__}")
    if len(candidates) < 4:
        raise DataError(f"membership inference needs at least 4 candidates, got {len(candidates)}")


@contextmanager
def _one_thread():
    """Run PyTorch on one thread, then restore the setting.

    The MLPs here are far too small to gain from intra-op threads, and on a busy machine the
    threads wait for each other (seventeen models trained nine times slower with two threads
    on two cores shared with another job). One thread also gives the same numbers on every
    machine.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train_recording(candidates: ImageSet, keep: np.ndarray, recipe: Recipe, seed: int,
                     record_epochs) -> tuple[MLP, dict[int, np.ndarray]]:
    """Train on the candidates marked in ``keep``; the logits on all candidates at each epoch."""
    idx = torch.from_numpy(np.flatnonzero(keep))
    wanted = set(record_epochs) | {recipe.epochs}
    logits: dict[int, np.ndarray] = {}

    def record(epoch, model):
        if epoch + 1 in wanted:
            logits[epoch + 1] = predict_logits(model, candidates.images).double().numpy()

    with _one_thread():
        net = recipe.train(candidates.images[idx], candidates.labels[idx],
                           len(candidates.classes), seed=seed, on_epoch=record)
    return net, logits


def _check_epochs(record_epochs, recipe: Recipe) -> tuple[int, ...]:
    epochs = tuple(sorted(set(int(e) for e in record_epochs)))
    if epochs and not (1 <= epochs[0] and epochs[-1] <= recipe.epochs):
        raise ConfigError(f"record_epochs must lie in [1, {recipe.epochs}], got {epochs}")
    return epochs


@dataclass(frozen=True, eq=False)
class TargetRun:
    """The victim's model and what an attacker may query, kept apart from the ground truth.

    Attributes:
        model: the trained target.
        logits: epoch -> ``N x K`` logits of the target (as it was after that epoch) on the
            candidates: the answers to the attacker's queries. The last epoch is always there.
        members: ``N`` booleans, True for the candidates the target was trained on. Ground
            truth: for the metrics only, never an attack's input.
        epochs: the recipe's number of epochs (the key of the final logits).
    """

    model: nn.Module
    logits: dict[int, np.ndarray]
    members: np.ndarray
    epochs: int

    def accuracy(self, labels, epoch: int | None = None) -> tuple[float, float]:
        """``(train accuracy, test accuracy)``: on the members and on the non-members."""
        right = self.logits[epoch or self.epochs].argmax(-1) == np.asarray(labels)
        return float(right[self.members].mean()), float(right[~self.members].mean())


def train_target(candidates: ImageSet, recipe: Recipe, *, seed: int = 0,
                 record_epochs=()) -> TargetRun:
    """Train the target on a random half of the candidates (exactly ``N // 2`` of them).

    Args:
        candidates: the records whose membership will be inferred.
        recipe: how to train.
        seed: seeds the choice of members, the weights and the shuffling.
        record_epochs: epochs after which to record the target's logits as well (to follow the
            attack through training; the model after ``e`` epochs is the model that a recipe
            of ``e`` epochs would give, as the shuffling is seeded per run).

    Raises:
        DataError: fewer than 4 candidates.
        ConfigError: an epoch outside ``[1, recipe.epochs]``.
    """
    _check_candidates(candidates)
    epochs = _check_epochs(record_epochs, recipe)
    n = len(candidates)
    members = np.zeros(n, dtype=bool)
    members[np.random.default_rng(seed).permutation(n)[: n // 2]] = True
    model, logits = _train_recording(candidates, members, recipe, seed, epochs)
    return TargetRun(model, logits, members, recipe.epochs)


@dataclass(frozen=True, eq=False)
class Shadows:
    """Shadow models trained like the target on random halves of the candidates.

    Attributes:
        keep: ``S x N`` booleans: shadow ``s`` was trained on candidate ``n``.
        logits: epoch -> ``S x N x K`` logits of every shadow on every candidate.
        recipe: how they were trained (the target's recipe).
        seconds: wall-clock training time.
    """

    keep: np.ndarray
    logits: dict[int, np.ndarray]
    recipe: Recipe
    seconds: float = field(default=0.0)

    def __len__(self) -> int:
        return int(self.keep.shape[0])

    def at(self, epoch: int | None) -> np.ndarray:
        """The ``S x N x K`` logits after ``epoch`` (the last epoch if None)."""
        epoch = self.recipe.epochs if epoch is None else epoch
        if epoch not in self.logits:
            raise ConfigError(f"no shadow logits after epoch {epoch}; recorded: "
                              f"{sorted(self.logits)}")
        return self.logits[epoch]


def train_shadows(candidates: ImageSet, recipe: Recipe, n_shadows: int, *, seed: int = 1,
                  record_epochs=(), progress: bool = False) -> Shadows:
    """Train ``n_shadows`` models with ``recipe``, each on a random half of the candidates.

    The halves come from :func:`random_halves`: each candidate is IN exactly half of the shadows.
    Shadow ``s`` is seeded with ``seed * 1000 + s`` (weights and shuffling).

    Args:
        candidates: the attacker's records (the target's members are among them).
        recipe: the target's training recipe.
        n_shadows: number of shadow models, at least 2.
        seed: seeds the halves and the shadows.
        record_epochs: epochs after which to record the logits as well.
        progress: show a tqdm progress bar.

    Raises:
        ConfigError: fewer than 2 shadows, or an epoch outside ``[1, recipe.epochs]``.
        DataError: fewer than 4 candidates.
    """
    _check_candidates(candidates)
    if isinstance(n_shadows, bool) or not isinstance(n_shadows, int) or n_shadows < 2:
        raise ConfigError(f"need at least 2 shadow models, got {n_shadows!r}")
    epochs = _check_epochs(record_epochs, recipe)
    started = time.perf_counter()
    keep = random_halves(len(candidates), n_shadows, seed=seed)
    runs = [_train_recording(candidates, keep[s], recipe, seed * 1000 + s, epochs)[1]
            for s in tqdm(range(n_shadows), desc="shadow models", disable=not progress,
                          leave=False)]
    logits = {e: np.stack([r[e] for r in runs]) for e in runs[0]}
    return Shadows(keep, logits, recipe, time.perf_counter() - started)


def loss_attack(logits, labels) -> np.ndarray:
    """Yeom et al.'s attack: the score is minus the target's loss on the candidate.

    Yeom et al. call a candidate a member when its loss is below the target's average training
    loss; the ROC curve sweeps that threshold. No shadow models are needed.

    Args:
        logits: the target's ``N x K`` logits on the candidates.
        labels: the candidates' ``N`` labels.

    Example:
        >>> loss_attack([[5.0, 0.0], [1.0, 0.0]], [0, 0]).round(3).tolist()
        [-0.007, -0.313]
    """
    return -example_loss(logits, labels)


def _check_shadows(logits: np.ndarray, shadows: Shadows) -> None:
    if not isinstance(shadows, Shadows):
        raise AttackError(f"shadows must be a Shadows, got {type(shadows).__name__}")
    if shadows.keep.shape[1] != logits.shape[0]:
        raise DataError(f"the shadows saw {shadows.keep.shape[1]} candidates, the target's "
                        f"logits cover {logits.shape[0]}")


def shokri_attack(logits, labels, shadows: Shadows, *, epoch: int | None = None,
                  seed: int = 0) -> np.ndarray:
    """Shokri et al.'s attack: one classifier per class, trained on the shadows' outputs.

    For every shadow and candidate the attacker knows the answer (``shadows.keep``), so it can
    learn how a model's prediction vector on its own members differs from that on other
    records. As in the paper, there is one attack model per class (the candidate's label); the
    feature is the sorted-free prediction vector (softmax). The attack model here is
    scikit-learn's histogram gradient boosting, whose trees are unaffected by the saturation
    of probabilities near 1. The score is its probability of "member".

    Args:
        logits: the target's ``N x K`` logits on the candidates.
        labels: the candidates' ``N`` labels.
        shadows: from :func:`train_shadows` on the same candidates.
        epoch: use the shadows as they were after this epoch (default: the last).
        seed: seeds the attack classifiers.
    """
    from scipy.special import softmax
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    z, y = _logits_and_labels(logits, labels)
    _check_shadows(z, shadows)
    shadow_z = shadows.at(epoch)
    scores = np.zeros(len(y))
    for c in np.unique(y):
        cols = np.flatnonzero(y == c)
        x_train = softmax(shadow_z[:, cols], axis=-1).reshape(-1, z.shape[-1])
        m_train = shadows.keep[:, cols].reshape(-1)
        if m_train.all() or not m_train.any():
            continue  # a class whose shadows saw only members or only non-members: no signal
        clf = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
        with threadpool_limits(1, user_api="openmp"):  # small fits; threads only contend
            clf.fit(x_train, m_train)
            scores[cols] = clf.predict_proba(softmax(z[cols], axis=-1))[:, 1]
    return scores


@dataclass(frozen=True)
class LiraStatistics:
    """Per-candidate Gaussians of :math:`\\phi` under IN and OUT shadow models (``N`` each)."""

    mu_in: np.ndarray
    sd_in: np.ndarray
    mu_out: np.ndarray
    sd_out: np.ndarray


def _gaussian(phi: np.ndarray, mask: np.ndarray, variance: Variance, side: str):
    count = mask.sum(0)
    need = 2 if variance == "per-example" else 1
    if (count < need).any():
        nan = np.full(len(count), np.nan)
        return nan, nan  # lira_scores refuses to use it
    mu = np.where(mask, phi, 0).sum(0) / count
    dev2 = np.where(mask, (phi - mu) ** 2, 0)
    if variance == "per-example":
        var = dev2.sum(0) / (count - 1)
    else:  # pooled over candidates: every deviation from its own candidate's mean counts
        var = np.full(len(mu), dev2.sum() / max(int(count.sum() - len(count)), 1))
    return mu, np.sqrt(np.maximum(var, 1e-12))


def lira_statistics(shadow_phi, keep, *, variance: Variance = "global") -> LiraStatistics:
    """Fit LiRA's Gaussians: mean and standard deviation of :math:`\\phi` over IN and OUT shadows.

    Args:
        shadow_phi: ``S x N`` confidences of the shadows on the candidates.
        keep: ``S x N`` booleans, True where shadow ``s`` trained on candidate ``n``.
        variance: ``"per-example"`` (the sample variance of each candidate's own IN or OUT
            values) or ``"global"`` (one pooled variance per side: the squared deviations of
            every value from its candidate's mean, summed over candidates and divided by
            their degrees of freedom). Carlini et al. recommend the global variance with few
            shadow models (under 64).

    Returns:
        The four ``N`` arrays; a side where some candidate lacks shadows (one, or two for the
        per-example variance) is NaN, and :func:`lira_scores` refuses a variant that needs it.

    Raises:
        ConfigError: an unknown ``variance``.

    Example:
        >>> phi = np.array([[1.0, 5.0], [3.0, 7.0], [0.0, 0.0], [2.0, 2.0]])
        >>> keep = np.array([[1, 1], [1, 1], [0, 0], [0, 0]], dtype=bool)
        >>> s = lira_statistics(phi, keep, variance="per-example")
        >>> s.mu_in.tolist(), s.sd_in.round(3).tolist(), s.mu_out.tolist()
        ([2.0, 6.0], [1.414, 1.414], [1.0, 1.0])
    """
    if variance not in ("global", "per-example"):
        raise ConfigError(f"variance must be 'global' or 'per-example', got {variance!r}")
    phi = np.asarray(shadow_phi, dtype=np.float64)
    keep = np.asarray(keep, dtype=bool)
    if phi.ndim != 2 or phi.shape != keep.shape:
        raise DataError(f"shadow_phi and keep must both be S x N, got {phi.shape}, {keep.shape}")
    mu_in, sd_in = _gaussian(phi, keep, variance, "IN")
    mu_out, sd_out = _gaussian(phi, ~keep, variance, "OUT")
    return LiraStatistics(mu_in, sd_in, mu_out, sd_out)


def lira_scores(target_phi, stats: LiraStatistics, *, variant: Variant = "online") -> np.ndarray:
    r"""LiRA's test statistic for every candidate, from the target's :math:`\phi`.

    * online: the log likelihood ratio
      :math:`\log \mathcal N(\phi; \mu_{in}, \sigma_{in}^2) - \log \mathcal N(\phi; \mu_{out},
      \sigma_{out}^2)`;
    * offline: a one-sided test against the OUT Gaussian alone. Its p-value
      :math:`1 - \Phi((\phi - \mu_{out})/\sigma_{out})` ranks the candidates exactly as the
      z-score :math:`(\phi - \mu_{out})/\sigma_{out}`, which is returned (it does not round to
      0 or 1 far in the tails).

    Example:
        >>> s = LiraStatistics(*(np.array([v]) for v in (4.0, 1.0, 0.0, 1.0)))
        >>> float(lira_scores([2.0], s)[0]), float(lira_scores([3.0], s, variant="offline")[0])
        (0.0, 3.0)
    """
    from scipy.stats import norm

    phi = np.asarray(target_phi, dtype=np.float64)
    if phi.shape != stats.mu_out.shape:
        raise DataError(f"{phi.shape} target confidences for {stats.mu_out.shape} candidates")
    if variant not in ("online", "offline"):
        raise ConfigError(f"variant must be 'online' or 'offline', got {variant!r}")
    sides = ("IN", "OUT") if variant == "online" else ("OUT",)
    for side in sides:
        if np.isnan(stats.mu_in if side == "IN" else stats.mu_out).any():
            raise AttackError(f"{variant} LiRA needs {side} shadow models of every candidate "
                              "(two each for the per-example variance)")
    if variant == "online":
        return norm.logpdf(phi, stats.mu_in, stats.sd_in) - norm.logpdf(
            phi, stats.mu_out, stats.sd_out)
    return (phi - stats.mu_out) / stats.sd_out


def lira_attack(logits, labels, shadows: Shadows, *, variant: Variant = "online",
                variance: Variance = "global", epoch: int | None = None) -> np.ndarray:
    """Carlini et al.'s likelihood-ratio attack on the target's logits.

    Offline uses only the OUT shadows of each candidate: it needs no model trained on the
    candidate, so the shadows could have been trained before the candidate was known.

    Args:
        logits: the target's ``N x K`` logits on the candidates.
        labels: the candidates' ``N`` labels.
        shadows: from :func:`train_shadows` on the same candidates.
        variant: ``"online"`` or ``"offline"``.
        variance: ``"global"`` or ``"per-example"`` (see :func:`lira_statistics`).
        epoch: use the shadows as they were after this epoch (default: the last).
    """
    z, y = _logits_and_labels(logits, labels)
    _check_shadows(z, shadows)
    stats = lira_statistics(logit_confidence(shadows.at(epoch), y), shadows.keep,
                            variance=variance)
    return lira_scores(logit_confidence(z, y), stats, variant=variant)


def shadow_benchmark(shadows: Shadows, labels, *, attack: Literal["loss", "lira"] = "lira",
                     variant: Variant = "online", variance: Variance = "global",
                     epoch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Score an attack on many targets at once: each shadow in turn is the target.

    One target of ``N`` candidates has ``N / 2`` non-members, too few to measure a TPR at
    0.1 % FPR. Carlini et al. evaluate LiRA as done here: every shadow model plays the target
    once, attacked with the other ``S - 1`` shadows, and the scores of all ``S`` rounds are
    pooled (``S * N`` scores, about ``S * N / 2`` of them non-members).

    Args:
        shadows: from :func:`train_shadows` (at least 3).
        labels: the candidates' ``N`` labels.
        attack: ``"loss"`` (:func:`loss_attack`) or ``"lira"`` (:func:`lira_attack`).
        variant: LiRA's variant.
        variance: LiRA's variance estimate.
        epoch: use the models as they were after this epoch (default: the last).

    Returns:
        ``(scores, members)``: ``S * N`` scores and the matching ground truth, for
        :func:`dlgtut.roc.roc_summary`.

    Raises:
        ConfigError: an unknown attack, or fewer than 3 shadows.
    """
    if attack not in ("loss", "lira"):
        raise ConfigError(f"attack must be 'loss' or 'lira', got {attack!r}")
    if len(shadows) < 3:
        raise ConfigError(f"need at least 3 shadow models, got {len(shadows)}")
    z = shadows.at(epoch)
    y = np.asarray(labels)
    if attack == "loss":
        return loss_attack(z, y).reshape(-1), shadows.keep.reshape(-1).copy()
    phi = logit_confidence(z, y)
    scores = []
    for t in range(len(shadows)):
        rest = np.arange(len(shadows)) != t
        stats = lira_statistics(phi[rest], shadows.keep[rest], variance=variance)
        scores.append(lira_scores(phi[t], stats, variant=variant))
    return np.concatenate(scores), shadows.keep.reshape(-1).copy()


def plot_score_histogram(scores, members, *, ax=None, xlabel: str = "attack score",
                         title: str | None = None, log: bool = False, bins: int = 40):
    """Histograms of an attack's scores on members and on non-members; returns the figure.

    The range is clipped to the 0.5 and 99.5 percentiles so that a few extreme scores do not
    squeeze the rest into one bin.

    Args:
        scores: one score per candidate.
        members: the ground truth (True or 1 for members).
        ax: axes to draw on (a new 5 x 3.2 inch figure if None).
        xlabel: what the score is, with its unit.
        title: optional axes title.
        log: histogram ``log10(scores)`` (positive scores such as a loss).
        bins: number of bins.
    """
    import matplotlib.pyplot as plt

    s = np.asarray(scores, dtype=np.float64)
    m = np.asarray(members).astype(bool)
    if s.shape != m.shape or not m.any() or m.all():
        raise DataError("need one ground-truth flag per score, with members and non-members")
    if log:
        s = np.log10(np.maximum(s, 1e-300))
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
    else:
        fig = ax.figure
    edges = np.linspace(*np.percentile(s, [0.5, 99.5]), bins + 1)
    for mask, name, colour in ((m, "members", "#c62828"), (~m, "non-members", "#1565c0")):
        ax.hist(np.clip(s[mask], edges[0], edges[-1]), bins=edges, alpha=0.55, color=colour,
                label=f"{name} ({int(mask.sum())})", density=True)
    ax.set_xlabel(f"log10 of {xlabel}" if log else xlabel)
    ax.set_ylabel("density")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return fig
