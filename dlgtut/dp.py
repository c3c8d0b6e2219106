"""DP-SGD for one participant's update, with Opacus (Abadi et al., 2016).

A DP-SGD participant clips each example's gradient to norm ``max_grad_norm``, averages them,
and adds Gaussian noise of standard deviation ``noise_multiplier * max_grad_norm / batch``
before sharing. The per-example gradients, the clipping and the noise are Opacus's
(``PrivacyEngine.make_private``); the privacy spent over a training run is counted by its
RDP accountant. :func:`dp_sgd_update` returns the shared gradient as a
:class:`~dlgtut.fl.SharedUpdate`, so every attack in dlgtut runs on it unchanged.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from .errors import ConfigError
from .fl import PrivateBatch, SharedUpdate, one_hot, soft_cross_entropy

__all__ = ["dp_sgd_update", "dp_epsilon"]


def _check(noise_multiplier: float, max_grad_norm: float) -> None:
    if not noise_multiplier >= 0:
        raise ConfigError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
    if not max_grad_norm > 0:
        raise ConfigError(f"max_grad_norm must be positive, got {max_grad_norm}")


def dp_sgd_update(
    model: nn.Module,
    batch: PrivateBatch,
    *,
    noise_multiplier: float,
    max_grad_norm: float = 1.0,
    seed: int | None = None,
) -> SharedUpdate:
    """The gradient a DP-SGD participant shares for ``batch`` (clipped per example, noised).

    Args:
        model: the public model of the round (not modified).
        batch: the private batch; its gradient is the mean of the clipped per-example ones.
        noise_multiplier: sigma: noise standard deviation relative to ``max_grad_norm``.
        max_grad_norm: the clipping bound C on each example's gradient norm.
        seed: seed of the noise (None: Opacus's own generator).

    Returns:
        A ``"gradient"`` :class:`~dlgtut.fl.SharedUpdate`; ``meta`` holds the DP settings.

    Example:
        >>> from dlgtut.models import LeNet
        >>> net = LeNet(1, 10, 8, "tanh", seed=0, init="default")
        >>> b = PrivateBatch(torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3]))
        >>> u = dp_sgd_update(net, b, noise_multiplier=0.0, max_grad_norm=1e-3)
        >>> norm = torch.cat([t.flatten() for t in u.tensors]).norm().item()
        >>> norm <= 1e-3 + 1e-9  # the mean of gradients clipped to 1e-3
        True
    """
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    _check(noise_multiplier, max_grad_norm)
    local = copy.deepcopy(model)
    for p in local.parameters():
        p.requires_grad_(True)
    start = [p.detach().clone() for p in local.parameters()]
    n = len(batch)
    with torch.no_grad():
        num_classes = int(local(batch.images[:1]).shape[-1])
    loader = DataLoader(TensorDataset(batch.images, batch.labels), batch_size=n)
    opt = torch.optim.SGD(local.parameters(), lr=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus warns that its secure RNG is off
        engine = PrivacyEngine(secure_mode=False)
        gen = None if seed is None else torch.Generator().manual_seed(seed)
        dp_model, dp_opt, dp_loader = engine.make_private(
            module=local, optimizer=opt, data_loader=loader, noise_multiplier=noise_multiplier,
            max_grad_norm=max_grad_norm, poisson_sampling=False, noise_generator=gen,
        )
        for images, labels in dp_loader:
            dp_opt.zero_grad()
            logits = dp_model(images)
            soft_cross_entropy(logits, one_hot(labels, num_classes).to(logits.dtype)).backward()
            dp_opt.step()
    # The optimiser left the noisy clipped mean gradient in .grad. (Reading it off the weight
    # change of an SGD step at lr 1 would lose the digits of gradients far smaller than their
    # weights, as a malicious block's are.)
    grads = tuple(torch.zeros_like(s) if p.grad is None else p.grad.detach().clone()
                  for s, p in zip(start, local.parameters(), strict=True))
    return SharedUpdate(
        model=copy.deepcopy(model),
        tensors=grads,
        kind="gradient",
        batch_size=n,
        input_shape=tuple(batch.images.shape[1:]),
        num_classes=num_classes,
        meta={"defense": f"DP-SGD sigma={noise_multiplier:g}, C={max_grad_norm:g}"},
    )


def dp_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """The epsilon of ``steps`` DP-SGD steps at this noise and sampling rate (Opacus RDP).

    Example:
        >>> round(dp_epsilon(1.0, 0.01, 1000, 1e-5), 1)
        2.1
    """
    from opacus.accountants import RDPAccountant

    if not 0 < sample_rate <= 1 or steps < 0 or not 0 < delta < 1:
        raise ConfigError("need 0 < sample_rate <= 1, steps >= 0 and 0 < delta < 1")
    if noise_multiplier <= 0:
        return float("inf")
    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    with warnings.catch_warnings():
        # At very small noise the optimal RDP order is the largest one tried; Opacus warns,
        # and the (huge) epsilon it returns is still a valid upper bound.
        warnings.simplefilter("ignore")
        return float(accountant.get_epsilon(delta))
