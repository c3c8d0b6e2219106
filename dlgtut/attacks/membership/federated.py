r"""Membership inference from what federated learning shares.

Two attackers, two observations (Melis et al. 2019 name both):

* **A participant** receives the global model of every round. It cannot query the others'
  data, but it can follow each candidate's loss across the rounds: members are fitted a little
  in every round they take part in, so the model's confidence in them rises further than in a
  comparable non-member. :func:`global_model_confidences` computes the trajectory from the
  global models (``TrainingLog.states``), and :func:`confidence_gain` scores the rise between
  two rounds. The earlier global model serves as a reference for how hard the candidate is,
  which the final model alone cannot tell.
* **The server** (or a neighbour) receives one participant's
  :class:`~dlgtut.fl.SharedUpdate`. A FedSGD update is the mean of the batch's per-example
  gradients, so each member's own gradient points the way the update does:
  :func:`gradient_alignment` is the cosine between a candidate's gradient at the round's
  model and the update. :func:`update_loss_change` asks the same question of the loss: how
  much does applying the update lower the candidate's loss?

Each function takes only what its attacker sees (global models, or an update and its public
model) and candidate records; which candidates are members is ground truth for the metrics.
Each runs on the device of the model it is given and returns its scores as numpy arrays.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...checks import array, as_model_input, integer, model_output, model_parameters, number
from ...checks import tensor as check_tensor
from ...errors import ConfigError, DataError, WrongTypeError
from ...fl import SharedUpdate, as_labels, require_update
from ...training import predict_logits
from .scores import example_loss, logit_confidence

__all__ = [
    "global_model_confidences",
    "confidence_gain",
    "gradient_alignment",
    "update_loss_change",
]


def _check(images: Tensor, labels: Tensor) -> Tensor:
    """The candidates' labels as integers, checked against finite float images of one each."""
    labels = as_labels(labels)  # a float label is refused, not truncated
    if not isinstance(images, Tensor) or images.ndim < 2 or len(images) != len(labels):
        raise DataError("need candidate images (N x ...) with one label each")
    if len(labels) == 0:
        raise DataError("need at least one candidate")
    check_tensor(images, "images", floating=True, finite=True)
    return labels.cpu()


def global_model_confidences(model: nn.Module, states: Sequence[dict[str, Tensor]],
                             images: Tensor, labels: Tensor) -> np.ndarray:
    r"""Every candidate's confidence :math:`\phi` under every global model a participant received.

    :math:`\phi = \log \frac{p_y}{1 - p_y}` (:func:`~dlgtut.attacks.membership.logit_confidence`)
    rather than the loss: the loss of a fitted member saturates near 0 and stops moving, while
    :math:`\phi` keeps growing as the model grows more confident.

    Args:
        model: a network of the federation's architecture (its weights are not changed).
        states: the global models' ``state_dict``s, in round order (``TrainingLog.states``:
            index 0 before the first round).
        images: ``N`` candidate inputs.
        labels: their ``N`` labels.

    Returns:
        ``R x N`` confidences, row ``r`` under ``states[r]``.

    Raises:
        WrongTypeError: a model that is not a module, or states that are not state_dicts.
        DataError: a state that does not fit the model, images that are not finite floats, or
            labels that are not integers.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(1, 2))
        >>> zero = {k: torch.zeros_like(v) for k, v in net.state_dict().items()}
        >>> global_model_confidences(net, [zero], torch.ones(3, 1), torch.tensor([0, 1, 0]))
        array([[0., 0., 0.]])
    """
    labels = _check(images, labels)
    model_parameters(model)
    if isinstance(states, dict) or not isinstance(states, Sequence):
        raise WrongTypeError(f"states must be a list of state_dicts (TrainingLog.states), got "
                             f"{type(states).__name__}")
    if len(states) == 0:
        raise DataError("need at least one global model")
    net = copy.deepcopy(model)
    for r, state in enumerate(states):  # every state fits the model before any is evaluated
        if not isinstance(state, dict):
            raise WrongTypeError(f"state {r} must be a state_dict, got {type(state).__name__}")
        try:
            net.load_state_dict(state)
        except RuntimeError as err:  # torch's message lists every key, one per line
            reason = " ".join(str(err).split())[:200]
            raise DataError(f"state {r} does not fit the model: {reason}") from None
    rows = []
    for state in states:
        net.load_state_dict(state)
        rows.append(logit_confidence(predict_logits(net, images), labels.numpy()))
    return np.stack(rows)


def confidence_gain(phis, *, start: int, end: int = -1) -> np.ndarray:
    """The rise of each candidate's confidence from global model ``start`` to ``end``: the score.

    The model at ``start`` is the reference: it says how easy the candidate already was once
    the task had been learnt, so what follows is mostly the fitting of the members.

    Args:
        phis: ``R x N`` from :func:`global_model_confidences`.
        start: the reference round.
        end: the round the attack looks at (default: the last).

    Raises:
        DataError: confidences that are not an ``R x N`` array of finite numbers.
        ConfigError: rounds that are not integers or not among the global models.

    Example:
        >>> confidence_gain(np.array([[0.0, 0.0], [1.5, 0.5], [4.0, 0.75]]), start=1).tolist()
        [2.5, 0.25]
    """
    phis = array(phis, "confidences")
    if phis.ndim != 2:
        raise DataError(f"confidences must be R x N, got shape {phis.shape}")
    integer(start, "start")
    integer(end, "end")
    r = len(phis)
    if not (-r <= start < r and -r <= end < r):
        raise ConfigError(f"rounds start={start}, end={end} outside the {r} global models")
    return phis[end] - phis[start]


def _direction(update: SharedUpdate) -> list[Tensor]:
    """The update as a descent direction's opposite: the (average) gradient it follows."""
    if update.kind == "gradient":
        return list(update.tensors)
    return [-t for t in update.tensors]  # a weight change moves against the gradient


def _per_example_gradients(model: nn.Module, images: Tensor, labels: Tensor) -> Tensor:
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}
    images = as_model_input(model, images)
    labels = labels.to(images.device)
    with torch.no_grad():
        k = model_output(model, images[:1]).shape[-1]
    if int(labels.max()) >= k:
        raise DataError(f"labels must lie in [0, {k - 1}] for the model's {k} classes, got "
                        f"{int(labels.max())}")

    def loss(p, x, y):
        return F.cross_entropy(functional_call(model, p, (x[None],)), y[None])

    grads = vmap(grad(loss), in_dims=(None, 0, 0))(params, images, labels)
    return torch.cat([g.reshape(len(images), -1) for g in grads.values()], dim=1)


def gradient_alignment(update: SharedUpdate, images: Tensor, labels: Tensor) -> np.ndarray:
    r"""Cosine between each candidate's gradient and a participant's shared update.

    The candidate's gradient :math:`\nabla_W \ell(x, y; W)` is taken at the model the update
    was computed on (``update.model``); a weight change :math:`\Delta W` (FedAvg) is compared
    as :math:`-\Delta W`, the direction of the gradients that produced it.

    Args:
        update: what the participant shared.
        images: ``N`` candidate inputs of ``update.input_shape``.
        labels: their ``N`` labels.

    Returns:
        ``N`` cosines in [-1, 1]; higher means "was in the batch".

    Raises:
        WrongTypeError: ``update`` is not a SharedUpdate (the private batch, say).
        DataError: candidates the model cannot take, or labels outside its classes.

    Example:
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x, y = torch.rand(2, 1, 2, 2), torch.tensor([0, 2])
        >>> update = Participant(net).fedsgd(PrivateBatch(x[:1], y[:1]))  # a batch of one
        >>> round(float(gradient_alignment(update, x, y)[0]), 4)
        1.0
    """
    update = require_update(update, "gradient_alignment")
    labels = _check(images, labels)
    g = _per_example_gradients(update.model, images, labels)
    d = torch.cat([t.reshape(-1) for t in _direction(update)])
    if g.shape[1] != d.numel():
        raise DataError(f"the update has {d.numel()} numbers, the model {g.shape[1]} parameters")
    return F.cosine_similarity(g, d[None].to(g), dim=1).double().cpu().numpy()


def update_loss_change(update: SharedUpdate, images: Tensor, labels: Tensor, *,
                       lr: float | None = None) -> np.ndarray:
    """How much applying the participant's update alone lowers each candidate's loss.

    A weight change is added as it is; a gradient is applied as one SGD step of ``lr`` (the
    server's learning rate, a public hyperparameter).

    Args:
        update: what the participant shared.
        images: ``N`` candidate inputs.
        labels: their ``N`` labels.
        lr: the step size for a gradient update.

    Returns:
        ``N`` loss decreases (loss before minus loss after); higher means "was in the batch".

    Raises:
        ConfigError: a gradient update without a positive ``lr``.
        WrongTypeError: ``update`` is not a SharedUpdate (the private batch, say).
        DataError: candidates the model cannot take, or labels that are not integers.
    """
    update = require_update(update, "update_loss_change")
    labels = _check(images, labels)
    if update.kind == "gradient" and lr is None:
        raise ConfigError("a gradient update needs the learning rate lr to be applied")
    if lr is not None:
        number(lr, "lr", low=0, low_open=True)
    if len(update.tensors) != len(list(update.model.parameters())) or any(
            t.shape != p.shape for t, p in zip(update.tensors, update.model.parameters(),
                                               strict=False)):
        raise DataError("the update does not match its model's parameters")
    before = example_loss(predict_logits(update.model, images), labels.numpy())
    after_model = copy.deepcopy(update.model)
    scale = -lr if update.kind == "gradient" else 1.0
    with torch.no_grad():
        for p, t in zip(after_model.parameters(), update.tensors, strict=True):
            p.add_(t.to(p), alpha=scale)
    after = example_loss(predict_logits(after_model, images), labels.numpy())
    return before - after
