"""The malicious block, what the server sends and keeps, and what its attacks return.

A malicious server puts a small block in front of an otherwise ordinary model::

    x -> MaliciousBlock: x + readout(relu(W flatten(x) + b)) -> the ordinary model -> logits

The block's first layer has one row per "bin" (imprint) or "trap" (trap weights). For an image
``x`` that activates row ``i`` the loss gradient of that row is ``g_i(x) * x`` and that of its
bias is ``g_i(x)``, with ``g_i(x)`` the gradient at the row's output. So when exactly one image
of the batch activates row ``i``, the ratio of the two gradients is that image, exactly:

.. math::
    \\frac{\\partial L / \\partial W_i}{\\partial L / \\partial b_i}
    = \\frac{g_i(x)\\, x}{g_i(x)} = x

The readout adds the rows back onto the input with small weights, so that the ordinary model
still sees (almost) the image and still learns. Its weights decide ``g_i(x)``: all equal (the
imprint), an image sends the same gradient into every row it activates; random (trap weights),
a different one into each. How the rows are chosen is the attack
(:mod:`.imprint`, :mod:`.trap`); both keep their choices in a :class:`MaliciousModel`, a frozen
dataclass whose ``model`` is all a participant receives and whose other fields never leave the
server. The attacks take the :class:`~dlgtut.fl.SharedUpdate` (one participant's, or the
secure aggregate of many) and the :class:`MaliciousModel`, never the private batch, and return
a :class:`Breach`.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...device import model_device
from ...errors import AttackError, ConfigError, DataError, WrongTypeError
from ...fl import SharedUpdate, require_update

__all__ = [
    "MaliciousBlock",
    "MaliciousModel",
    "Breach",
    "BreachStatus",
    "block_gradient",
    "check_rows",
    "check_public",
    "insert_block",
    "finish_breach",
    "ratio_readings",
    "rms_distances",
    "same_groups",
    "MAX_ROWS",
]

MAX_ROWS = 65_536
"""The most rows a malicious block may have (one row costs C x H x W weights)."""

BLANK = 0.5
"""Grey level of a slot the attack could not fill."""

BreachStatus = Literal["recovered", "partial", "noisy", "failed"]


class MaliciousBlock(nn.Module):
    """``x + readout(relu(rows(flatten(x))))``: one ReLU layer over the image, added back onto it.

    Args:
        input_shape: ``(C, H, W)`` of the images.
        weight: ``k x (C H W)`` rows of the first layer.
        bias: ``k`` biases of the first layer.
        readout: ``(C H W) x k`` weights that add the rows' outputs back onto the image.

    Example:
        >>> block = MaliciousBlock((1, 2, 2), torch.ones(3, 4), torch.zeros(3), torch.zeros(4, 3))
        >>> x = torch.rand(5, 1, 2, 2)
        >>> torch.equal(block(x), x)  # a zero readout passes the image through unchanged
        True
    """

    def __init__(self, input_shape: tuple[int, int, int], weight: Tensor, bias: Tensor,
                 readout: Tensor) -> None:
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        rows, features = weight.shape
        self.rows = nn.Linear(features, rows)
        self.readout = nn.Linear(rows, features, bias=False)
        with torch.no_grad():
            self.rows.weight.copy_(weight)
            self.rows.bias.copy_(bias)
            self.readout.weight.copy_(readout)

    def forward(self, x: Tensor) -> Tensor:
        hidden = F.relu(self.rows(x.flatten(1)))
        return x + self.readout(hidden).view_as(x)


@dataclass(frozen=True, eq=False, kw_only=True)
class MaliciousModel:
    """What a malicious server sends (``model``) and what it keeps to itself (everything else).

    Attributes:
        model: the model every participant receives: a :class:`MaliciousBlock`, then the
            ordinary model (``model[0]`` and ``model[1]``); or, for trap weights as published,
            the ordinary model itself with its first layer rewritten. Participants train it
            honestly.
        input_shape: ``(C, H, W)`` of the images the block takes.
        rows: rows of the block's first layer.
        method: ``"imprint"`` or ``"trap"``.
    """

    model: nn.Sequential
    input_shape: tuple[int, int, int]
    rows: int
    method: str

    @property
    def block(self) -> MaliciousBlock:
        """The malicious block at the front of :attr:`model` (a model whose own first layer
        was rewritten instead has none: see :meth:`first_layer`)."""
        if not isinstance(self.model[0], MaliciousBlock):
            raise AttributeError("this model's own first layer was rewritten: it has no block")
        return self.model[0]

    def first_layer(self) -> nn.Linear:
        """The fully connected layer whose rows the attack reads: the block's, or the model's
        own first layer where the server rewrote it (:func:`~.trap.trap_model`)."""
        if isinstance(self.model[0], MaliciousBlock):
            return self.model[0].rows
        return next(m for m in self.model.modules() if isinstance(m, nn.Linear))

    def fires(self, images: Tensor) -> Tensor:
        """``N x rows`` booleans: which rows of the block each image activates (float64)."""
        layer = self.first_layer()
        w = layer.weight.detach().cpu().double()
        b = layer.bias.detach().cpu().double()
        return images.detach().cpu().double().flatten(1) @ w.T + b > 0

    def occupancy(self, images: Tensor) -> Tensor:
        """How many of ``images`` each row catches: a row caught by one gives it back exactly.

        Only for figures and teaching: it needs the images, which the attack never has.
        """
        return self.fires(images).sum(0)


@dataclass(eq=False)
class Breach:
    """What a malicious-server attack read off an update.

    Attributes:
        images: ``N x C x H x W`` in [0, 1], one slot per image behind the update
            (``N = update.batch_size``, all participants together after secure aggregation):
            the images read off the block first, then grey (0.5) slots for what did not come
            back.
        recovered: ``N`` booleans: the slot holds an image read off the update (a row hit by one
            image gives it exactly; by several, a blend: only the truth can tell which, see
            :func:`dlgtut.metrics.fraction_exact`).
        status: ``"recovered"`` (every image provably alone in its row: all ``N`` are exact),
            ``"partial"`` (fewer distinct readings than images: some rows caught several),
            ``"noisy"`` (more rows hit than there are images: the update was perturbed, e.g.
            by a defence; the strongest rows were kept) or ``"failed"`` (no row was hit).
        hits: rows (imprint: bins) whose gradient shows at least one image.
        rows: rows of the malicious block.
        seconds: wall-clock time of the attack.
        message: one line saying how the attack went.
        confirmed: ``N`` booleans: the slot's image was read identically off two or more rows
            (trap weights), which a blend of several images almost never is.
    """

    images: Tensor
    recovered: Tensor
    status: BreachStatus
    hits: int
    rows: int
    seconds: float
    message: str
    confirmed: Tensor | None = None

    def __repr__(self) -> str:
        return (f"Breach(batch={self.images.shape[0]}, status={self.status!r}, "
                f"filled={int(self.recovered.sum())}, hits={self.hits}/{self.rows}, "
                f"seconds={self.seconds:.3f})")


def check_rows(rows, what: str = "bins") -> int:
    """``rows`` as an int in ``[1, MAX_ROWS]``; anything else raises a one-line ConfigError."""
    if isinstance(rows, bool) or not isinstance(rows, int):
        raise ConfigError(f"{what} must be an integer, got {rows!r}")
    if rows < 1:
        raise ConfigError(f"{what} must be at least 1, got {rows}")
    if rows > MAX_ROWS:
        raise ConfigError(f"{what} must be at most {MAX_ROWS}, got {rows}")
    return rows


def check_public(public) -> Tensor:
    """The server's public images as a float64 ``P x C x H x W`` batch in [0, 1], P >= 2."""
    if not isinstance(public, Tensor) or public.ndim != 4 or not public.is_floating_point():
        what = tuple(public.shape) if isinstance(public, Tensor) else type(public).__name__
        raise DataError(f"public images must be a float tensor N x C x H x W, got {what}")
    if public.shape[0] < 2:
        raise DataError(f"the server needs at least 2 public images, got {public.shape[0]}")
    if not torch.isfinite(public).all() or public.min() < 0 or public.max() > 1:
        raise DataError("public images must lie in [0, 1]")
    return public.detach().cpu().double()


def insert_block(model: nn.Module, block: MaliciousBlock) -> nn.Sequential:
    """``nn.Sequential(block, model)``, after checking that ``model`` has room for the block.

    The block outputs images of its input shape, so the model must take them: a model that
    cannot (wrong channels, too small for its layers) has no room for the block in front. The
    block joins the model on its device and in its dtype.

    Raises:
        WrongTypeError: ``model`` is not a ``torch.nn.Module``.
        ConfigError: the model cannot take images of the block's shape.
    """
    if not isinstance(model, nn.Module):
        raise WrongTypeError(f"the model must be a torch.nn.Module, got {type(model).__name__}")
    shape = block.input_shape
    params = list(model.parameters())
    dtype = params[0].dtype if params else torch.float32
    device = model_device(model)
    probe = copy.deepcopy(model)  # a dry run must not touch the caller's BatchNorm statistics
    try:
        with torch.no_grad():
            out = probe(torch.zeros(2, *shape, dtype=dtype, device=device))
    except (RuntimeError, ValueError, TypeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"no room for the block: the model cannot take "
                          f"{' x '.join(map(str, shape))} images ({reason})") from None
    if not isinstance(out, Tensor) or out.ndim != 2:
        raise ConfigError("no room for the block: the model must map images to N x K scores")
    return nn.Sequential(block.to(device=device, dtype=dtype), copy.deepcopy(model))


def block_gradient(update: SharedUpdate, server: MaliciousModel, who: str
                   ) -> tuple[Tensor, Tensor]:
    """The gradients of the block's rows and biases in ``update``, in float64.

    Raises:
        WrongTypeError: not a SharedUpdate, or not a MaliciousModel.
        AttackError: the update was not computed on the server's model, or is a weight change
            after several local steps (:meth:`~dlgtut.fl.SharedUpdate.gradient`).
    """
    update = require_update(update, who)
    if not isinstance(server, MaliciousModel):
        raise WrongTypeError(f"{who} takes the server's MaliciousModel (what it sent and kept), "
                             f"got {type(server).__name__}")
    sent = [p.detach() for p in server.model.parameters()]
    got = [p.detach() for p in update.model.parameters()]
    if len(sent) != len(got) or any(a.shape != b.shape for a, b in zip(sent, got, strict=True)) \
            or not torch.equal(sent[0].cpu(), got[0].cpu()) \
            or not torch.equal(sent[1].cpu(), got[1].cpu()):
        raise AttackError(f"{who}: this update was not computed on the server's malicious model")
    grads = update.gradient()
    return grads[0].detach().cpu().double(), grads[1].detach().cpu().double()


def finish_breach(readings: Tensor, update: SharedUpdate, server: MaliciousModel, *, hits: int,
                  noisy: bool, started: float, what: str,
                  confirmed: Tensor | None = None) -> Breach:
    """Pad the readings to one slot per image, clamp them to [0, 1], and say how it went.

    Args:
        readings: ``M x (C H W)`` images read off the block, at most ``N`` of them, best first.
        update: the attacked update (``N = update.batch_size``).
        server: the malicious model.
        hits: rows (bins) hit.
        noisy: more rows were hit than there are images.
        started: ``time.perf_counter()`` when the attack began.
        what: the name of a row in the message ("bin" or "row").
        confirmed: ``M`` booleans for readings confirmed by several rows, or None.
    """
    n = update.batch_size
    shape = server.input_shape
    m = readings.shape[0]
    images = torch.full((n, *shape), BLANK, dtype=torch.float32)
    if m:
        images[:m] = readings.float().clamp(0, 1).reshape(m, *shape)
    recovered = torch.arange(n) < m
    conf = None
    if confirmed is not None:
        conf = torch.zeros(n, dtype=torch.bool)
        conf[:m] = confirmed[:m]
    if m == 0:
        status: BreachStatus = "failed"
        message = f"nothing could be read off the {server.rows} {what}s ({hits} hit)"
    elif noisy:
        status = "noisy"
        message = (f"{hits} of {server.rows} {what}s look hit, more than the {n} images: the "
                   f"update was perturbed; kept the {m} strongest")
    elif m == n and what == "bin":
        status = "recovered"
        message = f"{n} images in {n} distinct bins: every one of them is exact"
    else:
        status = "partial"
        message = f"{m} readings for {n} images from {hits} hit {what}s of {server.rows}"
    seconds = time.perf_counter() - started
    return Breach(images, recovered, status, hits, server.rows, seconds, message, conf)


def ratio_readings(d_weight: Tensor, d_bias: Tensor, hit: Tensor) -> Tensor:
    """``dW_i / db_i`` for the rows in ``hit``: an image for a row that one image activated."""
    return d_weight[hit] / d_bias[hit, None]


def rms_distances(a: Tensor, b: Tensor) -> Tensor:
    """Root-mean-square distance between every row of ``a`` and every row of ``b``, in float64.

    Computed through matrix products in float64, whose rounding (about 1e-8 for images in
    [0, 1]) is far below the distances that separate images.
    """
    a, b = a.double(), b.double()
    d2 = (a.square().sum(1)[:, None] + b.square().sum(1)[None, :] - 2 * a @ b.T).clamp_min(0)
    return (d2 / a.shape[1]).sqrt()



def same_groups(readings: Tensor, tolerance: float) -> Tensor:
    """Group readings that are the same image: a group id per reading (the smallest index).

    Two readings are the same when their RMS distance is below ``tolerance``. Rather than all
    ``M^2`` distances, only pairs whose projections on eight random directions are all within
    reach are compared (a projection cannot move more than the distance), which keeps thousands
    of readings to a fraction of a second.

    Example:
        >>> r = torch.tensor([[0.0, 1.0], [0.5, 0.5], [0.0, 1.0 + 1e-9]])
        >>> same_groups(r, 1e-6).tolist()
        [0, 1, 0]
    """
    m, features = readings.shape
    parent = list(range(m))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if m > 1:
        x = readings.double()
        gen = torch.Generator().manual_seed(0)
        directions = torch.randn(features, 8, generator=gen, dtype=torch.float64)
        proj = x @ (directions / directions.norm(dim=0))  # M x 8, each moves <= the distance
        order = torch.argsort(proj[:, 0])
        proj = proj[order]
        reach = tolerance * math.sqrt(features)
        for offset in range(1, m):
            step = (proj[offset:] - proj[:-offset]).abs()
            if not (step[:, 0] <= reach).any():
                break
            first = torch.nonzero((step <= reach).all(1)).flatten()
            if len(first) == 0:
                continue
            a, b = order[first], order[first + offset]
            near = (x[a] - x[b]).square().mean(1).sqrt() < tolerance
            for i, j in zip(a[near].tolist(), b[near].tolist(), strict=True):
                ri, rj = root(i), root(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    return torch.tensor([root(i) for i in range(m)], dtype=torch.long)
