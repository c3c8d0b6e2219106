r"""Deep Leakage from Gradients (Zhu, Liu and Han, NeurIPS 2019), with iDLG labels, made faster.

The attacker holds the public model :math:`F(\cdot, W)` and a participant's shared gradient
:math:`\nabla W`. It treats a dummy batch :math:`x'` (and, in the paper, a dummy soft label
:math:`y'`) as the unknowns and makes their gradient match the shared one:

.. math::
    x'^*, y'^* = \arg\min_{x', y'} \left\lVert \frac{\partial \ell(F(x', W), y')}{\partial W}
    - \nabla W \right\rVert^2 .

:func:`dlg` runs that optimisation on a :class:`~dlgtut.fl.SharedUpdate` and nothing else.
:meth:`DLGConfig.paper` reproduces the original code (random normal start, joint label, torch's
L-BFGS, plain squared distance, float32). The default configuration is what this project found
to work better on real images: the label read off the gradient (iDLG; the batch rule for
distinct labels), a mid-grey start, the distance normalised by the target's squared norm,
float64 arithmetic, and L-BFGS with a long history (:class:`~dlgtut.optim.CompactLBFGS`) and a
strong Wolfe line search. Divergence (NaN, inf, exploding pixels or distance) and stalls are
detected, reported in :attr:`Reconstruction.status`, and optionally answered with a restart.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from ...checks import function, instance
from ...errors import AttackError, ConfigError, DataError
from ...fl import SharedUpdate, one_hot, require_update, soft_cross_entropy
from ...models import paper_init_
from ...optim import CompactLBFGS
from ...threads import threads_for
from ..result import Attempt, Reconstruction, Snapshot, Status
from ..stopping import StopRule
from .closed_form import rgap_images, rgap_supported
from .dlg_config import DLGConfig  # re-exported: part of this module's public names
from .identifiability import (
    AGREEMENT_PSNR,
    UNINFORMATIVE,
    agreement,
    identifiability,
    input_sensitivity,
)
from .labels import analytic_labels

__all__ = ["DLGConfig", "dlg", "gradient_distance"]

Callback = Callable[[int, Tensor, float], bool | None]


def gradient_distance(
    dummy: Sequence[Tensor],
    target: Sequence[Tensor],
    kind: str = "l2",
    target_sq_norm: Tensor | float | None = None,
) -> Tensor:
    """Distance between two gradients given layer by layer.

    ``"l2"``: the sum over layers of squared differences (divided by ``target_sq_norm`` when
    given). ``"cosine"``: one minus the cosine similarity of the two gradients flattened whole.

    Raises:
        ConfigError: an unknown ``kind``.
        DataError: the two gradients differ in their number of layers or in a layer's shape.

    Example:
        >>> a, b = [torch.tensor([1.0, 0.0])], [torch.tensor([0.0, 1.0])]
        >>> gradient_distance(a, b).item(), gradient_distance(a, b, "cosine").item()
        (2.0, 1.0)
    """
    if not isinstance(kind, str) or kind not in ("l2", "cosine"):
        raise ConfigError(f"unknown distance {kind!r}")
    dummy, target = list(dummy), list(target)
    if len(dummy) != len(target) or any(
            not isinstance(x, Tensor) or not isinstance(y, Tensor) or x.shape != y.shape
            for x, y in zip(dummy, target, strict=True)):
        raise DataError("the two gradients must be tensors of the same shapes, layer by layer")
    if kind == "l2":
        # The accumulation order is the original code's, so paper runs match it bit for bit.
        total = 0
        for gx, gy in zip(dummy, target, strict=True):
            total += ((gx - gy) ** 2).sum()
        return total if target_sq_norm is None else total / target_sq_norm
    if kind == "cosine":
        dot = sum((gx * gy).sum() for gx, gy in zip(dummy, target, strict=True))
        nx = sum((gx * gx).sum() for gx in dummy)
        ny = sum((gy * gy).sum() for gy in target)
        return 1 - dot / (nx.sqrt() * torch.as_tensor(ny).sqrt() + 1e-30)
    raise ConfigError(f"unknown distance {kind!r}")


class _Problem:
    """The attacker's optimisation problem, built from a shared update only."""

    def __init__(self, update: SharedUpdate, cfg: DLGConfig) -> None:
        self.cfg = cfg
        self.dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
        self.model = copy.deepcopy(update.model).to(self.dtype)
        self.params = list(self.model.parameters())
        self.device = self.params[0].device  # the attack runs where the model lives
        for p in self.params:
            p.requires_grad_(True)
        target = update.gradient()
        if len(target) != len(self.params) or any(
            t.shape != p.shape for t, p in zip(target, self.params, strict=False)
        ):
            raise AttackError("the shared update does not match the public model's parameters")
        self.target = [t.detach().to(self.device, self.dtype) for t in target]
        sq = sum(float((t.double() ** 2).sum()) for t in self.target)
        if not math.isfinite(sq):
            raise AttackError("the shared update contains NaN or inf")
        if sq == 0:
            raise AttackError("the shared update is all zeros: there is nothing to invert")
        self.scale = sq if (cfg.normalize and cfg.distance == "l2") else None
        self.shape = (update.batch_size, *update.input_shape)
        self.num_classes = update.num_classes
        self.labels: Tensor | None = None
        self.target_probs: Tensor | None = None
        self.warnings: list[str] = []
        if cfg.labels == "analytic":
            guess = analytic_labels(update)
            self.labels = guess.labels
            self.target_probs = one_hot(self.labels, self.num_classes).to(self.device,
                                                                          self.dtype)
            if guess.warning:
                self.warnings.append(guess.warning)
        self.sensitivity = input_sensitivity(self.model, update.input_shape, self.shape[0],
                                             self.num_classes, self.labels)
        if self.sensitivity < UNINFORMATIVE:
            self.warnings.append(
                f"the gradient barely depends on the input (a grey and a random batch give "
                f"gradients {self.sensitivity:.1e} apart, relative): no image can be read "
                "from it")

    def dummy_target(self, dummy_label: Tensor | None) -> Tensor:
        if dummy_label is None:
            assert self.target_probs is not None
            return self.target_probs
        return F.softmax(dummy_label, dim=-1)

    def objective(self, x: Tensor, dummy_label: Tensor | None, create_graph: bool) -> Tensor:
        loss = soft_cross_entropy(self.model(x), self.dummy_target(dummy_label))
        grads = torch.autograd.grad(loss, self.params, create_graph=create_graph)
        return gradient_distance(grads, self.target, self.cfg.distance, self.scale)

    def relative(self, value: float) -> float:
        """The distance on the scale the stop rule uses (normalised L2, or cosine)."""
        if self.cfg.distance == "l2" and self.scale is None:
            return value / sum(float((t.double() ** 2).sum()) for t in self.target)
        return value


def _draw(kind: str, shape: Sequence[int], gen: torch.Generator | None, dtype,
          device: torch.device | None = None) -> Tensor:
    """A start drawn on the CPU (so a seed gives the same numbers on any device), then moved."""
    if kind == "randn":
        x = torch.randn(shape, generator=gen) if gen is not None else torch.randn(shape)
    elif kind == "rand":
        x = torch.rand(shape, generator=gen) if gen is not None else torch.rand(shape)
    else:
        noise = torch.randn(shape, generator=gen) if gen is not None else torch.randn(shape)
        x = 0.5 + 1e-3 * noise
    return x.to(device=device, dtype=dtype)


def _optimizer(cfg: DLGConfig, variables: list[Tensor]) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(variables, lr=cfg.lr or 0.1)
    if cfg.optimizer == "torch-lbfgs":
        return torch.optim.LBFGS(
            variables, lr=cfg.lr or 1.0, max_iter=cfg.max_iter, history_size=cfg.history_size
        )
    return CompactLBFGS(
        variables, lr=cfg.lr or 1.0, max_iter=cfg.max_iter, history_size=cfg.history_size,
        tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe",
    )


def _run_once(
    problem: _Problem,
    gen: torch.Generator | None,
    callback: Callback | None,
    bar,
    deadline: float | None,
    start_iteration: int,
    init: str | None = None,
    iterations: int | None = None,
    start: Tensor | None = None,
) -> Attempt:
    cfg = problem.cfg
    iterations = iterations or cfg.iterations
    kind = init or cfg.init
    if start is not None:
        x = start.detach().to(problem.device, problem.dtype).clone().requires_grad_(True)
    else:
        kind = "grey" if kind == "analytic" else kind
        x = _draw(kind, problem.shape, gen, problem.dtype, problem.device).requires_grad_(True)
    dummy_label = None
    if cfg.labels == "joint":
        dummy_label = _draw("randn", (problem.shape[0], problem.num_classes), gen, problem.dtype,
                            problem.device)
        dummy_label.requires_grad_(True)
    variables = [x] if dummy_label is None else [x, dummy_label]
    opt = _optimizer(cfg, variables)

    def closure() -> Tensor:
        opt.zero_grad()
        d = problem.objective(x, dummy_label, create_graph=True)
        d.backward(inputs=variables)
        return d

    def current() -> float:
        if isinstance(opt, CompactLBFGS) and "loss" in opt.state:
            return float(opt.state["loss"])
        with torch.enable_grad():
            return float(problem.objective(x.detach(), dummy_label, create_graph=False))

    d0 = current()
    history = [Snapshot(0, x.detach().clamp(0, 1).float().cpu(), d0)]
    best = (d0, x.detach().clone(), None if dummy_label is None else dummy_label.detach().clone())
    rule = StopRule(cfg.stop_distance, cfg.stall_steps, deadline=deadline)
    status: Status = "max_iterations"
    message = ""
    step = 0
    if cfg.stop_distance is not None and problem.relative(d0) < cfg.stop_distance:
        # A start that already matches (a closed-form estimate) needs no step at all.
        status = "converged"
        message = (f"gradient distance {problem.relative(d0):.3g} < {cfg.stop_distance:g} "
                   "at the start")
        iterations = 0
    for step in range(1, iterations + 1):
        opt.step(closure)
        d = current()
        bar.update(1)
        bar.set_postfix(distance=f"{d:.3g}", refresh=False)
        xd = x.detach()
        if not (math.isfinite(d) and torch.isfinite(xd).all()):
            rule.distances.append(d)
            status, message = "diverged", f"the distance or the dummy became NaN/inf at step {step}"
            break
        peak = float(xd.abs().max())
        if peak > cfg.image_bound:
            rule.distances.append(d)
            status, message = "diverged", f"dummy pixels exploded to {peak:.3g} at step {step}"
            break
        if d > cfg.explode_factor * max(d0, 1e-30):
            rule.distances.append(d)
            status, message = "diverged", f"the distance exploded from {d0:.3g} to {d:.3g}"
            break
        if d < best[0]:
            lab = None if dummy_label is None else dummy_label.detach().clone()
            best = (d, xd.clone(), lab)
        if cfg.snapshot_every and step % cfg.snapshot_every == 0:
            history.append(Snapshot(step, xd.clamp(0, 1).float().cpu(), d))
        if callback is not None and callback(start_iteration + step, xd, d):
            rule.distances.append(d)
            status, message = "max_iterations", f"stopped by the callback at step {step}"
            break
        ended = rule.check(step, d, problem.relative(d) if cfg.stop_distance is not None else None)
        if ended is not None:
            status, message = ended
            break
    if status == "max_iterations" and not message:
        message = StopRule.exhausted(iterations, best[0])
    distances = rule.distances
    if cfg.snapshot_every and history[-1].iteration != step and math.isfinite(best[0]):
        history.append(Snapshot(step, best[1].clamp(0, 1).float().cpu(), best[0]))
    return Attempt(status, message, step, best[0], best[1], best[2], history, distances)


def dlg(
    update: SharedUpdate,
    config: DLGConfig | None = None,
    *,
    callback: Callback | None = None,
    **overrides,
) -> Reconstruction:
    """Reconstruct a participant's batch and labels from its shared update.

    Args:
        update: what the attacker received: the shared gradient (or a one-step FedAvg
            update), the public model and the batch size. Never the private batch.
        config: attack settings (default :class:`DLGConfig`); ``overrides`` change fields.
        callback: called as ``callback(iteration, dummy_images, distance)`` after every step;
            return True to stop. (Benchmarks use it to time the first good reconstruction.)

    Returns:
        A :class:`~dlgtut.attacks.result.Reconstruction`; check ``status`` before trusting it.

    Raises:
        WrongTypeError: ``update`` is not a SharedUpdate (the private batch, say), ``config``
            is not a DLGConfig, or ``callback`` cannot be called.
        AttackError: if the update cannot be attacked (all zeros, NaN, mismatched model, or a
            multi-step FedAvg update).
        ConfigError: for invalid settings (an unknown override included).

    Example:
        >>> from dlgtut.models import LeNet
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> net = LeNet(in_channels=1, num_classes=10, image_size=8, seed=0)
        >>> secret = PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([4]))
        >>> rec = dlg(Participant(net).fedsgd(secret), iterations=50, progress=False)
        >>> rec.labels.tolist(), rec.status
        ([4], 'converged')
    """
    update = require_update(update, "dlg")
    cfg = DLGConfig() if config is None else instance(config, DLGConfig, "config")
    if overrides:
        cfg = cfg.replace(**overrides)
    function(callback, "callback")
    with threads_for(update.model):
        return _attack(update, cfg, callback)


def _analytic_start(problem: _Problem, update: SharedUpdate) -> tuple[Tensor | None, str]:
    """R-GAP's closed-form estimate, if it applies and matches the gradient better than grey."""
    if not rgap_supported(update):
        why = (f"a batch of {update.batch_size}" if update.batch_size > 1
               else "a model it cannot invert layer by layer")
        return None, f"started from grey (no closed form for {why})"
    try:
        estimate = rgap_images(update).clamp(0, 1)
    except AttackError as err:
        return None, f"started from grey (the closed form failed: {err})"
    estimate = estimate.to(problem.device, problem.dtype)
    grey = torch.full_like(estimate, 0.5)
    with torch.enable_grad():
        ours = float(problem.objective(estimate, None, create_graph=False))
        theirs = float(problem.objective(grey, None, create_graph=False))
    if not ours < theirs:
        return None, "started from grey (the closed-form estimate matched the gradient worse)"
    return estimate, f"started from the closed-form estimate (R-GAP; distance {ours:.2g})"


def _attack(update: SharedUpdate, cfg: DLGConfig, callback: Callback | None) -> Reconstruction:
    problem = _Problem(update, cfg)
    gen = torch.Generator().manual_seed(cfg.seed) if cfg.seed is not None else None
    if gen is not None and cfg.after_paper_init:  # where the original's stream stands
        paper_init_(copy.deepcopy(update.model).cpu().float(), generator=gen)
    started = time.perf_counter()
    deadline = None if cfg.time_limit is None else started + cfg.time_limit
    start, how = None, ""
    if cfg.init == "analytic":
        if cfg.labels != "analytic":
            how = "started from grey (the closed form needs the analytic label)"
        else:
            start, how = _analytic_start(problem, update)
    total_steps = 0
    runs: list[Attempt] = []
    with tqdm(total=cfg.iterations, desc="DLG", disable=not cfg.progress, leave=False) as bar:
        for attempt in range(cfg.restarts + 1):
            bar.reset(total=cfg.iterations)
            runs.append(_run_once(problem, gen, callback, bar, deadline, total_steps,
                                  start=start if attempt == 0 else None))
            total_steps += runs[-1].steps
            if runs[-1].status not in ("diverged", "stalled") or attempt == cfg.restarts:
                break
            if deadline is not None and time.perf_counter() > deadline:
                break
    restarts = len(runs) - 1
    kept = Attempt.best(runs)  # a restart that did worse does not replace a better run
    status, message, steps = kept.status, kept.message, kept.steps
    x, dummy_label, distance = kept.found, kept.label, kept.distance
    history, distances = kept.history, kept.distances
    if how:
        message = f"{how}; {message}"
    if restarts:
        which = runs.index(kept) + 1
        message += (f" (run {which} of {len(runs)}, after {restarts} restart"
                    f"{'s' if restarts > 1 else ''}: the best)")
    count = identifiability(update)
    verify = cfg.verify_starts if cfg.verify_starts is not None else int(update.batch_size > 1)
    doubt = None  # why the batch is not identified, when it is not
    if problem.sensitivity < UNINFORMATIVE:
        doubt = "the gradient barely depends on the input"
    elif not count.possible:
        doubt = str(count)
    elif status == "converged" and verify:
        # Another start gets twice the steps the first one needed (at least 50): if it matches
        # the gradient too, the two must agree; if it does not, the check proves nothing.
        budget = min(cfg.iterations, max(2 * steps, 50))
        with tqdm(total=budget * verify, desc="DLG check", disable=not cfg.progress,
                  leave=False) as bar:
            agreed = []
            for _ in range(verify):
                other = _run_once(problem, gen, None, bar, deadline, total_steps, init="rand",
                                  iterations=budget)
                total_steps += other.steps
                if other.status != "converged":
                    continue
                worst = agreement(other.found.float().clamp(0, 1), x.float().clamp(0, 1))
                if worst < AGREEMENT_PSNR:
                    doubt = (f"another start matched the gradient as well "
                             f"({other.distance:.2g}) with other images (down to {worst:.1f} dB "
                             "PSNR between the two): the gradient does not single out one batch")
                    break
                agreed.append(worst)
        if doubt is None:
            message += (f"; {len(agreed)} other start(s) agreed (>= {min(agreed):.0f} dB)"
                        if agreed else f"; the check from {verify} other start(s) was "
                        f"inconclusive (none matched the gradient within {budget} steps)")
    if doubt is not None and status == "converged":
        status, message = "unidentified", f"the gradient was matched ({message}), but {doubt}"
    elif doubt is not None:
        message += f"; and {doubt}"
    label_probs = None
    if dummy_label is not None:
        label_probs = F.softmax(dummy_label.float(), dim=-1).cpu()
        labels = label_probs.argmax(dim=-1)
    else:
        assert problem.labels is not None
        labels = problem.labels.clone()
    return Reconstruction(
        images=x.detach().float().clamp(0, 1).cpu(),
        labels=labels,
        status=status,
        iterations=steps,
        seconds=time.perf_counter() - started,
        distance=distance,
        restarts=restarts,
        history=history,
        distances=distances,
        label_probs=label_probs,
        message=message,
        identifiable=doubt is None,
        warnings=tuple(problem.warnings),
    )
