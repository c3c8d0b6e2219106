"""What a participant can check about the model it receives, before it trains on it.

Three checks, from the cheapest to the most thorough:

* :func:`architecture_changes`: compare the received model's parameters with the architecture
  the federation agreed on. An inserted block shows up at once; a server that rewrites an
  existing layer instead passes.
* :func:`parallel_rows`: look for a fully connected layer whose rows all measure the same thing
  (an imprint's bins are one direction with many thresholds). Random trap rows pass.
* :func:`audit_update`: run the closed-form read-out on one's own update before sending it:
  every row of every fully connected layer that reads the whole image, and the difference of
  every two neighbouring parallel rows. If one of the participant's own images comes back
  above 40 dB, the update leaks it, whatever the server intended. This uses the private batch,
  which is allowed here: it is the participant checking itself.

None of them is complete: a block written as a convolution, or one that reads the image after
an invertible first layer, needs checks of its own. They show what checking costs and what it
catches.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...errors import WrongTypeError
from ...fl import PrivateBatch, SharedUpdate, require_update
from ...metrics import EXACT_PSNR_DB, MSE_FLOOR
from .block import rms_distances

__all__ = ["architecture_changes", "parallel_rows", "Audit", "audit_update"]

PARALLEL = 1 - 1e-6
"""Cosine similarity above which two rows measure the same direction."""


def _module(model, name: str) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise WrongTypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _shape(t: Tensor) -> str:
    return " x ".join(str(s) for s in t.shape) or "scalar"


def architecture_changes(received: nn.Module, agreed: nn.Module) -> tuple[str, ...]:
    """How the received model's parameters differ from those of the agreed architecture.

    Parameters are compared by shape, in order, so a renamed or wrapped copy of the agreed
    model passes; an extra layer, a missing one, or a layer of another size does not.

    Returns:
        One line per difference; empty when the shapes match.

    Example:
        >>> agreed = nn.Sequential(nn.Linear(4, 2))
        >>> architecture_changes(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)), agreed)[0]
        'parameter 0 (0.weight) is 8 x 4, the agreed model has 2 x 4 there'
    """
    got = list(_module(received, "received").named_parameters())
    want = list(_module(agreed, "agreed").named_parameters())
    lines = []
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        if g[1].shape != w[1].shape:
            lines.append(f"parameter {i} ({g[0]}) is {_shape(g[1])}, the agreed model has "
                         f"{_shape(w[1])} there")
    if len(got) != len(want):
        extra = sum(p.numel() for _, p in got) - sum(p.numel() for _, p in want)
        lines.append(f"{len(got)} parameter tensors where the agreed model has {len(want)} "
                     f"({extra:+,} values)")
    return tuple(lines)


def _parallel_groups(weight: Tensor) -> list[Tensor]:
    """Groups (two rows or more) of rows of ``weight`` that point the same way."""
    w = weight.detach().cpu().double()
    norms = w.norm(dim=1, keepdim=True)
    unit = w / norms.clamp(min=1e-300)
    alike = (unit @ unit.T > PARALLEL) & (norms > 0) & (norms.T > 0)
    groups, seen = [], torch.zeros(len(w), dtype=torch.bool)
    for i in range(len(w)):
        if seen[i]:
            continue
        members = torch.nonzero(alike[i]).flatten()
        seen[members] = True
        if len(members) > 1:
            groups.append(members)
    return groups


def _linear_layers(model: nn.Module):
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and module.bias is not None:
            yield name, module


def parallel_rows(model: nn.Module) -> tuple[str, ...]:
    """Fully connected layers in which two or more rows measure the same direction.

    Random rows are never parallel; an imprint's rows are all one measurement.

    Returns:
        One line per such layer; empty when there is none.

    Example:
        >>> layer = nn.Linear(3, 4)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.ones(4, 3))
        >>> parallel_rows(nn.Sequential(layer))
        ('layer 0: 4 of its 4 rows measure one direction, with different biases',)
    """
    lines = []
    for name, layer in _linear_layers(_module(model, "model")):
        groups = _parallel_groups(layer.weight)
        if groups:
            biggest = max(len(g) for g in groups)
            lines.append(f"layer {name}: {biggest} of its {layer.out_features} rows measure one "
                         f"direction, with different biases")
    return tuple(lines)


def _readings(weight: Tensor, bias: Tensor, d_weight: Tensor, d_bias: Tensor) -> Tensor:
    """What the closed-form read-out gets from one layer: rows, and neighbouring parallel rows."""
    tol = 1e-5 * float(d_bias.abs().max()) if d_bias.numel() else 0.0
    parts = []
    single = d_bias.abs() > tol
    if single.any():
        parts.append(d_weight[single] / d_bias[single, None])
    w = weight.detach().cpu().double()
    b = bias.detach().cpu().double()
    for group in _parallel_groups(w):
        threshold = -b[group] / w[group].norm(dim=1)
        rows = group[torch.argsort(threshold)]
        dw = d_weight[rows[:-1]] - d_weight[rows[1:]]
        db = d_bias[rows[:-1]] - d_bias[rows[1:]]
        ok = db.abs() > tol
        if ok.any():
            parts.append(dw[ok] / db[ok, None])
    return torch.cat(parts) if parts else d_weight.new_zeros(0, d_weight.shape[1])


@dataclass(frozen=True, eq=False)
class Audit:
    """What a participant learns by attacking its own update before sending it.

    Attributes:
        psnr: ``N``: the best PSNR (dB) at which each of its images can be read off the update
            (0 where no layer reads whole images).
        leaked: ``N`` booleans: the image comes back above the threshold (40 dB by default).
        findings: one line per layer that reads whole images, saying how many images it gives.
    """

    psnr: Tensor
    leaked: Tensor
    findings: tuple[str, ...]

    @property
    def safe(self) -> bool:
        """True when none of the participant's images can be read off its update."""
        return not bool(self.leaked.any())


def audit_update(update: SharedUpdate, batch: PrivateBatch,
                 threshold_db: float = EXACT_PSNR_DB) -> Audit:
    """Run the closed-form read-out on one's own update, and say which images it gives away.

    Every fully connected layer with a bias whose input is the whole image (``C H W``
    features) is read row by row (``dW_i / db_i``) and, for rows that measure the same
    direction, neighbour by neighbour in the order of their thresholds (the imprint's bins).

    Args:
        update: the update the participant is about to send.
        batch: the participant's own batch, the one the update was computed on.
        threshold_db: PSNR above which an image counts as given away.

    Example:
        >>> from dlgtut.fl import Participant
        >>> from dlgtut.models import LeNet
        >>> x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> honest = Participant(LeNet(1, 10, 8, seed=0)).fedsgd(PrivateBatch(x, [1, 2]))
        >>> audit_update(honest, PrivateBatch(x, [1, 2])).safe  # no layer reads whole images
        True
    """
    update = require_update(update, "audit_update")
    if not isinstance(batch, PrivateBatch):
        raise WrongTypeError(f"audit_update needs the participant's PrivateBatch, got "
                             f"{type(batch).__name__}")
    images = batch.images.detach().cpu().double().flatten(1)
    features = images.shape[1]
    index = {id(p): i for i, p in enumerate(update.model.parameters())}
    grads = update.gradient()
    best = torch.zeros(len(batch), dtype=torch.float64)
    findings = []
    for name, layer in _linear_layers(update.model):
        if layer.in_features != features:
            continue
        d_weight = grads[index[id(layer.weight)]].detach().cpu().double()
        d_bias = grads[index[id(layer.bias)]].detach().cpu().double()
        readings = _readings(layer.weight, layer.bias, d_weight, d_bias)
        if len(readings) == 0:
            findings.append(f"layer {name} reads whole images; no row was hit")
            continue
        mse = rms_distances(images, readings.clamp(0, 1)).square().amin(1)
        layer_psnr = 10 * torch.log10(1 / mse.clamp(min=MSE_FLOOR))
        best = torch.maximum(best, layer_psnr)
        given = int((layer_psnr > threshold_db).sum())
        findings.append(f"layer {name} reads whole images: {given} of the {len(batch)} come "
                        f"back above {threshold_db:g} dB")
    if not findings:
        findings.append("no fully connected layer reads whole images")
    return Audit(best.float(), best > threshold_db, tuple(findings))
