r"""The GAN attack in collaborative learning (Hitaj, Ateniese and Perez-Cruz, CCS 2017).

Participants of a federation agree on the classes of a shared model; one of them, the victim,
holds a class that nobody else has. The adversary is an insider that follows the protocol on
the surface. Every round it receives the shared model like everyone else, and locally:

1. trains a *generator* to produce inputs that the shared model puts in the victim's class:
   the shared model is its discriminator, and it knows the victim's class only through what
   the victim's updates taught that model;
2. (the *active* attack) adds generated samples to its own training data under an extra
   *fake* class, an output unit that no honest participant uses, and shares its update.

The fake class teaches the shared model to tell the generator's imitations from the real
class, so the victim's next updates must say more precisely what its class looks like, and the
generator improves: a GAN whose discriminator is trained by the whole federation. A *passive*
adversary only does step 1 and shares honest updates. The baseline trains the same generator
against the untrained shared model of round one, which knows nothing of the victim.
To keep the generator from producing one image for all noise (mode collapse), its loss has
the mode-seeking term of Mao et al. (CVPR 2019); ``diversity=0`` gives Hitaj et al.'s plain
loss.

:func:`gan_attack` runs the federation (FedAvg with :func:`~dlgtut.server.aggregate` and
:func:`~dlgtut.server.apply_update`); the victim can train with DP-SGD (Opacus), which bounds
what its updates reveal about any one record, but not about its class. The generated samples
are judged by an independent evaluation classifier that never takes part
(:func:`~dlgtut.attacks.inversion.train_evaluator`), trained on data no participant holds.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..data import ImageSet, load_dataset
from ..errors import ConfigError, DataError
from ..fl import Participant, PrivateBatch, SharedUpdate
from ..models import LeNet
from ..server import accuracy, aggregate, apply_update
from .inversion import class_means, correlation, recognised_fraction, train_evaluator

__all__ = [
    "Generator",
    "GANAttackConfig",
    "GANAdversary",
    "Federation",
    "federation",
    "GANAttackResult",
    "gan_attack",
    "GAN_DATASETS",
    "MODES",
    "plot_rounds",
    "plot_curves",
]

GAN_DATASETS = ("digits", "mnist")
"""Datasets :func:`federation` accepts (``mnist`` falls back to ``digits`` offline)."""

MODES = ("active", "passive", "untrained")
"""What the adversary does: inject a fake class, only watch, or (baseline) ignore the federation."""

_NATIVE_SIZE = {"digits": 8, "mnist": 28}


class Generator(nn.Module):
    """A small fully connected generator: latent noise to an image in [0, 1].

    ``latent_dim`` normal values pass through a hidden layer (batch norm, ReLU) to
    ``C * H * W`` sigmoid outputs.

    Args:
        latent_dim: size of the noise vector.
        image_shape: ``(C, H, W)`` of the images produced.
        hidden: width of the hidden layer.
        seed: if given, the weights are drawn right after ``torch.manual_seed(seed)``.

    Example:
        >>> g = Generator(16, (1, 8, 8), seed=0)
        >>> g.eval()(torch.randn(5, 16)).shape
        torch.Size([5, 1, 8, 8])
    """

    def __init__(
        self,
        latent_dim: int = 16,
        image_shape: tuple[int, int, int] = (1, 8, 8),
        hidden: int = 128,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if min(latent_dim, hidden, *image_shape) < 1 or len(image_shape) != 3:
            raise ConfigError(f"generator sizes must be positive: latent_dim={latent_dim}, "
                              f"image_shape={tuple(image_shape)}, hidden={hidden}")
        if seed is not None:
            torch.manual_seed(seed)
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, math.prod(image_shape)),
            nn.Sigmoid(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).reshape(-1, *self.image_shape)


@dataclass(frozen=True)
class GANAttackConfig:
    """Settings of one federated run with a GAN adversary; defaults run in seconds on digits.

    Attributes:
        dataset: one of :data:`GAN_DATASETS`.
        victim_class: the class only the victim holds.
        participants: the victim, the adversary and ``participants - 2`` honest others.
        rounds: FedAvg rounds.
        local_epochs: passes of every participant over its data per round.
        lr: local SGD learning rate.
        batch_size: local minibatch size.
        mode: the adversary's behaviour, one of :data:`MODES`.
        generator_steps: Adam steps on the generator per round.
        generator_lr: the generator's learning rate.
        generator_batch: noise vectors per generator step.
        latent_dim: size of the generator's noise.
        fake_fraction: generated samples the active adversary adds per round, as a fraction of
            its real examples.
        diversity: weight of the generator's mode-seeking term (0: Hitaj et al.'s plain loss).
        dp_victim: the victim trains with DP-SGD (Opacus).
        noise_multiplier: DP-SGD's noise, in units of ``max_grad_norm``.
        max_grad_norm: DP-SGD's per-example clipping bound.
        delta: the :math:`\\delta` epsilon is reported for.
        eval_every: judge the generator every this many rounds (and after the last).
        samples: generated samples judged each time (from fixed noise).
        seed: seed of the split, the models, the noise and every draw.
        progress: show a tqdm progress bar.

    Example:
        >>> cfg = GANAttackConfig(rounds=5).replace(mode="passive")
        >>> cfg.mode, cfg.rounds, cfg.participants
        ('passive', 5, 4)
    """

    dataset: str = "digits"
    victim_class: int = 3
    participants: int = 4
    rounds: int = 100
    local_epochs: int = 1
    lr: float = 0.1
    batch_size: int = 32
    mode: Literal["active", "passive", "untrained"] = "active"
    generator_steps: int = 5
    generator_lr: float = 2e-4
    generator_batch: int = 64
    latent_dim: int = 16
    fake_fraction: float = 1.0
    diversity: float = 1.0
    dp_victim: bool = False
    noise_multiplier: float = 2.0
    max_grad_norm: float = 1.0
    delta: float = 1e-5
    eval_every: int = 10
    samples: int = 100
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        if self.dataset not in GAN_DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r} for the GAN attack; choose from "
                              f"{', '.join(GAN_DATASETS)}")
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; choose from {', '.join(MODES)}")
        positive = ("participants", "rounds", "local_epochs", "batch_size", "generator_steps",
                    "generator_batch", "latent_dim", "eval_every", "samples")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.victim_class, bool) or not isinstance(self.victim_class, int) or not (
                0 <= self.victim_class < 10):  # digits and MNIST both have 10 classes
            raise ConfigError(f"victim class {self.victim_class!r} is not a class of "
                              f"{self.dataset} (0..9)")
        floats = ("lr", "generator_lr", "fake_fraction", "diversity", "noise_multiplier",
                  "max_grad_norm", "delta")
        bad = [n for n in floats if not math.isfinite(getattr(self, n))]
        if bad:
            raise ConfigError(f"{bad[0]} must be a finite number, got {getattr(self, bad[0])}")
        if self.diversity < 0:
            raise ConfigError(f"diversity must be >= 0, got {self.diversity}")
        if self.participants < 2:
            raise ConfigError("the GAN attack needs at least 2 participants (victim, adversary)")
        for name in ("lr", "generator_lr", "fake_fraction", "noise_multiplier", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 < self.delta < 1:
            raise ConfigError(f"delta must lie in (0, 1), got {self.delta}")

    def replace(self, **changes: Any) -> GANAttackConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _shuffled(images: Tensor, labels: Tensor, gen: torch.Generator) -> PrivateBatch:
    order = torch.randperm(len(labels), generator=gen)
    return PrivateBatch(images[order], labels[order])


def _fedavg(model: nn.Module, batch: PrivateBatch, cfg: GANAttackConfig) -> SharedUpdate:
    """One honest FedAvg update: ``local_epochs`` passes of minibatch SGD over ``batch``."""
    steps = cfg.local_epochs * math.ceil(len(batch) / cfg.batch_size)
    return Participant(model).fedavg(batch, local_steps=steps, lr=cfg.lr,
                                     minibatch_size=cfg.batch_size)


class GANAdversary:
    """The insider of Hitaj et al.: a participant that trains a generator on the shared model.

    It holds its own data and a generator, and every round it sees only what every participant
    sees: the shared model. Nothing of the victim's reaches it except through that model.

    Args:
        images: the adversary's own training images (none of the victim's class).
        labels: their labels.
        target_class: the victim's class, which the generator learns to imitate.
        fake_class: the extra output unit the active adversary labels its samples with.
        generator: the generator (trained in place).
        config: the run's settings (``mode``, ``generator_*``, ``fake_fraction``, ``seed``).
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        target_class: int,
        fake_class: int,
        generator: Generator,
        config: GANAttackConfig,
    ) -> None:
        if (torch.as_tensor(labels) == target_class).any():
            raise DataError("the adversary must not hold examples of the victim's class")
        self.images, self.labels = images, torch.as_tensor(labels)
        self.target_class, self.fake_class = target_class, fake_class
        self.generator = generator
        self.config = config
        self.optimizer = torch.optim.Adam(generator.parameters(), lr=config.generator_lr,
                                          betas=(0.5, 0.999))
        self.noise = torch.Generator().manual_seed(config.seed + 17)
        self.first_model: nn.Module | None = None

    def _z(self, n: int) -> Tensor:
        return torch.randn(n, self.generator.latent_dim, generator=self.noise)

    def train_generator(self, discriminator: nn.Module) -> float:
        """``generator_steps`` Adam steps towards inputs ``discriminator`` puts in the class.

        The loss is the cross entropy of the target class on a batch of generated images,
        minus ``diversity`` times the mode-seeking ratio of Mao et al. (2019): the mean pixel
        distance of two halves of the batch over the distance of their noise vectors, which
        keeps different noise from collapsing onto one image.

        Returns:
            The discriminator's mean probability of the target class on the last batch.
        """
        cfg = self.config
        d = copy.deepcopy(discriminator).eval()
        for p in d.parameters():
            p.requires_grad_(False)
        target = torch.full((cfg.generator_batch,), self.target_class)
        h = cfg.generator_batch // 2
        self.generator.train()
        for _ in range(cfg.generator_steps):
            self.optimizer.zero_grad()
            z = self._z(cfg.generator_batch)
            x = self.generator(z)
            logits = d(x)
            loss = F.cross_entropy(logits, target)
            if cfg.diversity and h:
                spread = (x[:h] - x[h : 2 * h]).abs().flatten(1).mean(1)
                ratio = spread / (z[:h] - z[h : 2 * h]).abs().mean(1)
                loss = loss - cfg.diversity * ratio.mean()
            loss.backward()
            self.optimizer.step()
        self.generator.eval()
        return float(F.softmax(logits.detach(), -1)[:, self.target_class].mean())

    def generate(self, z: Tensor) -> Tensor:
        """The generator's images for the noise ``z`` (eval mode, no autograd)."""
        self.generator.eval()
        with torch.no_grad():
            return self.generator(z)

    def update(self, model: nn.Module, gen: torch.Generator) -> SharedUpdate:
        """The adversary's round: train the generator, then share a FedAvg update.

        Args:
            model: the shared model of this round, as every participant receives it.
            gen: the generator of the round's shuffles.
        """
        cfg = self.config
        if self.first_model is None:
            self.first_model = copy.deepcopy(model)
        self.train_generator(self.first_model if cfg.mode == "untrained" else model)
        images, labels = self.images, self.labels
        if cfg.mode == "active":
            n_fake = max(1, round(cfg.fake_fraction * len(labels)))
            fakes = self.generate(self._z(n_fake))
            images = torch.cat([images, fakes])
            labels = torch.cat([labels, torch.full((n_fake,), self.fake_class)])
        return _fedavg(model, _shuffled(images, labels, gen), cfg)


class _DPVictim:
    """The victim's local training with DP-SGD (Opacus), one privacy accountant for all rounds."""

    def __init__(self, images: Tensor, labels: Tensor, config: GANAttackConfig) -> None:
        from opacus import PrivacyEngine

        self.images, self.labels, self.config = images, labels, config
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Opacus's note that its secure RNG is off
            self.engine = PrivacyEngine(accountant="rdp")
        self.rounds = 0

    def update(self, model: nn.Module) -> SharedUpdate:
        from torch.utils.data import DataLoader, TensorDataset

        cfg = self.config
        self.rounds += 1
        local = copy.deepcopy(model)
        start = [p.detach().clone() for p in local.parameters()]
        optimizer = torch.optim.SGD(local.parameters(), lr=cfg.lr)
        loader = DataLoader(TensorDataset(self.images, self.labels), batch_size=cfg.batch_size)
        noise = torch.Generator().manual_seed(cfg.seed * 100_003 + self.rounds)
        with warnings.catch_warnings(), torch.random.fork_rng():
            warnings.simplefilter("ignore")  # Opacus's notes on backward hooks
            torch.manual_seed(cfg.seed * 100_003 + self.rounds)  # Poisson sampling's draws
            private, optimizer, loader = self.engine.make_private(
                module=local, optimizer=optimizer, data_loader=loader,
                noise_multiplier=cfg.noise_multiplier, max_grad_norm=cfg.max_grad_norm,
                noise_generator=noise,
            )
            steps = 0
            for _ in range(cfg.local_epochs):
                for x, y in loader:
                    optimizer.zero_grad()
                    F.cross_entropy(private(x), y).backward()
                    optimizer.step()
                    steps += 1
            private._close()
        delta = [p.detach() - s for p, s in zip(local.parameters(), start, strict=True)]
        n_classes = int(model(self.images[:1]).shape[-1])
        return SharedUpdate(
            model=copy.deepcopy(model), tensors=tuple(delta), kind="weight_delta",
            batch_size=len(self.labels), input_shape=tuple(self.images.shape[1:]),
            num_classes=n_classes, local_steps=steps, lr=cfg.lr,
        )

    def epsilon(self) -> float:
        """The privacy spent so far, at the config's ``delta``."""
        return float(self.engine.get_epsilon(self.config.delta))


@dataclass
class Federation:
    """The data of one run: who holds what, the test set and the evaluation classifier.

    Attributes:
        data: the dataset.
        parts: each participant's ``(images, labels)``; 0 is the victim, 1 the adversary.
        test: ``(images, labels)`` for the main task's accuracy, held by nobody.
        evaluator: the evaluation classifier, trained on a split nobody holds (an MLP, unlike
            the shared LeNet); it never takes part in the run.
        evaluator_accuracy: its accuracy on the test set.
        evaluator_data: ``(images, labels)`` it was trained on (held by no participant).
        victim_mean: the real mean image of the victim's class (from the evaluator's split).
        victim_examples: 20 real images of the victim's class (from the evaluator's split).
    """

    data: ImageSet
    parts: list[tuple[Tensor, Tensor]]
    test: tuple[Tensor, Tensor]
    evaluator: nn.Module
    evaluator_accuracy: float
    evaluator_data: tuple[Tensor, Tensor]
    victim_mean: Tensor
    victim_examples: Tensor


def federation(config: GANAttackConfig | None = None, **changes: Any) -> Federation:
    """Split a real dataset for the GAN attack and train the evaluation classifier.

    The shuffled dataset is cut into the evaluator's third, a test sixth, and the federation's
    half. Of the federation's data the victim gets every example of ``victim_class`` and an
    equal share of the others; the adversary and the honest participants share the rest.

    Args:
        config: the run's settings (``dataset``, ``victim_class``, ``participants``, ``seed``).
        **changes: fields of the config to change.

    Raises:
        ConfigError: a victim class the dataset does not have, or too many participants.
    """
    cfg = (config or GANAttackConfig()).replace(**changes)
    limit = 6000 if cfg.dataset == "mnist" else None
    data = load_dataset(cfg.dataset, size=_NATIVE_SIZE[cfg.dataset], channels=1, limit=limit)
    k = len(data.classes)
    if not 0 <= cfg.victim_class < k:
        raise ConfigError(f"victim class {cfg.victim_class} is not a class of {data.name} "
                          f"(0..{k - 1})")
    gen = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(data), generator=gen)
    n = len(order)
    ev, test, fed = order[: n // 3], order[n // 3 : n // 2], order[n // 2 :]
    x, y = data.images, data.labels
    mine = fed[y[fed] == cfg.victim_class]
    rest = fed[y[fed] != cfg.victim_class]
    if len(rest) < cfg.participants:
        raise ConfigError(f"{len(rest)} examples cannot be shared by {cfg.participants} "
                          "participants")
    shares = torch.tensor_split(rest[torch.randperm(len(rest), generator=gen)], cfg.participants)
    parts = [torch.cat([mine, shares[0]])] + list(shares[1:])
    evaluator = train_evaluator(x[ev], y[ev], k, architecture="mlp", seed=cfg.seed + 1,
                                epochs=80)
    own = ev[y[ev] == cfg.victim_class]
    return Federation(
        data=data,
        parts=[(x[p], y[p]) for p in parts],
        test=(x[test], y[test]),
        evaluator=evaluator,
        evaluator_accuracy=accuracy(evaluator, x[test], y[test]),
        evaluator_data=(x[ev], y[ev]),
        victim_mean=class_means(x[ev], y[ev], k)[cfg.victim_class],
        victim_examples=x[own[:20]],
    )


@dataclass
class GANAttackResult:
    """What a run of :func:`gan_attack` produced.

    Attributes:
        config: the settings.
        evaluated: the rounds after which the generator was judged (0: before the first).
        recognised: for each of them, the fraction of the generator's samples the evaluation
            classifier assigns to the victim's class.
        similarity: for each of them, the mean correlation of a sample with the victim class's
            real mean image.
        snapshots: for each of them, the first ten samples (from fixed noise).
        accuracy: the shared model's test accuracy before the first round and after each (a
            prediction of the fake class counts as wrong).
        victim_accuracy: the same on the test images of the victim's class only.
        samples: the final ``samples`` generated images.
        epsilon: the DP victim's privacy spent (at ``delta``), None without DP.
        chance: the recognised fraction of a random guess, ``1 / number of classes``.
        class_name: the name of the victim's class.
        seconds: wall-clock time of the run.
    """

    config: GANAttackConfig
    evaluated: list[int] = field(default_factory=list)
    recognised: list[float] = field(default_factory=list)
    similarity: list[float] = field(default_factory=list)
    snapshots: list[Tensor] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    victim_accuracy: list[float] = field(default_factory=list)
    samples: Tensor | None = None
    epsilon: float | None = None
    chance: float = 0.0
    class_name: str = ""
    seconds: float = 0.0

    def _late(self, values: list[float]) -> float | None:
        late = [v for r, v in zip(self.evaluated, values, strict=True)
                if r > self.config.rounds / 2]
        return sum(late) / len(late) if late else None

    @property
    def late_recognised(self) -> float | None:
        """The recognised fraction averaged over the evaluations of the run's second half.

        A GAN's samples change from round to round, so one evaluation is a noisy measure.
        """
        return self._late(self.recognised)

    @property
    def late_similarity(self) -> float | None:
        """The similarity to the class mean averaged over the run's second half."""
        return self._late(self.similarity)

    def as_dict(self) -> dict[str, Any]:
        """The numbers (not the images) as plain Python values, ready for ``json.dump``."""
        return {
            "config": dataclasses.asdict(self.config),
            "evaluated": self.evaluated,
            "recognised": self.recognised,
            "similarity": self.similarity,
            "accuracy": self.accuracy,
            "victim_accuracy": self.victim_accuracy,
            "final_recognised": self.recognised[-1] if self.recognised else None,
            "late_recognised": self.late_recognised,
            "late_similarity": self.late_similarity,
            "final_accuracy": self.accuracy[-1] if self.accuracy else None,
            "epsilon": self.epsilon,
            "chance": self.chance,
            "class_name": self.class_name,
            "seconds": round(self.seconds, 3),
        }


def gan_attack(
    config: GANAttackConfig | None = None,
    *,
    setting: Federation | None = None,
    **changes: Any,
) -> GANAttackResult:
    """Run federated learning with a GAN adversary and judge its generator round by round.

    Every round each participant receives the shared model and shares a FedAvg update: the
    honest ones and the victim by ``local_epochs`` of SGD (the victim with DP-SGD if
    ``dp_victim``), the adversary by :meth:`GANAdversary.update`. The server averages them,
    weighted by data size, and applies the average. The shared model is the book's LeNet with
    ReLU and one output more than the dataset has classes: the fake class.

    Args:
        config: settings; default :class:`GANAttackConfig`.
        setting: the data split and evaluator from :func:`federation` (made from the config if
            None; pass one to compare several runs on the same data).
        **changes: fields of the config to change, e.g. ``mode="passive"``.

    Returns:
        A :class:`GANAttackResult`.

    Raises:
        ConfigError: a bad setting.
    """
    cfg = (config or GANAttackConfig()).replace(**changes)
    fed = setting if setting is not None else federation(cfg)
    if len(fed.parts) != cfg.participants:
        raise ConfigError(f"the federation has {len(fed.parts)} participants, the config "
                          f"{cfg.participants}")
    started = time.perf_counter()
    k = len(fed.data.classes)
    shape = tuple(fed.data.images.shape[1:])
    model = LeNet(shape[0], k + 1, shape[1], activation="relu", init="default", seed=cfg.seed)
    generator = Generator(cfg.latent_dim, shape, seed=cfg.seed + 2)  # type: ignore[arg-type]
    adversary = GANAdversary(*fed.parts[1], cfg.victim_class, k, generator, cfg)
    victim_dp = _DPVictim(*fed.parts[0], cfg) if cfg.dp_victim else None
    z_fixed = torch.randn(cfg.samples, cfg.latent_dim,
                          generator=torch.Generator().manual_seed(cfg.seed + 9))
    x_test, y_test = fed.test
    mask = y_test == cfg.victim_class
    result = GANAttackResult(cfg, chance=1.0 / k, class_name=fed.data.classes[cfg.victim_class])

    def judge(round_: int) -> None:
        samples = adversary.generate(z_fixed)
        result.evaluated.append(round_)
        result.recognised.append(recognised_fraction(fed.evaluator, samples, cfg.victim_class))
        result.similarity.append(
            float(correlation(samples, fed.victim_mean.expand_as(samples)).mean()))
        result.snapshots.append(samples[:10])
        result.samples = samples

    def measure() -> None:
        result.accuracy.append(accuracy(model, x_test, y_test))
        result.victim_accuracy.append(accuracy(model, x_test[mask], y_test[mask]))

    measure()
    judge(0)
    gen = torch.Generator().manual_seed(cfg.seed + 3)
    for r in tqdm(range(1, cfg.rounds + 1), desc=f"GAN attack ({cfg.mode})",
                  disable=not cfg.progress, leave=False):
        updates = []
        for i, part in enumerate(fed.parts):
            if i == 1:
                updates.append(adversary.update(model, gen))
            elif i == 0 and victim_dp is not None:
                updates.append(victim_dp.update(model))
            else:
                updates.append(_fedavg(model, _shuffled(*part, gen), cfg))
        apply_update(model, aggregate(updates), "weight_delta")
        measure()
        if r % cfg.eval_every == 0 or r == cfg.rounds:
            judge(r)
    if victim_dp is not None:
        result.epsilon = victim_dp.epsilon()
    result.seconds = time.perf_counter() - started
    return result


def plot_rounds(result: GANAttackResult, real: Tensor | None = None, *, title: str | None = None):
    """The generator's samples round by round (one row per evaluation), real examples below.

    Each row is labelled with its round and the fraction of samples the evaluation classifier
    recognised as the victim's class.

    Args:
        result: a :class:`GANAttackResult`.
        real: a few real images of the victim's class (the last row), or None.
        title: the figure's title.

    Returns:
        A matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from ..viz import image_grid

    rows = [(f"round {r}: {f:.0%}", s) for r, f, s in
            zip(result.evaluated, result.recognised, result.snapshots, strict=True)]
    if real is not None:
        rows.append(("real (victim's)", real[:10]))
    fig, axes = plt.subplots(len(rows), 1, figsize=(6.5, 0.62 * len(rows) + 0.6), squeeze=False)
    for ax, (label, batch) in zip(axes[:, 0], rows, strict=True):
        ax.imshow(image_grid(batch, nrow=10, padding=1), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title or f"generated '{result.class_name}' ({result.config.mode} adversary): "
                 "share recognised by the evaluation classifier", fontsize=9)
    fig.tight_layout()
    return fig


def plot_curves(results: dict[str, GANAttackResult], *, title: str | None = None):
    """Three panels per round: the recognised fraction, the test accuracy, that on the class.

    Args:
        results: runs by name (the legend).
        title: the figure's title.

    Returns:
        A matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    chance = None
    for i, (name, res) in enumerate(results.items()):
        style = {"color": f"C{i}", "label": name, "lw": 1.5, "ls": ("-", "--", ":", "-.")[i % 4]}
        axes[0].plot(res.evaluated, [100 * f for f in res.recognised], marker="o", ms=3,
                     **style)
        rounds = range(len(res.accuracy))
        axes[1].plot(rounds, [100 * a for a in res.accuracy], **style)
        axes[2].plot(rounds, [100 * a for a in res.victim_accuracy], alpha=0.8, **style)
        chance = res.chance
    if chance is not None:
        axes[0].axhline(100 * chance, color="grey", ls="--", lw=1, label="chance")
    titles = ("samples recognised as the victim's class", "main task: all test images",
              "main task: test images of the victim's class")
    ylabels = ("recognised by the evaluation classifier (%)", "test accuracy (%)",
               "test accuracy (%)")
    for ax, t, y in zip(axes, titles, ylabels, strict=True):
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("communication round")
        ax.set_ylabel(y)
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
