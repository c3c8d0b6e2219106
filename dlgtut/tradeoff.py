"""Both sides of a defence, measured on the same data: what still leaks, and what it costs.

:func:`measure` takes one defence at one strength and returns a :class:`TradeoffPoint`: the
gradient inversion attack's quality on single private images (MSE, PSNR, SSIM, label accuracy,
averaged over ``attack_images`` real images) and the final test accuracy of a real federated
training run (FedSGD) in which every participant applies the same defence to every update.

The setting (:class:`Setting`) is the one the defences chapter uses: 16 x 16 scikit-learn
digits, a LeNet with Tanh activations and PyTorch's default initialisation (twice
differentiable, so DLG recovers an undefended digit exactly in a few steps, and it trains to
about 90 % in 100 FedSGD rounds), four participants.

Defences (``name``, what ``value`` means):

* ``none``; ``gaussian`` / ``laplacian`` (noise variance); ``float16``; ``int8``;
  ``prune`` (fraction of entries zeroed) -- transforms of the update
  (:mod:`dlgtut.defenses`);
* ``batch`` (examples per update: the attack must recover a batch of that many distinct
  labels);
* ``local-steps`` (FedAvg local steps; the attack is Inverting Gradients, unrolling them);
* ``secure-aggregation`` (participants whose mean the server sees; one image each);
* ``dp-sgd`` (Opacus noise multiplier, clipping at ``Setting.clip``; the point reports the
  epsilon of the whole run for the participant with the smallest share: fixed-size batches
  drawn without replacement every round, replace-one neighbours,
  :func:`dlgtut.accounting.dp_sgd_epsilon`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .checks import instance, integer, number, replace
from .checks import seed as check_seed
from .device import resolve_device
from .errors import ConfigError, WrongTypeError
from .seeding import seeded

__all__ = ["Setting", "TradeoffPoint", "measure", "attack_quality", "sweep", "plot_tradeoff",
           "DEFAULT_GRIDS"]

DEFAULT_GRIDS: dict[str, tuple] = {
    "none": (None,),
    "gaussian": (1e-4, 1e-3, 1e-2, 1e-1),
    "laplacian": (1e-4, 1e-3, 1e-2, 1e-1),
    "float16": (None,),
    "int8": (None,),
    "prune": (0.01, 0.1, 0.2, 0.3, 0.5, 0.7),
    "batch": (1, 2, 4, 8),
    "local-steps": (1, 2, 4, 8),
    "secure-aggregation": (1, 2, 4, 8),
    "dp-sgd": (0.1, 0.5, 1.0, 2.0),
}
"""Each defence's grid of strengths (the DLG paper's where it has one)."""


@dataclass(frozen=True)
class Setting:
    """Data, model, training run and attack budget shared by every measurement.

    Attributes:
        image_size: side of the digit images.
        participants: participants of the training run.
        train_examples: examples split among them (the rest of the 1797 digits is the test set).
        rounds: FedSGD rounds of the training run.
        lr: FedSGD learning rate.
        batch_size: examples per participant and round in training (the ``batch`` defence
            changes it).
        attack_images: how many single images (or batches) the attack is averaged over.
        attack_iterations: DLG steps per attack (Inverting Gradients takes 10 times as many).
        attack_restarts: DLG's restarts after a divergence or a stall (its default if None;
            0 saves time under a defence, where the attack stalls by design).
        clip: DP-SGD's per-example clipping bound.
        delta: DP-SGD's delta for epsilon.
        seed: seeds the model, the data split, the noise and the attacks.
    """

    image_size: int = 16
    participants: int = 4
    train_examples: int = 1200
    rounds: int = 100
    lr: float = 0.2
    batch_size: int = 32
    attack_images: int = 4
    attack_iterations: int = 100
    attack_restarts: int | None = None
    clip: float = 1.0
    delta: float = 1e-5
    seed: int = 0

    def __post_init__(self) -> None:
        integer(self.image_size, "image_size", low=3)  # SSIM needs 3 x 3 pixels at least
        for name in ("participants", "train_examples", "batch_size", "attack_images",
                     "attack_iterations"):
            integer(getattr(self, name), name, low=1)
        integer(self.rounds, "rounds", low=0)
        if self.attack_restarts is not None:
            integer(self.attack_restarts, "attack_restarts", low=0)
        number(self.lr, "lr", low=0, low_open=True)
        number(self.clip, "clip", low=0, low_open=True)
        number(self.delta, "delta", low=0, high=1, low_open=True, high_open=True)
        check_seed(self.seed)
        if self.participants > self.train_examples:
            raise ConfigError(f"{self.train_examples} training examples cannot be shared by "
                              f"{self.participants} participants")

    def replace(self, **changes) -> Setting:
        """A copy with some fields changed (an unknown field is a ConfigError)."""
        return replace(self, changes)


@dataclass(frozen=True)
class TradeoffPoint:
    """One defence at one strength: the attack's quality and the trained model's accuracy.

    Attributes:
        defense: the defence's name.
        value: its strength (see the module docstring), None for those without one.
        mse: mean image MSE of the reconstructions (after optimal matching).
        psnr: mean PSNR in dB.
        ssim: mean SSIM.
        label_accuracy: fraction of labels the attack got right.
        accuracy: final test accuracy of the defended training run.
        epsilon: DP-SGD's epsilon for the whole run at ``Setting.delta``, under replace-one
            neighbouring datasets (None for other defences).
    """

    defense: str
    value: float | None
    mse: float
    psnr: float
    ssim: float
    label_accuracy: float
    accuracy: float
    epsilon: float | None = None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _model(s: Setting, device: torch.device):
    from .models import LeNet

    return LeNet(1, 10, s.image_size, "tanh", seed=s.seed, init="default").to(device)


def _attack_size(name: str, value) -> int:
    """Images per attacked update: the batch (or the participants) the defence names, else 1."""
    return int(value) if name in ("batch", "secure-aggregation") else 1


def _data(s: Setting, name: str, value):
    from .data import load_dataset

    d = load_dataset("digits", size=s.image_size)
    if not 0 < s.train_examples < len(d):
        raise ConfigError(f"train_examples must lie in [1, {len(d) - 1}]")
    pool, size = len(d) - s.train_examples, _attack_size(name, value)
    if (s.attack_images - 1) * 10 * size >= pool:  # the attacks take every 10 * size-th image
        raise ConfigError(f"{s.attack_images} attacks on {size} image(s) each need more than "
                          f"{(s.attack_images - 1) * 10 * size} test images; "
                          f"{s.train_examples} training examples leave {pool}")
    return d


def check_defense(name: str, value) -> None:
    """Raise ConfigError unless ``value`` is a strength the defence ``name`` can take.

    Checked before any training or attack runs, so a bad value costs nothing.
    """
    if not isinstance(name, str) or name not in DEFAULT_GRIDS:
        raise ConfigError(f"unknown defence {name!r}; choose from {', '.join(DEFAULT_GRIDS)}")
    if name in ("none", "float16", "int8"):
        if value is not None:
            raise ConfigError(f"the {name} defence takes no value, got {value!r}")
        return
    if value is None:
        raise ConfigError(f"the {name} defence needs a value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"the {name} defence needs a finite number, got {value!r}")
    if name in ("batch", "local-steps", "secure-aggregation") and (
        int(value) != value or not 1 <= value <= 10
    ):
        raise ConfigError(f"{name} needs a whole number from 1 to 10, got {value}")
    if name == "dp-sgd" and not value > 0:
        raise ConfigError(f"dp-sgd needs a positive noise multiplier, got {value}")
    if name in ("gaussian", "laplacian", "prune"):
        from .defenses import make_defense

        make_defense(name, value)  # its own checks: a positive variance, a fraction in [0, 1)


def _update_transform(name, value, seed):
    from .defenses import make_defense

    if name in ("gaussian", "laplacian", "float16", "int8", "prune"):
        return make_defense(name, value, seed=seed)
    return None


def _attack_quality(name, value, s: Setting, data, device) -> tuple[float, float, float, float]:
    from .attacks import dlg, inverting_gradients
    from .defenses import secure_aggregate
    from .dp import dp_sgd_update
    from .fl import Participant, PrivateBatch
    from .metrics import score

    transform = _update_transform(name, value, s.seed)
    test_pool = data.subset(range(s.train_examples, len(data)))  # images the run never trains on
    size = _attack_size(name, value)
    results = []
    for k in range(s.attack_images):
        images, labels, _ = test_pool.batch(k * 10 * size, size)
        batch = PrivateBatch(images, labels)
        net = _model(s, device)
        if name == "secure-aggregation":
            update = secure_aggregate([Participant(net).fedsgd(PrivateBatch(images[i:i + 1],
                                       labels[i:i + 1])) for i in range(size)])
        elif name == "dp-sgd":
            update = dp_sgd_update(net, batch, noise_multiplier=value, max_grad_norm=s.clip,
                                   seed=s.seed + k)
        elif name == "local-steps":
            update = Participant(net).fedavg(batch, local_steps=int(value), lr=s.lr)
        else:
            update = Participant(net).fedsgd(batch)
        if transform is not None:
            update = transform(update)
        if name == "local-steps":
            rec = inverting_gradients(update, iterations=10 * s.attack_iterations, trials=1,
                                      progress=False, seed=s.seed)
        else:
            # Cosine distance: a defence that rescales the update (clipping) must not fool it.
            restarts = {} if s.attack_restarts is None else {"restarts": s.attack_restarts}
            rec = dlg(update, iterations=s.attack_iterations, progress=False, seed=s.seed,
                      distance="cosine" if name == "dp-sgd" else "l2", **restarts)
        sc = score(rec.images, rec.labels, images, labels)
        results.append((sc.mse, sc.psnr, sc.ssim, sc.label_accuracy))
    return tuple(sum(r[i] for r in results) / len(results) for i in range(4))


def _accuracy(name, value, s: Setting, data, device) -> tuple[float, float | None]:
    from .accounting import dp_sgd_epsilon
    from .dp import dp_sgd_update
    from .server import federated_training, split_among

    images, labels = data.images[: s.train_examples], data.labels[: s.train_examples]
    parts = split_among(images, labels, s.participants, seed=s.seed)
    test = (data.images[s.train_examples:], data.labels[s.train_examples:])
    kwargs = dict(rounds=s.rounds, lr=s.lr, batch_size=s.batch_size, seed=s.seed)
    epsilon = None
    if name == "local-steps":
        log = federated_training(_model(s, device), parts, test, algorithm="fedavg",
                                 local_steps=int(value), **kwargs)
    elif name == "batch":
        log = federated_training(_model(s, device), parts, test, algorithm="fedsgd",
                                 **{**kwargs, "batch_size": int(value)})
    elif name == "secure-aggregation":
        # The server sees only the mean; averaging is what it does anyway: training is unchanged.
        log = federated_training(_model(s, device), parts, test, algorithm="fedsgd", **kwargs)
    elif name == "dp-sgd":
        log = federated_training(
            _model(s, device), parts, test, algorithm="fedsgd",
            update_fn=lambda model, batch: dp_sgd_update(
                model, batch, noise_multiplier=value, max_grad_norm=s.clip),
            **kwargs,
        )
        # Each round every participant draws min(batch, n_k) of its n_k examples uniformly
        # without replacement (federated_training): the smallest share spends the most.
        epsilon = max(dp_sgd_epsilon(value, min(s.batch_size, len(x)), len(x), s.rounds,
                                     s.delta) for x, _ in parts)
    else:
        log = federated_training(_model(s, device), parts, test, algorithm="fedsgd",
                                 defense=_update_transform(name, value, s.seed), **kwargs)
    acc = log.accuracy[-1]
    return (acc if math.isfinite(acc) else 0.0), epsilon


def measure(name: str, value: float | None = None, setting: Setting | None = None, *,
            device: str | torch.device = "cpu") -> TradeoffPoint:
    """Measure one defence at one strength: attack quality and defended training accuracy.

    Args:
        name: a key of :data:`DEFAULT_GRIDS`.
        value: the strength (ignored by ``none``, ``float16``, ``int8``).
        setting: the shared :class:`Setting` (default one if None).
        device: where the models live, and so where the participants, the training run and
            the attacks compute (see :func:`dlgtut.device.resolve_device`).

    Raises:
        ConfigError: unknown defence, a missing or invalid value, a setting whose test images
            are too few for its attacks, or a device this machine does not have.
        WrongTypeError: ``setting`` is not a :class:`Setting`.
    """
    s = Setting() if setting is None else instance(setting, Setting, "setting")
    check_defense(name, value)
    device = resolve_device(device)
    with seeded(s.seed):  # the draws of the global generator are the seed's, and it is restored
        data = _data(s, name, value)
        mse, psnr, ssim, lab = _attack_quality(name, value, s, data, device)
        acc, eps = _accuracy(name, value, s, data, device)
    return TradeoffPoint(name, value, mse, psnr, ssim, lab, acc, eps)


def attack_quality(name: str, value: float | None = None, setting: Setting | None = None, *,
                   device: str | torch.device = "cpu") -> tuple[float, float, float, float]:
    """The attack side of :func:`measure` alone: mean MSE, PSNR, SSIM and label accuracy of
    the attack on defended updates of held-out images (no training run).

    Raises:
        ConfigError: unknown defence, a missing or invalid value, or a device this machine
            does not have.
        WrongTypeError: ``setting`` is not a :class:`Setting`.
    """
    s = Setting() if setting is None else instance(setting, Setting, "setting")
    check_defense(name, value)
    device = resolve_device(device)
    with seeded(s.seed):  # as measure() does: the same numbers, the global generator restored
        return _attack_quality(name, value, s, _data(s, name, value), device)


def sweep(name: str, values: Sequence | None = None, setting: Setting | None = None,
          *, progress: bool = False, device: str | torch.device = "cpu") -> list[TradeoffPoint]:
    """:func:`measure` over a grid of strengths (the defence's default grid if None).

    Every value (and the setting and the device) is checked before the first measurement runs.
    """
    from tqdm.auto import tqdm

    if not isinstance(name, str) or name not in DEFAULT_GRIDS:
        raise ConfigError(f"unknown defence {name!r}; choose from {', '.join(DEFAULT_GRIDS)}")
    if values is not None and (isinstance(values, str) or not isinstance(values, Sequence)):
        raise WrongTypeError(f"values must be a list of strengths, got {type(values).__name__}")
    grid = DEFAULT_GRIDS[name] if values is None else tuple(values)
    if not grid:
        raise ConfigError("values must hold at least one strength")
    s = Setting() if setting is None else instance(setting, Setting, "setting")
    for v in grid:
        check_defense(name, v)
    device = resolve_device(device)
    _data(s, name, max(grid, key=lambda v: _attack_size(name, v)))  # test images for every v
    return [measure(name, v, s, device=device)
            for v in tqdm(grid, desc=name, disable=not progress)]


def plot_tradeoff(points: Sequence[TradeoffPoint], *, baseline: TradeoffPoint | None = None,
                  ax=None, title: str | None = None):
    """One defence's trade-off: attack PSNR (left) and test accuracy (right) against strength."""
    from .viz.panel import panel

    if isinstance(points, TradeoffPoint) or not isinstance(points, Sequence):
        raise WrongTypeError(f"points must be a list of TradeoffPoints, got "
                             f"{type(points).__name__}")
    if not points:
        raise ConfigError("nothing to plot")
    for p in points:
        instance(p, TradeoffPoint, "every point")
    if baseline is not None:
        instance(baseline, TradeoffPoint, "baseline")
    fig, ax, own = panel(ax, (5.5, 3.4))
    labels = [("-" if p.value is None else f"{p.value:g}") for p in points]
    x = range(len(points))
    ax.plot(x, [p.psnr for p in points], "o-", color="tab:red", label="attack PSNR")
    ax.set_ylabel("attack PSNR (dB)", color="tab:red")
    ax.set_xticks(list(x), labels)
    ax.set_xlabel(points[0].defense + (" strength" if points[0].value is not None else ""))
    ax.axhline(12, ls=":", color="tab:red", lw=1)
    acc_ax = ax.twinx()
    acc_ax.plot(x, [p.accuracy for p in points], "s--", color="tab:blue", label="test accuracy")
    acc_ax.set_ylim(0, 1)
    acc_ax.set_ylabel("test accuracy", color="tab:blue")
    if baseline is not None:
        acc_ax.axhline(baseline.accuracy, color="tab:blue", lw=1, alpha=0.5)
    ax.set_title(title or points[0].defense)
    if own:  # a caller's figure is laid out by the caller, once (it may hold many panels)
        fig.tight_layout()
    return fig
