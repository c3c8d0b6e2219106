"""DP-SGD for one participant's update, with Opacus (Abadi et al., 2016).

A DP-SGD participant clips each example's gradient to norm ``max_grad_norm``, averages them,
and adds Gaussian noise of standard deviation ``noise_multiplier * max_grad_norm / batch``
before sharing. The per-example gradients, the clipping and the noise are Opacus's
(``PrivacyEngine.make_private``). :func:`dp_sgd_update` returns the shared gradient as a
:class:`~dlgtut.fl.SharedUpdate`, so every attack in dlgtut runs on it unchanged.

The batch is the one it is given: the participant's whole batch, not a Poisson sample of it
(``poisson_sampling=False``), because the attacks invert exactly that batch. The privacy spent
is therefore not what Opacus's accountants count (they assume Poisson sampling): when the
batches are drawn uniformly without replacement, as :func:`dlgtut.server.federated_training`
draws them, use :func:`dlgtut.accounting.dp_sgd_epsilon` (replace-one neighbours).
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from .checks import as_model_input, model_output, model_parameters, number
from .checks import seed as check_seed
from .device import device_generator
from .errors import DataError, WrongTypeError
from .fl import PrivateBatch, SharedUpdate, one_hot, soft_cross_entropy

__all__ = ["dp_sgd_update"]


def _check(noise_multiplier: float, max_grad_norm: float) -> None:
    number(noise_multiplier, "noise_multiplier", low=0)
    number(max_grad_norm, "max_grad_norm", low=0, low_open=True)


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
        seed: seed of the noise (None: Opacus's own generator). Opacus draws the noise on the
            model's device, so on CUDA a seed gives other noise than on the CPU.

    Returns:
        A ``"gradient"`` :class:`~dlgtut.fl.SharedUpdate` on the model's device (where Opacus
        runs); ``meta`` holds the DP settings.

    Raises:
        ConfigError: a negative or non-finite ``noise_multiplier``, a ``max_grad_norm`` that is
            not positive and finite, or a bad ``seed``.
        WrongTypeError: ``model`` is not a module, or ``batch`` not a PrivateBatch.
        DataError: a model Opacus cannot make private (BatchNorm), a batch the model cannot
            take, or labels outside its classes.

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
    from opacus.validators import ModuleValidator
    from torch.utils.data import DataLoader, TensorDataset

    _check(noise_multiplier, max_grad_norm)
    if seed is not None:
        check_seed(seed)
    model_parameters(model)
    if not isinstance(batch, PrivateBatch):
        raise WrongTypeError(f"dp_sgd_update needs a PrivateBatch, got {type(batch).__name__}")
    problems = ModuleValidator.validate(model, strict=False)
    if problems:
        reason = " ".join(str(problems[0]).split()).split(". ")[0]
        raise DataError(f"Opacus cannot train this model with DP-SGD: {reason}")
    local = copy.deepcopy(model)
    for p in local.parameters():
        p.requires_grad_(True)
    start = [p.detach().clone() for p in local.parameters()]
    n = len(batch)
    images = as_model_input(local, batch.images)
    labels = batch.labels.to(images.device)
    with torch.no_grad():
        num_classes = int(model_output(local, images[:1]).shape[-1])
    if int(labels.max()) >= num_classes:
        raise DataError(f"labels must lie in [0, {num_classes - 1}] for the model's "
                        f"{num_classes} classes, got {int(labels.max())}")
    loader = DataLoader(TensorDataset(images, labels), batch_size=n)
    opt = torch.optim.SGD(local.parameters(), lr=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus warns that its secure RNG is off
        engine = PrivacyEngine(secure_mode=False)
        gen = None if seed is None else device_generator(seed, images.device)
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
