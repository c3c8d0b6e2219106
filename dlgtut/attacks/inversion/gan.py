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

This module holds the adversary (:class:`GANAdversary`, its :class:`Generator`) and the
settings (:class:`GANAttackConfig`); :mod:`~dlgtut.attacks.inversion.gan_federation` runs the
federation (FedAvg with :func:`~dlgtut.server.aggregate` and
:func:`~dlgtut.server.apply_update`). The victim can train with DP-SGD (Opacus), which bounds
what its updates reveal about any one record, but not about its class. The generated samples
are judged by an independent evaluation classifier that never takes part
(:func:`~dlgtut.attacks.inversion.evaluation.train_evaluator`), trained on data no participant
holds.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...checks import flag, instance, integer, number, replace
from ...checks import seed as check_seed
from ...checks import tensor as check_tensor
from ...device import model_device
from ...errors import ConfigError, DataError
from ...fl import Participant, PrivateBatch, SharedUpdate, as_labels
from ...seeding import seeded

__all__ = [
    "Generator",
    "GANAttackConfig",
    "GANAdversary",
    "GAN_DATASETS",
    "MODES",
]

GAN_DATASETS = ("digits", "mnist")
"""Datasets :func:`federation` accepts (``mnist`` needs a download; see ``fallback``)."""

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
        seed: if given, the weights are drawn right after ``torch.manual_seed(seed)``, on a fork
            of the global generator that leaves it as it was (:func:`dlgtut.seeding.seeded`).

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
        integer(latent_dim, "latent_dim")
        integer(hidden, "hidden")
        if isinstance(image_shape, str) or not isinstance(image_shape, tuple | list):
            raise ConfigError(f"image_shape must be (C, H, W), got {image_shape!r}")
        for s in image_shape:
            integer(s, "every entry of image_shape")
        if seed is not None:
            check_seed(seed)
        if min(latent_dim, hidden, *image_shape) < 1 or len(image_shape) != 3:
            raise ConfigError(f"generator sizes must be positive: latent_dim={latent_dim}, "
                              f"image_shape={tuple(image_shape)}, hidden={hidden}")
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        with seeded(seed):  # the global generator is left as it was (dlgtut.seeding)
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
        fallback: where ``mnist`` cannot be downloaded, use ``digits`` instead of failing.
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
    fallback: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, str) or self.dataset not in GAN_DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r} for the GAN attack; choose from "
                              f"{', '.join(GAN_DATASETS)}")
        if not isinstance(self.mode, str) or self.mode not in MODES:
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
        for name in floats:  # finite numbers; a string or a bool was a TypeError or passed
            number(getattr(self, name), name)
        flag(self.dp_victim, "dp_victim")
        flag(self.progress, "progress")
        flag(self.fallback, "fallback")
        check_seed(self.seed, high=2**63 - 1 - 17)  # the run seeds its parts with seed + k
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
        """A copy with some fields changed (an unknown field is a ConfigError)."""
        return replace(self, changes)


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

    The generator trains on its own device (the shared model is copied there as the
    discriminator); its noise is drawn on the CPU from the seeded generator, so a seed gives the
    same noise everywhere, and :meth:`generate` returns images on the CPU.

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
        check_tensor(images, "images", ndim=4, shape="N x C x H x W", unit=True, floating=True)
        labels = as_labels(labels)
        if len(labels) != len(images):
            raise DataError(f"need one label per image: {len(images)} images, {len(labels)} "
                            "labels")
        integer(target_class, "target_class", low=0)
        integer(fake_class, "fake_class", low=0)
        instance(generator, Generator, "generator")
        instance(config, GANAttackConfig, "config")
        if tuple(generator.image_shape) != tuple(images.shape[1:]):
            raise DataError(f"the generator makes images of shape {generator.image_shape}, the "
                            f"adversary holds {tuple(images.shape[1:])}")
        if (labels == target_class).any():
            raise DataError("the adversary must not hold examples of the victim's class")
        self.images, self.labels = images, labels
        self.target_class, self.fake_class = target_class, fake_class
        self.generator = generator
        self.config = config
        self.optimizer = torch.optim.Adam(generator.parameters(), lr=config.generator_lr,
                                          betas=(0.5, 0.999))
        self.noise = torch.Generator().manual_seed(config.seed + 17)
        self.first_model: nn.Module | None = None

    def _z(self, n: int) -> Tensor:
        z = torch.randn(n, self.generator.latent_dim, generator=self.noise)
        return z.to(model_device(self.generator))

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
        device = model_device(self.generator)
        d = copy.deepcopy(discriminator).eval().to(device)
        for p in d.parameters():
            p.requires_grad_(False)
        target = torch.full((cfg.generator_batch,), self.target_class, device=device)
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
        """The generator's images for the noise ``z`` (eval mode, no autograd), on the CPU."""
        self.generator.eval()
        with torch.no_grad():
            return self.generator(z.to(model_device(self.generator))).cpu()

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


