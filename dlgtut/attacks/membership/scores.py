"""Per-example scores, and the two older attacks built on them.

* :func:`example_loss` and :func:`logit_confidence`: what one query of the target gives.
* :func:`loss_attack` (Yeom et al. 2018): minus the loss. Members were fitted, so their loss is
  lower; the advantage follows the generalisation gap.
* :func:`shokri_attack` (Shokri et al. 2017): one attack classifier per class that learns to
  tell a shadow's outputs on its members from those on its non-members.

Every attack returns one score per candidate, higher meaning "member"; the ground truth enters
only in :func:`dlgtut.roc.roc_summary`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ...checks import array, axes, flag, flags, instance, integer
from ...checks import seed as check_seed
from ...errors import DataError
from ...fl import as_labels
from .targets import Shadows

__all__ = [
    "example_loss",
    "logit_confidence",
    "loss_attack",
    "shokri_attack",
    "plot_score_histogram",
]

Variant = Literal["online", "offline"]
Variance = Literal["global", "per-example"]


def _logits_and_labels(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    z = array(logits, "logits")  # numbers, finite: a NaN logit gives a NaN score
    y = as_labels(labels).cpu().numpy()  # integers: a float label is refused, not truncated
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
    instance(shadows, Shadows, "shadows")
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
        seed: seeds the attack classifiers (below 2**32, scikit-learn's limit).

    Raises:
        DataError: logits that are not finite numbers, labels that are not integer classes.
        WrongTypeError: ``shadows`` is not a :class:`Shadows`.
        ConfigError: an epoch the shadows were not recorded at, or a bad seed.
    """
    from scipy.special import softmax
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    z, y = _logits_and_labels(logits, labels)
    _check_shadows(z, shadows)
    check_seed(seed, high=2**32 - 1)
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

    Raises:
        DataError: scores that are not finite numbers, members that are not booleans (or 0
            and 1), or not one flag per score with members and non-members among them.
        ConfigError: ``bins`` is not a positive integer, or ``log`` not a bool.
        WrongTypeError: ``ax`` is not a matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    s = array(scores, "scores").reshape(-1)
    m = flags(members, "members").cpu().numpy()  # 0.5 is not a member; it used to count as one
    if s.shape != m.shape or not m.any() or m.all():
        raise DataError("need one ground-truth flag per score, with members and non-members")
    integer(bins, "bins", low=1)
    flag(log, "log")
    axes(ax)
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
