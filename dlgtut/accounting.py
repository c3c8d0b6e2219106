r"""Privacy accounting that matches how the book's code draws its batches and adds its noise.

Two accountants, each for an assumption the code actually meets:

* :func:`dp_sgd_epsilon`: DP-SGD whose every step draws a **fixed-size batch uniformly without
  replacement** from the participant's data, as :func:`dlgtut.server.federated_training` does
  (``randperm(n)[:b]`` afresh each round). Opacus's accountants assume Poisson sampling (each
  example joins each batch independently with probability q), which this is not. Sampling
  without replacement is analysed under the **replace-one** neighbouring relation (the dataset
  size n is public; neighbours differ in one example's value): the Rényi-DP bound of Wang,
  Balle and Kasiviswanathan (AISTATS 2019, Theorem 27 of arXiv:1808.00087, the version for the
  Gaussian mechanism), composed over the steps and converted to (ε, δ) with Opacus's
  conversion. Replacing one example moves the sum of clipped gradients by up to twice the
  clipping norm, so the Gaussian mechanism's noise relative to that sensitivity is half the
  noise multiplier Opacus uses (noise / clipping norm).
* :func:`gaussian_epsilon`: the exact ε of the Gaussian mechanism, the analytic Gaussian
  mechanism of Balle and Wang (ICML 2018, Theorem 8), for noise calibrated by another formula
  (Flower's ``LocalDpMod`` uses the classic :math:`\sigma = \Delta\sqrt{2\ln(1.25/\delta)}/
  \varepsilon`, proven only for ε < 1); ``compositions`` repeats of the same mechanism compose
  exactly (a Gaussian mechanism with :math:`\sigma/\sqrt{k}`; Dong, Roth and Su 2022).

Google's ``dp-accounting`` has the first (``SampledWithoutReplacementDpEvent``), but its every
release pins ``attrs<24``, which would replace Colab's attrs 26 in a reader's notebook (see
``tools/reader_check``); the bound is implemented here from the paper and tested against
dp-accounting's numbers (``tests/test_accounting.py``).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence

from .checks import integer, number

__all__ = ["ORDERS", "rdp_wor_gaussian", "dp_sgd_epsilon", "gaussian_epsilon"]

ORDERS = tuple(range(2, 65))
"""The Rényi orders tried (integers: the bound of Theorem 27 is for integer orders)."""

# Beyond this many digits the exact differences cost seconds; the bound then uses its other
# term alone (still an upper bound; for such small noise that term is the smaller anyway).
_MAX_DIGITS = 1_500


@functools.lru_cache(maxsize=64)
def _forward_differences(sigma: float, up_to: int) -> tuple[float, ...] | None:
    r"""log of :math:`\Delta^\ell g(0)` for ``ell = 0..up_to``, where
    :math:`g(x) = \exp(x(x-1)/(2\sigma^2))`, computed exactly (mpmath, by repeated
    differencing); None when that needs more than :data:`_MAX_DIGITS` digits."""
    import mpmath

    top = up_to * (up_to - 1) / (2 * sigma * sigma) / math.log(10) + up_to * math.log10(2)
    digits = int(top) + 40
    if digits > _MAX_DIGITS:
        return None
    with mpmath.workdps(digits):
        s2 = 2 * mpmath.mpf(sigma) ** 2
        row = [mpmath.exp(mpmath.mpf(k) * (k - 1) / s2) for k in range(up_to + 1)]
        out = []
        for _ in range(up_to + 1):
            # Every forward difference of this g at 0 is positive; at or below zero would be
            # lost precision.
            out.append(float(mpmath.log(row[0])) if row[0] > 0 else -math.inf)
            row = [b - a for a, b in zip(row, row[1:], strict=False)]
    return tuple(out)


def _log_a(q: float, sigma: float, alpha: int, diffs: tuple[float, ...] | None) -> float:
    """log of the bound on E[(p/q)^alpha] of Theorem 27 for one integer order."""
    def eps(x: float) -> float:  # the Gaussian mechanism's RDP at order x
        return x / (2 * sigma * sigma)

    terms = [0.0]  # log 1
    e2 = eps(2.0)
    terms.append(2 * math.log(q) + _log_comb(alpha, 2)
                 + min(math.log(4) + e2 + math.log(-math.expm1(-e2)), e2 + math.log(2)))
    for j in range(3, alpha + 1):
        simple = math.log(2) + (j - 1) * eps(j)
        if diffs is not None:
            lo, hi = diffs[2 * (j // 2)], diffs[2 * ((j + 1) // 2)]
            simple = min(simple, math.log(4) + 0.5 * (lo + hi))
        terms.append(j * math.log(q) + _log_comb(alpha, j) + simple)
    peak = max(terms)
    return peak + math.log(math.fsum(math.exp(t - peak) for t in terms))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def rdp_wor_gaussian(q: float, sigma: float, orders: Sequence[int] = ORDERS) -> list[float]:
    r"""Rényi DP of the Gaussian mechanism run on a subset of size ``q * n`` drawn uniformly
    without replacement, at each integer order (replace-one neighbours).

    ``sigma`` is the noise's standard deviation relative to the mechanism's replace-one L2
    sensitivity. Wang, Balle and Kasiviswanathan (2019), Theorem 27.

    Raises:
        ConfigError: ``q`` outside (0, 1], ``sigma`` not positive and finite, or an order that
            is not an integer of at least 2.

    Example:
        >>> [round(r, 4) for r in rdp_wor_gaussian(1.0, 2.0, [2, 3])]  # no sampling: a/(2 s^2)
        [0.25, 0.375]
    """
    number(q, "q", low=0, high=1, low_open=True)
    number(sigma, "sigma", low=0, low_open=True)
    orders = [integer(a, "every order", low=2) for a in orders]
    if q == 1.0:
        return [a / (2 * sigma * sigma) for a in orders]
    diffs = _forward_differences(sigma, 2 * ((max(orders) + 1) // 2))
    return [_log_a(q, sigma, a, diffs) / (a - 1) for a in orders]


def dp_sgd_epsilon(noise_multiplier: float, batch_size: int, dataset_size: int, steps: int,
                   delta: float) -> float:
    r"""The ε of ``steps`` DP-SGD steps, each on ``batch_size`` of ``dataset_size`` examples
    drawn uniformly without replacement, under replace-one neighbouring datasets.

    Args:
        noise_multiplier: Opacus's σ: the noise's standard deviation over the clipping norm.
        batch_size: the examples each step draws (``b``).
        dataset_size: the examples they are drawn from (``n``, public).
        steps: how many steps (rounds) the participant took part in.
        delta: the δ of (ε, δ).

    Returns:
        ε (``inf`` without noise; 0 for no step). With ``batch_size == dataset_size`` (no
        sampling) it is exact: ``steps`` Gaussian mechanisms (:func:`gaussian_epsilon`).

    Raises:
        ConfigError: a negative or non-finite noise multiplier, sizes that are not positive
            integers with ``batch_size <= dataset_size``, a negative ``steps``, or ``delta``
            outside (0, 1).

    Example:
        >>> round(dp_sgd_epsilon(2.0, 8, 1000, 500, 1e-6), 2)
        2.35
    """
    from opacus.accountants.analysis.rdp import get_privacy_spent

    number(noise_multiplier, "noise_multiplier", low=0)
    batch_size = integer(batch_size, "batch_size", low=1)
    dataset_size = integer(dataset_size, "dataset_size", low=batch_size)
    steps = integer(steps, "steps", low=0)
    number(delta, "delta", low=0, high=1, low_open=True, high_open=True)
    if steps == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    # Replacing one example moves the clipped sum by up to 2C: the noise over that is sigma/2.
    if batch_size == dataset_size:
        return gaussian_epsilon(noise_multiplier, 2.0, delta, steps)
    rdp = rdp_wor_gaussian(batch_size / dataset_size, noise_multiplier / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus warns when the best order is the largest
        eps, _ = get_privacy_spent(orders=list(ORDERS), rdp=[steps * r for r in rdp],
                                   delta=delta)
    return float(eps)


def gaussian_epsilon(noise_std: float, sensitivity: float, delta: float,
                     compositions: int = 1) -> float:
    r"""The exact ε at ``delta`` of the Gaussian mechanism (analytic Gaussian mechanism).

    A function of L2 sensitivity Δ released with Gaussian noise of standard deviation σ,
    ``compositions`` times, is (ε, δ)-DP exactly when
    :math:`\Phi(\frac{\Delta}{2s} - \frac{\varepsilon s}{\Delta}) - e^\varepsilon
    \Phi(-\frac{\Delta}{2s} - \frac{\varepsilon s}{\Delta}) \le \delta` with
    :math:`s = \sigma/\sqrt{k}` (Balle and Wang 2018, Theorem 8; k-fold composition of a
    Gaussian mechanism is one with :math:`\sqrt{k}` times the ratio Δ/σ). The smallest such ε.

    Raises:
        ConfigError: a noise or sensitivity that is not positive and finite, ``delta`` outside
            (0, 1), or ``compositions`` not a positive integer.

    Example:
        >>> round(gaussian_epsilon(4.845, 1.0, 1e-5), 2)  # the classic formula's sigma at 1.0
        0.75
    """
    from scipy.special import log_ndtr, ndtr

    number(noise_std, "noise_std", low=0, low_open=True)
    number(sensitivity, "sensitivity", low=0, low_open=True)
    number(delta, "delta", low=0, high=1, low_open=True, high_open=True)
    k = integer(compositions, "compositions", low=1)
    s = noise_std / math.sqrt(k)
    a = sensitivity / (2 * s)

    def excess(eps: float) -> float:  # delta(eps) - delta, decreasing in eps
        b = eps * s / sensitivity
        return float(ndtr(a - b) - math.exp(eps + log_ndtr(-a - b)) - delta)

    if excess(0.0) <= 0:
        return 0.0
    hi = 1.0
    while excess(hi) > 0:
        hi *= 2
        if hi > 1e6:
            return math.inf
    lo = 0.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return hi
