r"""LiRA, the likelihood-ratio attack (Carlini et al., S&P 2022).

For every candidate, the logit-scaled confidence :math:`\phi = \log \frac{p_y}{1 - p_y}` under
shadow models trained with it (IN) and without it (OUT) is close to Gaussian. The score compares
the target's :math:`\phi` with the two Gaussians (online) or with the OUT one alone (offline),
with one variance for all candidates (global) or one per candidate. The attack is judged by its
true-positive rate at low false-positive rates, on a log-log ROC.

The structure is the reference code's (github.com/tensorflow/privacy, ``research/mi_lira_2021``,
``plot.py``'s ``generate_ours`` and ``generate_ours_offline``); three things differ. The
Gaussians are centred on the *mean* of the shadows' values, where the reference takes the
median. The global variance pools every value's deviation from its own candidate's centre,
where the reference's ``fix_variance`` takes ``np.std`` of all values at once (around one
overall mean, so it includes the spread *between* candidates). And each model is queried once
per candidate, where the reference averages the score over augmented queries (mirror images
and shifts), which raises the TPR at low FPR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ...checks import array, flags, instance
from ...errors import AttackError, ConfigError, DataError
from .scores import _check_shadows, _logits_and_labels, logit_confidence, loss_attack
from .targets import Shadows

__all__ = [
    "LiraStatistics",
    "lira_statistics",
    "lira_scores",
    "lira_attack",
    "shadow_benchmark",
]

Variant = Literal["online", "offline"]
Variance = Literal["global", "per-example"]


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


def _check_variance(variance) -> None:
    if not isinstance(variance, str) or variance not in ("global", "per-example"):
        raise ConfigError(f"variance must be 'global' or 'per-example', got {variance!r}")


def _check_variant(variant) -> None:
    if not isinstance(variant, str) or variant not in ("online", "offline"):
        raise ConfigError(f"variant must be 'online' or 'offline', got {variant!r}")


def _keep(keep, shape) -> np.ndarray:
    """``keep`` as booleans of ``shape``: booleans or 0 and 1 only (0.5 is no membership)."""
    if hasattr(keep, "detach"):  # a tensor, on any device
        keep = keep.detach().cpu()
    try:
        raw = np.asarray(keep)
    except (TypeError, ValueError):
        raise DataError("keep must be an S x N array of booleans") from None
    if raw.dtype != bool and raw.dtype.kind in "iuf":
        raw = flags(raw.reshape(-1), "keep").numpy().reshape(raw.shape)
    elif raw.dtype != bool:
        raise DataError(f"keep must be an S x N array of booleans, got dtype {raw.dtype}")
    return raw


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
        DataError: ``shadow_phi`` not finite numbers, ``keep`` not booleans (or 0 and 1), or
            the two of different shapes.

    Example:
        >>> phi = np.array([[1.0, 5.0], [3.0, 7.0], [0.0, 0.0], [2.0, 2.0]])
        >>> keep = np.array([[1, 1], [1, 1], [0, 0], [0, 0]], dtype=bool)
        >>> s = lira_statistics(phi, keep, variance="per-example")
        >>> s.mu_in.tolist(), s.sd_in.round(3).tolist(), s.mu_out.tolist()
        ([2.0, 6.0], [1.414, 1.414], [1.0, 1.0])
    """
    _check_variance(variance)
    phi = array(shadow_phi, "shadow_phi")  # finite: a NaN confidence poisons its Gaussian
    keep = _keep(keep, phi.shape)
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

    instance(stats, LiraStatistics, "stats")
    _check_variant(variant)
    phi = array(target_phi, "target_phi")
    if phi.shape != stats.mu_out.shape:
        raise DataError(f"{phi.shape} target confidences for {stats.mu_out.shape} candidates")
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

    Raises:
        ConfigError: an unknown variant or variance, or an epoch that was not recorded.
        DataError: logits that are not finite numbers, labels that are not integer classes.
        WrongTypeError: ``shadows`` is not a :class:`~dlgtut.attacks.membership.Shadows`.
    """
    _check_variant(variant)
    _check_variance(variance)
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
        ConfigError: an unknown attack, variant or variance, or fewer than 3 shadows.
        WrongTypeError: ``shadows`` is not a :class:`~dlgtut.attacks.membership.Shadows`.
        DataError: labels that are not one integer class per candidate.
    """
    if not isinstance(attack, str) or attack not in ("loss", "lira"):
        raise ConfigError(f"attack must be 'loss' or 'lira', got {attack!r}")
    _check_variant(variant)
    _check_variance(variance)
    instance(shadows, Shadows, "shadows")
    if len(shadows) < 3:
        raise ConfigError(f"need at least 3 shadow models, got {len(shadows)}")
    z = shadows.at(epoch)
    _, y = _logits_and_labels(z[0], labels)  # one integer label per candidate
    if attack == "loss":
        return loss_attack(z, y).reshape(-1), shadows.keep.reshape(-1).copy()
    phi = logit_confidence(z, y)
    scores = []
    for t in range(len(shadows)):
        rest = np.arange(len(shadows)) != t
        stats = lira_statistics(phi[rest], shadows.keep[rest], variance=variance)
        scores.append(lira_scores(phi[t], stats, variant=variant))
    return np.concatenate(scores), shadows.keep.reshape(-1).copy()


