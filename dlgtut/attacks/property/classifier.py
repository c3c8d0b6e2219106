r"""Property inference in federated learning (Melis et al. 2019; Ganju et al. 2018).

The adversary is a participant of a FedSGD federation. Every round it receives the global
model; from two successive global models and its own update it computes the average update of
everyone else (:func:`others_update`). It wants to know whether the *victim*'s batch of that
round has a property that the task does not ask about (thick strokes on digits, see
:mod:`dlgtut.attacks.property.data`). The attack, :class:`PropertyAttacker`, in each round:

1. computes updates on the current global model from its auxiliary data: updates that
   aggregate a batch *with* the property, and updates that aggregate a batch *without* it, each
   together with as many batches of mixed data as the observed aggregate holds (the number of
   participants and the batch size are public);
2. trains a logistic regression to tell the two kinds of update apart, by default on the
   output layer's part of each update (its weights and bias), whose gradient carries the
   hidden activations and so how much ink (or light) the batch had;
3. scores the update it observes: the log-odds that the victim's batch had the property.

With one update in the aggregate this is the *passive single-update* case: a server (or a
neighbour) that sees one participant's update on its own.

The attacker holds a :class:`~dlgtut.attacks.property.data.LabelledPool` of its own and sees
only the public model and flattened updates; the victim's data enter only through
:func:`observe`, which plays the federation (and knows the truth, for the metrics).

:mod:`dlgtut.attacks.property.federated` runs the federation and the attack round by round.

Every update here is a mean of per-example gradients (:func:`per_example_gradients`), so one
backward pass per example and round serves thousands of simulated batches; the tests check
that it equals :meth:`~dlgtut.fl.Participant.fedsgd`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ...checks import (
    as_model_input,
    instance,
    integer,
    model_output,
    model_parameters,
    module,
    number,
)
from ...checks import seed as check_seed
from ...checks import tensor as check_tensor
from ...errors import ConfigError, DataError, WrongTypeError
from ...fl import SharedUpdate, as_labels, one_hot, require_update, soft_cross_entropy
from .data import LabelledPool, PropertySplit

__all__ = [
    "per_example_gradients",
    "flatten_update",
    "last_layer_columns",
    "others_update",
    "FEATURES",
    "PropertyAttacker",
    "observe",
    "attack_round",
]


def per_example_gradients(model: nn.Module, images: Tensor, labels: Tensor) -> Tensor:
    """The gradient of each example's loss, flattened: one row per example.

    The loss is the participants' (:func:`~dlgtut.fl.soft_cross_entropy` on one-hot labels), so
    the mean of the rows of a batch is that batch's FedSGD update, flattened. The model must not
    mix examples (no batch normalisation).

    Args:
        model: the public model (not changed).
        images: ``N x C x H x W`` inputs.
        labels: ``N`` class labels.

    Returns:
        ``N x P`` gradients, ``P`` the number of parameters, in ``model.parameters()`` order,
        on the model's device (they are computed there, and averaged there).

    Raises:
        WrongTypeError: ``model`` is not a module.
        DataError: images that are not finite floats the model can take, or labels that are
            not integer classes of the model (one per image).

    Example:
        >>> from dlgtut.training import MLP
        >>> net = MLP(4, 2, hidden=(3,), seed=0)
        >>> per_example_gradients(net, torch.rand(5, 1, 2, 2), torch.tensor([0, 1, 1, 0, 1])).shape
        torch.Size([5, 23])
    """
    from torch.func import functional_call, grad, vmap

    model_parameters(model)
    check_tensor(images, "images", min_ndim=2, floating=True, finite=True)
    labels = as_labels(labels)
    if len(labels) != len(images):
        raise DataError(f"need one label per image: {len(images)} images, {len(labels)} labels")
    images = as_model_input(model, images)
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    with torch.no_grad():
        num_classes = int(model_output(model, images[:1]).shape[-1])
    targets = one_hot(labels, num_classes).to(images)

    def loss(p, x, target):
        logits = functional_call(model, (p, buffers), (x[None],))
        return soft_cross_entropy(logits, target[None])

    rows = vmap(grad(loss), in_dims=(None, 0, 0))(params, images, targets)
    return torch.cat([rows[k].reshape(len(images), -1) for k in params], dim=1)


def flatten_update(tensors: Sequence[Tensor]) -> Tensor:
    """One update (a tuple of tensors, one per parameter) as a single vector.

    Raises:
        WrongTypeError: not a non-empty sequence of tensors (a SharedUpdate: pass its tensors).

    Example:
        >>> flatten_update((torch.ones(2, 2), torch.zeros(3))).tolist()
        [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    """
    if isinstance(tensors, SharedUpdate):
        raise WrongTypeError("flatten_update takes the update's tensors (update.tensors), not "
                             "the SharedUpdate itself")
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence) or not tensors or not all(
            isinstance(t, Tensor) for t in tensors):
        raise WrongTypeError(f"flatten_update takes a non-empty sequence of tensors, got "
                             f"{type(tensors).__name__}")
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def others_update(before: nn.Module, after: nn.Module, own: SharedUpdate, *, lr: float,
                  total_examples: int) -> tuple[Tensor, ...]:
    r"""What a FedSGD participant learns from two global models: everyone else's mean gradient.

    The server stepped :math:`W' = W - \eta \sum_k \frac{n_k}{n} g_k`. A participant knows
    :math:`W`, :math:`W'`, :math:`\eta`, :math:`n` and its own :math:`n_a, g_a`, so
    :math:`\frac{n (W - W') / \eta - n_a g_a}{n - n_a}` is the batch-size-weighted mean of the
    other participants' gradients.

    Args:
        before: the global model the round started from.
        after: the global model after the round.
        own: the participant's own update of the round.
        lr: the server's learning rate (public).
        total_examples: examples in the round, all participants together (public).

    Returns:
        One tensor per parameter.

    Raises:
        ConfigError: ``lr`` not positive and finite, ``total_examples`` not an integer, or no
            examples besides the participant's own.
        WrongTypeError: models that are not modules, or ``own`` not a SharedUpdate.
        DataError: the two models or the own update of different parameter shapes.
    """
    number(lr, "lr", low=0, low_open=True)
    own = require_update(own, "others_update", needs_model=False)
    integer(total_examples, "total_examples")
    rest = total_examples - own.batch_size
    if rest < 1:
        raise ConfigError("the round has no examples besides the participant's own")
    shapes = [[p.shape for p in model_parameters(m, name)] for m, name in
              ((before, "before"), (after, "after"))]
    if shapes[0] != shapes[1] or shapes[0] != [t.shape for t in own.tensors]:
        raise DataError("before, after and the own update must have the same parameter shapes")
    return tuple(
        (total_examples * (w.detach() - w2.detach()) / lr - own.batch_size * g) / rest
        for w, w2, g in zip(before.parameters(), after.parameters(), own.tensors, strict=True)
    )


def last_layer_columns(model: nn.Module) -> slice:
    """Where the output layer's parameters sit in a flattened update of ``model``.

    The output layer is the module that owns the last parameter (for :class:`~dlgtut.training.MLP`
    the final ``Linear``: its weight and bias), whose parameters come last in
    ``model.parameters()``.

    Example:
        >>> from dlgtut.training import MLP
        >>> last_layer_columns(MLP(4, 2, hidden=(3,)))  # 4*3 + 3 weights first, then 3*2 + 2
        slice(15, 23, None)
    """
    model_parameters(model)
    named = list(model.named_parameters())
    owner = named[-1][0].rsplit(".", 1)[0]
    total = sum(p.numel() for _, p in named)
    last = sum(p.numel() for n, p in named if n.rsplit(".", 1)[0] == owner)
    return slice(total - last, total)


def _mean_rows(grads: Tensor, draws: Sequence[Tensor]) -> Tensor:
    """Row ``j``: the mean of ``grads`` over the indices in ``draws[j]`` (repeats count twice).

    The weights are built on the CPU and the product is taken on the gradients' device.
    """
    weights = torch.zeros(len(draws), len(grads), dtype=grads.dtype)
    for j, idx in enumerate(draws):
        weights[j].index_add_(0, idx, torch.full((len(idx),), 1.0 / len(idx), dtype=grads.dtype))
    return weights.to(grads.device) @ grads


def _aggregate_draws(pool_with: LabelledPool, pool_mix: LabelledPool, offset: int, *,
                     n_updates: int, batch_size: int, fraction: float, draws: int,
                     generator: torch.Generator) -> tuple[list[Tensor], np.ndarray]:
    """Index sets of ``draws`` aggregates, alternately without and with the property.

    Each aggregate is one batch from ``pool_with`` (with or without the property) and
    ``n_updates - 1`` mixed batches from ``pool_mix``, whose indices are shifted by ``offset``.
    """
    index_sets, truth = [], np.arange(draws) % 2
    for label in truth:
        first = pool_with.draw(batch_size, bool(label), fraction=fraction, generator=generator)
        rest = [offset + pool_mix.draw(batch_size, None, generator=generator)
                for _ in range(n_updates - 1)]
        index_sets.append(torch.cat([first, *rest]))
    return index_sets, truth


FEATURES = ("last", "all")
"""What the attacker classifies: the output layer's part of an update, or all of it."""


class PropertyAttacker:
    """The adversary: a classifier of updates, retrained on every global model it receives.

    Args:
        aux: the adversary's own data, with the property of each example.
        batch_size: the participants' batch size (public).
        n_updates: how many participants' updates the observed aggregate averages (1: a single
            update).
        draws: simulated updates it trains on per model, half with the property.
        features: ``"last"``: the output layer's part of each update (weights and bias), or
            ``"all"``: the whole flattened update.
        C: inverse L2 strength of the logistic regression.
        seed: seed of its batch draws.

    Example:
        >>> from dlgtut.attacks.property import intensity_property
        >>> from dlgtut.training import MLP
        >>> x = torch.rand(60, 1, 2, 2) * torch.linspace(0.2, 1, 60).reshape(60, 1, 1, 1)
        >>> y = torch.arange(60) % 2
        >>> aux = LabelledPool(x, y, intensity_property(x, y))
        >>> net = MLP(4, 2, hidden=(8,), seed=0)
        >>> attacker = PropertyAttacker(aux, batch_size=8, n_updates=1, draws=40).fit(net)
        >>> attacker.score(torch.zeros(3, 58)).shape
        (3,)
    """

    def __init__(self, aux: LabelledPool, *, batch_size: int, n_updates: int, draws: int = 600,
                 features: str = "last", C: float = 0.01, seed: int = 0) -> None:
        instance(aux, LabelledPool, "aux")
        for name, value in (("n_updates", n_updates), ("batch_size", batch_size),
                            ("draws", draws)):
            integer(value, name)
        number(C, "C")
        check_seed(seed)
        if n_updates < 1 or batch_size < 1 or draws < 4:
            raise ConfigError(f"need n_updates >= 1, batch_size >= 1 and draws >= 4; got "
                              f"{n_updates}, {batch_size}, {draws}")
        if not isinstance(features, str) or features not in FEATURES:
            raise ConfigError(f"unknown features {features!r}; choose from {', '.join(FEATURES)}")
        if not C > 0:
            raise ConfigError(f"C must be positive, got {C}")
        self.aux, self.batch_size, self.n_updates = aux, batch_size, n_updates
        self.draws, self.features, self.C, self.seed = draws, features, C, seed
        self.classifier = None
        self._columns = slice(None)
        self._width = 0

    def fit(self, model: nn.Module) -> PropertyAttacker:
        """Train the classifier on simulated updates of the public ``model``; returns self."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model_parameters(model)
        gen = torch.Generator().manual_seed(self.seed)
        self._width = sum(p.numel() for p in model.parameters())
        self._columns = last_layer_columns(model) if self.features == "last" else slice(None)
        grads = per_example_gradients(model, self.aux.images, self.aux.labels)[:, self._columns]
        index_sets, truth = _aggregate_draws(
            self.aux, self.aux, 0, n_updates=self.n_updates, batch_size=self.batch_size,
            fraction=1.0, draws=self.draws, generator=gen)
        features = _mean_rows(grads, index_sets).cpu().numpy()
        self.classifier = make_pipeline(StandardScaler(),
                                        LogisticRegression(C=self.C, max_iter=5000))
        self.classifier.fit(features, truth)
        return self

    def score(self, updates: Tensor | Sequence[Tensor] | SharedUpdate) -> np.ndarray:
        """Log-odds that each observed update has the property (positive: it has).

        Args:
            updates: flattened updates, one per row (``M x P``); or one update, flattened, as a
                tuple of tensors (what :func:`others_update` returns) or a
                :class:`~dlgtut.fl.SharedUpdate` (what a server receives).

        Returns:
            One score per update.

        Raises:
            ConfigError: called before :meth:`fit`.
            DataError: updates of the wrong length.
        """
        if self.classifier is None:
            raise ConfigError("fit the attacker on a global model before scoring updates")
        if isinstance(updates, SharedUpdate):
            updates = updates.tensors
        if isinstance(updates, (tuple, list)):
            updates = flatten_update(updates)
        x = check_tensor(updates, "updates", floating=True, finite=True).detach().cpu()
        x = x.reshape(-1, x.shape[-1])
        if x.shape[1] != self._width:
            raise DataError(f"updates have {x.shape[1]} values, the model {self._width} parameters")
        return self.classifier.decision_function(x[:, self._columns].numpy())


def _check_observation(split, n_updates, batch_size, fraction, draws) -> None:
    """What :func:`observe` needs, checked before anything is computed or fitted."""
    instance(split, PropertySplit, "split")
    integer(n_updates, "n_updates", low=1)
    integer(batch_size, "batch_size", low=1)
    integer(draws, "draws", low=1)
    number(fraction, "fraction", low=0, high=1)
    if n_updates > 1 and not split.others:
        raise ConfigError("an aggregate of several updates needs other participants")


def observe(model: nn.Module, split: PropertySplit, *, n_updates: int, batch_size: int,
            fraction: float = 1.0, draws: int = 200,
            generator: torch.Generator | None = None) -> tuple[Tensor, np.ndarray]:
    """What the adversary would observe in ``draws`` replays of a round on ``model``.

    Plays the federation, and so knows the truth: in every replay the victim trains on a batch
    with the property (``fraction`` of it) or without it, alternately, and ``n_updates - 1``
    other participants on mixed batches of their data (drawn from all of the other
    participants' data together; with more batches than examples an example can recur in two
    batches).

    Args:
        model: the global model of the round.
        split: who holds which data; the victim's and the others' pools are used.
        n_updates: updates in the average (1: the victim's update alone).
        batch_size: every participant's batch size.
        fraction: share of a victim's batch with the property that has it.
        draws: replays, half of them with the property.
        generator: the random source of the batches.

    Returns:
        ``(updates, truth)``: the flattened mean updates (``draws x P`` on the CPU, what the
        adversary recovers with :func:`others_update`) and whether the victim's batch had the
        property. The gradients are computed on the model's device.

    Raises:
        ConfigError: ``n_updates > 1`` without other participants, pools too small, or
            settings of the wrong kind.
        WrongTypeError: ``split`` is not a PropertySplit, or ``model`` not a module.
    """
    module(model)
    _check_observation(split, n_updates, batch_size, fraction, draws)
    if generator is not None:
        instance(generator, torch.Generator, "generator")
    victim, others = split.victim, split.others_union() if split.others else split.victim
    grads = per_example_gradients(model, torch.cat([victim.images, others.images]),
                                  torch.cat([victim.labels, others.labels]))
    index_sets, truth = _aggregate_draws(victim, others, len(victim), n_updates=n_updates,
                                         batch_size=batch_size, fraction=fraction,
                                         draws=draws, generator=generator)
    return _mean_rows(grads, index_sets).cpu(), truth


def attack_round(model: nn.Module, split: PropertySplit, *, n_updates: int, batch_size: int,
                 fraction: float = 1.0, train_draws: int = 600, eval_draws: int = 200,
                 features: str = "last", C: float = 0.01,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fit a :class:`PropertyAttacker` on ``model`` and score ``eval_draws`` replays.

    The attacker trains on ``train_draws`` simulated updates from the auxiliary data, then
    scores what :func:`observe` returns (seeded with ``seed + 1``).

    Args:
        model: the global model of the round.
        split: who holds which data.
        n_updates: updates in the average the attacker observes (1: a single update).
        batch_size: every participant's batch size.
        fraction: share of a victim's batch with the property that has it.
        train_draws: the attacker's simulated updates.
        eval_draws: observed updates to score.
        features: see :data:`FEATURES`.
        C: inverse L2 strength of the logistic regression.
        seed: seed of the attacker's draws.

    Returns:
        ``(scores, truth)``, ready for :func:`~dlgtut.roc.roc_summary`.

    Raises:
        ConfigError, WrongTypeError: as :class:`PropertyAttacker` and :func:`observe`, all
            checked before the attacker trains.
    """
    _check_observation(split, n_updates, batch_size, fraction, eval_draws)
    attacker = PropertyAttacker(split.aux, batch_size=batch_size, n_updates=n_updates,
                                draws=train_draws, features=features, C=C,
                                seed=seed).fit(model)
    updates, truth = observe(model, split, n_updates=n_updates, batch_size=batch_size,
                             fraction=fraction, draws=eval_draws,
                             generator=torch.Generator().manual_seed(seed + 1))
    return attacker.score(updates), truth
