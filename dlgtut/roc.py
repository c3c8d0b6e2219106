"""How inference attacks are scored today: ROC curve, AUC and TPR at a low FPR.

An inference attack gives every candidate a score (higher: more likely a member, or more
likely to have the property). Accuracy and AUC average over all thresholds, including the
useless ones where the attacker accuses half the population; Carlini et al. (2022) argue that
what matters is the true-positive rate at a low false-positive rate (0.1 %, 1 %), shown on a
log-log ROC curve. The curve and the AUC come from scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .checks import array, axes, instance, number
from .errors import DataError, WrongTypeError

__all__ = ["RocSummary", "roc_summary", "tpr_at_fpr", "plot_roc", "percent"]


def _as_arrays(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = array(scores, "scores", finite=False).reshape(-1)
    if hasattr(labels, "detach"):  # a tensor, on any device
        labels = labels.detach().cpu()
    try:
        y = np.asarray(labels).reshape(-1)
    except (TypeError, ValueError):
        raise DataError("labels must be 0 (non-member / without) or 1 (member / with)") from None
    if len(s) != len(y):
        raise DataError(f"{len(s)} scores but {len(y)} labels")
    if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
        raise DataError("labels must be 0 (non-member / without) or 1 (member / with)")
    y = y.astype(np.int64)
    if y.min(initial=1) == y.max(initial=0) or len(y) == 0:
        raise DataError("need both positives (1) and negatives (0) to score an attack")
    if not np.isfinite(s).all():
        raise DataError(f"{int((~np.isfinite(s)).sum())} scores are NaN or infinite")
    return s, y


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """The highest true-positive rate over the ROC points whose false-positive rate is <= target.

    This is the reading of Carlini et al.'s code: the attacker picks the threshold whose
    false-positive rate does not exceed the target. With too few negatives to resolve the
    target (fewer than ``1 / target``), only the threshold that accuses nobody qualifies and
    the answer is 0.

    Raises:
        DataError: ``fpr`` and ``tpr`` are not 1-D arrays of one length with values in [0, 1].
        ConfigError: ``target`` is not a rate in [0, 1].

    Example:
        >>> tpr_at_fpr(np.array([0.0, 0.0, 0.5, 1.0]), np.array([0.0, 0.6, 0.9, 1.0]), 0.01)
        0.6
    """
    fpr, tpr = array(fpr, "fpr", ndim=1), array(tpr, "tpr", ndim=1)
    if fpr.shape != tpr.shape:
        raise DataError(f"fpr and tpr must be of one length, got {len(fpr)} and {len(tpr)}")
    if fpr.size and (min(fpr.min(), tpr.min()) < 0 or max(fpr.max(), tpr.max()) > 1):
        raise DataError("fpr and tpr are rates and must lie in [0, 1]")
    number(target, "target", low=0, high=1)
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def percent(rate: float | None) -> str:
    """A rate for people: ``"12.3%"``, or ``"n/a"`` where it could not be measured (None).

    Example:
        >>> percent(0.1234), percent(None)
        ('12.3%', 'n/a')
    """
    return "n/a" if rate is None else f"{rate:.1%}"


@dataclass(frozen=True)
class RocSummary:
    """An attack's ROC curve and the figures the field reports.

    Attributes:
        auc: area under the ROC curve (0.5 is chance).
        tpr_at_0_1pct_fpr: true-positive rate at 0.1 % false positives, or None with fewer
            than 1,000 non-members: below that no threshold has a false-positive rate between
            0 and 0.1 %, and the figure would be the true-positive rate at *zero* false
            positives under another name.
        tpr_at_1pct_fpr: true-positive rate at 1 % false positives, or None with fewer than 100
            non-members (the same reason).
        balanced_accuracy: the best of (TPR + TNR) / 2 over all thresholds.
        fpr: the curve's false-positive rates (scikit-learn's ``roc_curve``).
        tpr: the curve's true-positive rates.
        positives: number of members (label 1).
        negatives: number of non-members (label 0).
    """

    auc: float
    tpr_at_0_1pct_fpr: float | None
    tpr_at_1pct_fpr: float | None
    balanced_accuracy: float
    fpr: np.ndarray
    tpr: np.ndarray
    positives: int
    negatives: int

    def as_dict(self) -> dict[str, float | int | None]:
        """The figures under the names ``metrics.json`` uses."""
        return {
            "auc": self.auc,
            "tpr_at_0.1pct_fpr": self.tpr_at_0_1pct_fpr,
            "tpr_at_1pct_fpr": self.tpr_at_1pct_fpr,
            "balanced_accuracy": self.balanced_accuracy,
            "positives": self.positives,
            "negatives": self.negatives,
        }


def roc_summary(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> RocSummary:
    """Score an attack: the ROC curve, AUC and TPR at 0.1 % and 1 % FPR.

    A TPR at a false-positive rate needs at least ``1 / rate`` non-members to be measured at
    all; with fewer it is None (see :class:`RocSummary`).

    Args:
        scores: one score per candidate; higher means "member" (or "has the property").
        labels: 1 for members, 0 for non-members.

    Raises:
        DataError: lengths differ, labels other than 0/1, only one class, or NaN scores.

    Example:
        >>> r = roc_summary([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0])
        >>> r.auc, r.balanced_accuracy
        (1.0, 1.0)
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    s, y = _as_arrays(scores, labels)
    fpr, tpr, _ = roc_curve(y, s)
    negatives = int(len(y) - y.sum())

    def at(target: float) -> float | None:  # only where the negatives can resolve the rate
        return tpr_at_fpr(fpr, tpr, target) if negatives * target >= 1 else None

    return RocSummary(
        auc=float(roc_auc_score(y, s)),
        tpr_at_0_1pct_fpr=at(0.001),
        tpr_at_1pct_fpr=at(0.01),
        balanced_accuracy=float(np.max((tpr + 1 - fpr) / 2)),
        fpr=fpr,
        tpr=tpr,
        positives=int(y.sum()),
        negatives=negatives,
    )


def plot_roc(curves: dict[str, RocSummary], *, ax=None, title: str | None = None):
    """ROC curves on log-log axes, with the chance diagonal; returns the figure.

    Args:
        curves: legend label -> :class:`RocSummary`; the legend shows AUC and TPR at 1 % FPR.
        ax: axes to draw on (a new 4.5 x 4.5 inch figure if None).
        title: optional axes title.
    """
    import matplotlib.pyplot as plt

    if not isinstance(curves, dict):
        raise WrongTypeError(f"curves must map a legend label to a RocSummary, got "
                             f"{type(curves).__name__}")
    for name, r in curves.items():
        instance(r, RocSummary, f"curve {name!r}")
    axes(ax)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
    else:
        fig = ax.figure
    floor = 1e-4
    for name, r in curves.items():
        n_neg = max(r.negatives, 1)
        lo = max(floor, 0.5 / n_neg)
        ax.plot(np.clip(r.fpr, lo, 1), np.clip(r.tpr, floor, 1),
                label=f"{name} (AUC {r.auc:.2f}, TPR@1% {percent(r.tpr_at_1pct_fpr)})")
    grid = np.logspace(np.log10(floor), 0, 50)
    ax.plot(grid, grid, ls="--", color="grey", lw=1, label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(floor, 1)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    return fig
