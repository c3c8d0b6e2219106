r"""Inverting Gradients (Geiping, Bauermeister, Dröge and Moeller, NeurIPS 2020).

DLG matches gradients by their Euclidean distance. Geiping et al. observe that a gradient's
*direction* carries the information about the input, while its magnitude mostly says how wrong
the prediction is, so they match the direction: one minus the cosine similarity of the whole
gradient, all layers at once, plus a total-variation prior that favours natural images,

.. math::
    x'^* = \arg\min_{x' \in [0, 1]^n} \; 1 - \frac{\langle \nabla_W \ell(x', y), \nabla W \rangle}
    {\lVert \nabla_W \ell(x', y) \rVert \, \lVert \nabla W \rVert} + \alpha\, \mathrm{TV}(x') .

They minimise it with Adam on the *sign* of the image gradient (robust to the objective's
badly scaled gradients), keep the pixels in range after every step, decay the step size at
3/8, 5/8 and 7/8 of the run, and start several times from random images, keeping the trial
whose gradient matches best. Labels are read off the gradient as in iDLG. Because the
objective needs only gradients *through* the network, it works on ReLU networks and trained
models where DLG's L-BFGS stalls.

The same objective inverts FedAvg: when a participant takes ``K`` local SGD steps before
sharing its weight change, :func:`inverting_gradients` unrolls those ``K`` steps on the dummy
batch (with the learning rate and minibatch schedule the update declares) and matches the
resulting weight change instead of a gradient.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from torch.func import functional_call
from tqdm.auto import tqdm

from ...checks import choice, flag, instance, integer, number, replace, tensor
from ...checks import seed as check_seed
from ...errors import AttackError, ConfigError, DataError
from ...fl import SharedUpdate, as_labels, one_hot, require_update, soft_cross_entropy
from ...threads import threads_for
from ..result import Attempt, Reconstruction, Snapshot, Status
from .identifiability import UNINFORMATIVE, identifiability, input_sensitivity
from .labels import LabelGuess, analytic_labels

__all__ = ["IGConfig", "inverting_gradients", "total_variation", "cosine_distance"]


@dataclass(frozen=True)
class IGConfig:
    """Settings of Inverting Gradients; the defaults suit 32 x 32 images on a CPU.

    The defaults are a **reduced budget**, not the paper's: 1,500 steps and 2 trials from
    uniform noise with a total-variation weight of 1e-2, against the reference code's 24,000
    steps from Gaussian noise (:meth:`paper`). A run at the defaults that does not recover an
    image says little about what Inverting Gradients can do; every place the book uses a
    reduced budget says so.

    Attributes:
        iterations: Adam steps per trial (the reference code runs 24,000).
        lr: Adam's step size on the signed gradient (pixels in [0, 1]).
        tv_weight: weight of the total-variation prior (0 turns it off).
        trials: random starts; the trial with the smallest gradient distance is returned.
        init: start of each trial: ``"rand"`` (uniform in [0, 1]), ``"randn"`` (0.5 plus
            normal noise of standard deviation ``noise_std``, clamped) or ``"grey"``.
        noise_std: the standard deviation of the ``"randn"`` start (in pixels).
        signed: step on the sign of the image gradient (the paper's choice).
        boxed: clamp the pixels to [0, 1] after every step.
        decay: divide the step size by 10 at 3/8, 5/8 and 7/8 of the iterations.
        stop_distance: stop a trial when the cosine distance falls below this (None: never).
        snapshot_every: record the dummy batch every this many steps (0 for none).
        time_limit: stop after this many seconds in all (None: no limit).
        progress: show a tqdm progress bar.
        seed: seed of the random starts.
        repeated_labels: let the batch repeat labels (label counts from the bias gradient);
            None allows repeats only when the batch is larger than the number of classes
            (see :func:`~dlgtut.attacks.infer_labels`).
    """

    iterations: int = 1500
    lr: float = 0.1
    tv_weight: float = 1e-2
    trials: int = 2
    init: Literal["rand", "randn", "grey"] = "rand"
    noise_std: float = 1.0
    signed: bool = True
    boxed: bool = True
    decay: bool = True
    stop_distance: float | None = 1e-7
    snapshot_every: int = 100
    time_limit: float | None = None
    progress: bool = True
    seed: int | None = 0
    repeated_labels: bool | None = None

    def __post_init__(self) -> None:
        for name in ("iterations", "trials"):
            integer(getattr(self, name), name)
        if self.iterations < 1 or self.trials < 1:
            raise ConfigError(
                f"iterations and trials must be at least 1, got {self.iterations}, {self.trials}"
            )
        integer(self.snapshot_every, "snapshot_every", low=0)
        number(self.lr, "lr", low=0, low_open=True)
        number(self.tv_weight, "tv_weight", low=0)
        choice(self.init, ("rand", "randn", "grey"), "init")
        number(self.noise_std, "noise_std", low=0, low_open=True, high=1e3)
        if self.stop_distance is not None:
            number(self.stop_distance, "stop_distance", low=0)
        if self.time_limit is not None:
            number(self.time_limit, "time_limit", low=0, low_open=True)
        for name in ("signed", "boxed", "decay", "progress"):
            flag(getattr(self, name), name)
        if self.seed is not None:
            check_seed(self.seed)
        if self.repeated_labels is not None:
            flag(self.repeated_labels, "repeated_labels")

    def replace(self, **changes) -> IGConfig:
        """A copy with some fields changed (an unknown field is a ConfigError)."""
        return replace(self, changes)

    @classmethod
    def paper(cls, *, std: float = 0.25, **changes) -> IGConfig:
        """The reference implementation's settings (github.com/JonasGeiping/invertinggradients,
        ``reconstruct_image.py`` and ``inversefed/options.py`` defaults), carried into pixels:
        24,000 signed Adam steps, box constraints, the step size divided by 10 at 3/8, 5/8 and
        7/8 of the run, one trial from Gaussian noise, a total-variation prior, and no early
        stop. (Its ImageNet examples use 8 trials and a TV weight of 1e-1.)

        The reference optimises the *normalised* image, (x - mean) / std, with step size 0.1,
        a start drawn from N(0, 1) there and a TV weight of 1e-4 on it. dlgtut works in pixels,
        so with the dataset's per-pixel ``std`` (CIFAR-10's is about 0.25, the default) those
        become a step of 0.1 * std, a start of 0.5 + std * N(0, 1) and a TV weight of
        1e-4 / std. (The reference's start is centred on the dataset's mean, here mid-grey.)

        Example:
            >>> cfg = IGConfig.paper()
            >>> cfg.iterations, cfg.lr, cfg.noise_std, cfg.tv_weight
            (24000, 0.025, 0.25, 0.0004)
        """
        number(std, "std", low=0, low_open=True, high=1)
        settings = dict(iterations=24_000, lr=0.1 * std, tv_weight=1e-4 / std, trials=1,
                        init="randn", noise_std=std, signed=True, boxed=True, decay=True,
                        stop_distance=None)
        return cls(**{**settings, **changes})


def total_variation(x: Tensor) -> Tensor:
    """Mean absolute difference between neighbouring pixels, across and down.

    Raises:
        DataError: ``x`` is not a float tensor of at least two dimensions and 2 x 2 pixels
            (smaller images have no neighbours, and their mean difference was NaN).

    Example:
        >>> total_variation(torch.zeros(1, 1, 4, 4)).item()
        0.0
        >>> total_variation(torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])).item()
        1.0
    """
    tensor(x, "x", min_ndim=2, floating=True)
    if x.shape[-1] < 2 or x.shape[-2] < 2:
        raise DataError(f"total variation needs images of 2 x 2 pixels at least, got "
                        f"{tuple(x.shape[-2:])}")
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean()
    return dx + dy


def cosine_distance(a: Sequence[Tensor], b: Sequence[Tensor], *,
                    dtype: torch.dtype | None = None) -> Tensor:
    """One minus the cosine similarity of two lists of tensors taken as one long vector.

    ``dtype`` (e.g. ``torch.float64``) sums the products in that precision. In float32, one
    minus a cosine near 1 cannot fall below about 1e-7 (the rounding of the cosine itself), so
    the attack measures the distance it reports and stops on in float64.

    Raises:
        DataError: the two lists differ in length or in a tensor's shape.

    Example:
        >>> cosine_distance([torch.tensor([1.0, 0.0])], [torch.tensor([2.0, 0.0])]).item()
        0.0
    """
    a, b = list(a), list(b)
    if not a or len(a) != len(b) or any(
            not isinstance(x, Tensor) or not isinstance(y, Tensor) or x.shape != y.shape
            for x, y in zip(a, b, strict=True)):
        raise DataError("cosine_distance needs two non-empty lists of tensors of the same "
                        "shapes")
    if dtype is not None:
        a, b = [x.to(dtype) for x in a], [y.to(dtype) for y in b]
    dot = sum((x * y).sum() for x, y in zip(a, b, strict=True))
    na = sum((x * x).sum() for x in a)
    nb = sum((y * y).sum() for y in b)
    return 1 - dot / (na.sqrt() * torch.as_tensor(nb).sqrt() + 1e-30)


class _Matcher:
    """What the attacker computes for a dummy batch: its gradient, or its unrolled FedAvg change."""

    def __init__(self, update: SharedUpdate) -> None:
        self.model = copy.deepcopy(update.model).float().eval()
        self.device = next(self.model.parameters()).device  # the attack runs where the model is
        self.names = [n for n, _ in self.model.named_parameters()]
        self.params = [p.detach().clone().requires_grad_(True) for p in self.model.parameters()]
        self.buffers = dict(self.model.named_buffers())
        target = [t.detach().to(self.device, torch.float32) for t in update.tensors]
        if len(target) != len(self.params) or any(
            t.shape != p.shape for t, p in zip(target, self.params, strict=True)
        ):
            raise AttackError("the shared update does not match the public model's parameters")
        if not all(torch.isfinite(t).all() for t in target):
            raise AttackError("the shared update contains NaN or inf")
        if sum(float((t.double() ** 2).sum()) for t in target) == 0:
            raise AttackError("the shared update is all zeros: there is nothing to invert")
        self.target = target
        self.unroll = update.kind == "weight_delta"
        if self.unroll:
            if not update.lr or not update.local_steps:
                raise AttackError("a weight-change update must state its lr and local_steps")
            self.steps = int(update.local_steps)
            self.lr = float(update.lr)
            self.minibatch = int(update.meta.get("minibatch_size") or update.batch_size)
        self.batch_size = update.batch_size

    def _loss(self, params: Sequence[Tensor], x: Tensor, probs: Tensor) -> Tensor:
        state = {**dict(zip(self.names, params, strict=True)), **self.buffers}
        return soft_cross_entropy(functional_call(self.model, state, (x,)), probs)

    def produced(self, x: Tensor, probs: Tensor) -> list[Tensor]:
        """The update the dummy batch would produce, differentiable in ``x``."""
        if not self.unroll:
            return list(torch.autograd.grad(self._loss(self.params, x, probs), self.params,
                                            create_graph=True))
        # The participant's FedAvg schedule (Participant.fedavg): step k uses the k-th slice
        # of `minibatch` examples, cycling through the batch in order.
        params = list(self.params)
        n, size = self.batch_size, max(1, min(self.minibatch, self.batch_size))
        for k in range(self.steps):
            idx = torch.arange(k * size, k * size + size, device=x.device) % n
            grads = torch.autograd.grad(self._loss(params, x[idx], probs[idx]), params,
                                        create_graph=True)
            params = [p - self.lr * g for p, g in zip(params, grads, strict=True)]
        return [p - p0 for p, p0 in zip(params, self.params, strict=True)]


def _labels(update: SharedUpdate, repeated: bool | None) -> LabelGuess:
    """Labels read off the update (for K local steps, off the mean step ``-delta / (K lr)``)."""
    if update.kind != "weight_delta" or update.local_steps == 1:
        return analytic_labels(update, repeated=repeated)
    steps = update.local_steps or 1
    pseudo = dataclasses.replace(
        update, kind="gradient", local_steps=None, lr=None,
        tensors=tuple(-t / (steps * update.lr) for t in update.tensors),
    )
    return analytic_labels(pseudo, repeated=repeated)


def _start(cfg: IGConfig, shape: Sequence[int], gen: torch.Generator | None) -> Tensor:
    if cfg.init == "rand":
        return torch.rand(shape, generator=gen)
    noise = torch.randn(shape, generator=gen)
    return (0.5 + (cfg.noise_std if cfg.init == "randn" else 1e-3) * noise).clamp(0, 1)


def _trial(cfg, matcher, x, probs, bar, deadline):
    x = x.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=cfg.lr)
    milestones = [int(cfg.iterations * f) for f in (3 / 8, 5 / 8, 7 / 8)] if cfg.decay else []
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    history = [Snapshot(0, x.detach().clamp(0, 1).cpu(), float("nan"))]
    distances: list[float] = []
    best = (math.inf, x.detach().clone())
    status: Status = "max_iterations"
    message = ""
    step = 0
    for step in range(1, cfg.iterations + 1):
        opt.zero_grad()
        produced = matcher.produced(x, probs)
        dist = cosine_distance(produced, matcher.target)
        objective = dist + cfg.tv_weight * total_variation(x) if cfg.tv_weight else dist
        (grad,) = torch.autograd.grad(objective, [x])
        with torch.no_grad():  # the distance reported and stopped on, free of float32's floor
            d = float(cosine_distance([g.detach() for g in produced], matcher.target,
                                      dtype=torch.float64))
        if not (math.isfinite(d) and torch.isfinite(grad).all()):
            status = "diverged"
            message = f"the distance or its gradient became NaN/inf at step {step}"
            break
        if d < best[0]:
            best = (d, x.detach().clone())
        x.grad = grad.sign() if cfg.signed else grad
        opt.step()
        sched.step()
        if cfg.boxed:
            with torch.no_grad():
                x.clamp_(0, 1)
        distances.append(d)
        bar.update(1)
        bar.set_postfix(distance=f"{d:.3g}", refresh=False)
        if cfg.snapshot_every and step % cfg.snapshot_every == 0:
            history.append(Snapshot(step, x.detach().clamp(0, 1).cpu(), d))
        if cfg.stop_distance is not None and d < cfg.stop_distance:
            status, message = "converged", f"cosine distance {d:.3g} < {cfg.stop_distance:g}"
            break
        if deadline is not None and time.perf_counter() > deadline:
            message = f"time limit reached at step {step}"
            break
    if not message:
        message = f"ran all {cfg.iterations} steps; best cosine distance {best[0]:.3g}"
    return Attempt(status, message, step, best[0], best[1], None, history, distances)


def inverting_gradients(
    update: SharedUpdate,
    config: IGConfig | None = None,
    *,
    labels: Tensor | None = None,
    **overrides,
) -> Reconstruction:
    """Reconstruct a participant's batch from its update with Inverting Gradients.

    Args:
        update: what the attacker received: a FedSGD gradient, or a FedAvg weight change after
            any number of local steps (which the attack unrolls).
        config: attack settings (default :class:`IGConfig`); ``overrides`` change fields.
        labels: the batch's labels if the attacker knows them; by default they are read off
            the update (iDLG and its batch rule).

    Returns:
        A :class:`~dlgtut.attacks.result.Reconstruction`: the best trial's images, the labels,
        and its status (``"converged"`` only if the cosine distance fell below
        ``stop_distance``; ``"diverged"`` if every trial hit NaN).

    Raises:
        WrongTypeError: ``update`` is not a SharedUpdate (the private batch, say), or
            ``config`` not an IGConfig.
        AttackError: an all-zero, non-finite or mismatched update.
        ConfigError: invalid settings (an unknown override included), or labels that do not
            fit the batch.

    Example:
        >>> from dlgtut.models import LeNet
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> net = LeNet(in_channels=1, num_classes=10, image_size=8, activation="relu", seed=0)
        >>> secret = PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([4]))
        >>> rec = inverting_gradients(Participant(net).fedsgd(secret), iterations=200,
        ...                           trials=1, progress=False)
        >>> rec.labels.tolist(), rec.distance < 0.1
        ([4], True)
    """
    update = require_update(update, "inverting_gradients")
    cfg = IGConfig() if config is None else instance(config, IGConfig, "config")
    if overrides:
        cfg = cfg.replace(**overrides)
    matcher = _Matcher(update)
    warnings: list[str] = []
    if labels is None:
        guess = _labels(update, cfg.repeated_labels)
        labels = guess.labels
        warnings += [guess.warning] if guess.warning else []
    labels = as_labels(labels)
    if len(labels) != update.batch_size:
        raise ConfigError(f"{len(labels)} labels for a batch of {update.batch_size}")
    if labels.min() < 0 or labels.max() >= update.num_classes:
        raise ConfigError(f"labels must lie in [0, {update.num_classes - 1}]")
    probs = one_hot(labels, update.num_classes).to(matcher.device, torch.float32)
    shape = (update.batch_size, *update.input_shape)
    sensitivity = input_sensitivity(update.model, update.input_shape, update.batch_size,
                                    update.num_classes, labels)
    if sensitivity < UNINFORMATIVE:
        warnings.append(f"the gradient barely depends on the input (a grey and a random batch "
                        f"give gradients {sensitivity:.1e} apart, relative): no image can be "
                        "read from it")
    gen = torch.Generator().manual_seed(cfg.seed) if cfg.seed is not None else None
    started = time.perf_counter()
    deadline = None if cfg.time_limit is None else started + cfg.time_limit
    runs: list[Attempt] = []
    with threads_for(update.model), tqdm(total=cfg.iterations * cfg.trials, desc="IG",
                                         disable=not cfg.progress, leave=False) as bar:
        for _ in range(cfg.trials):
            start = _start(cfg, shape, gen).to(matcher.device)  # drawn on the CPU: same seeds
            runs.append(_trial(cfg, matcher, start, probs, bar, deadline))
            if runs[-1].status == "converged" or (deadline and time.perf_counter() > deadline):
                break
    best = Attempt.best(runs)
    status, message, steps, x, distance = (best.status, best.message, best.steps, best.found,
                                           best.distance)
    history, distances = best.history, best.distances
    trial = len(runs) - 1
    if cfg.trials > 1:
        message += f" (best of {len(runs)} trials)"
    count = identifiability(update)
    identified = count.possible and sensitivity >= UNINFORMATIVE
    if sensitivity < UNINFORMATIVE:
        message += "; but the gradient barely depends on the input"
    elif not count.possible:
        message += f"; but {count}, so the prior alone decides between the batches that fit"
    if status == "converged" and sensitivity < UNINFORMATIVE:
        status = "unidentified"
    return Reconstruction(
        images=x.detach().float().clamp(0, 1).cpu(),
        labels=labels.cpu().clone(),
        status=status,
        iterations=steps,
        seconds=time.perf_counter() - started,
        distance=distance,
        restarts=trial,
        history=history,
        distances=distances,
        message=message,
        identifiable=identified,
        warnings=tuple(warnings),
    )
