"""The federation the GAN attack runs in, and the run itself.

:func:`federation` splits real digits between a victim that alone holds one class, the
adversary and honest others, and trains the independent evaluation classifier on data no
participant holds. :func:`gan_attack` runs FedAvg rounds (the victim optionally with DP-SGD
through Opacus), lets the :class:`~dlgtut.attacks.inversion.gan.GANAdversary` act every round,
and judges its generator every few rounds.

Both take a ``device``: the shared model, the generator and the evaluation classifier live and
train there, while the data, the noise draws and the judged samples stay on the CPU.
"""

from __future__ import annotations

import copy
import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ...checks import as_model_input, instance
from ...data import ImageSet, load_dataset
from ...device import device_generator, model_device, resolve_device
from ...errors import ConfigError
from ...fl import SharedUpdate
from ...models import LeNet
from ...server import accuracy, aggregate, apply_update
from .evaluation import class_means, correlation, recognised_fraction, train_evaluator
from .gan import (
    _NATIVE_SIZE,
    GANAdversary,
    GANAttackConfig,
    Generator,
    _fedavg,
    _shuffled,
)

__all__ = [
    "Federation",
    "federation",
    "GANAttackResult",
    "gan_attack",
    "plot_rounds",
    "plot_curves",
]

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
        device = model_device(local)
        start = [p.detach().clone() for p in local.parameters()]
        optimizer = torch.optim.SGD(local.parameters(), lr=cfg.lr)
        images, labels = as_model_input(local, self.images), self.labels.to(device)
        loader = DataLoader(TensorDataset(images, labels), batch_size=cfg.batch_size)
        # Opacus draws the noise on the model's device, with a generator there.
        noise = device_generator(cfg.seed * 100_003 + self.rounds, device)
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
        with torch.no_grad():
            n_classes = int(model(images[:1]).shape[-1])
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


def federation(config: GANAttackConfig | None = None, *, device: str | torch.device = "cpu",
               **changes: Any) -> Federation:
    """Split a real dataset for the GAN attack and train the evaluation classifier.

    The shuffled dataset is cut into the evaluator's third, a test sixth, and the federation's
    half. Of the federation's data the victim gets every example of ``victim_class`` and an
    equal share of the others; the adversary and the honest participants share the rest.

    Args:
        config: the run's settings (``dataset``, ``victim_class``, ``participants``, ``seed``).
        device: where the evaluation classifier trains and stays (the data stay on the CPU).
        **changes: fields of the config to change.

    Raises:
        ConfigError: a victim class the dataset does not have, too many participants, an
            unknown setting, or a device this machine does not have.
        WrongTypeError: ``config`` is not a GANAttackConfig.
    """
    cfg = GANAttackConfig() if config is None else instance(config, GANAttackConfig, "config")
    cfg = cfg.replace(**changes)
    device = resolve_device(device)
    limit = 6000 if cfg.dataset == "mnist" else None
    data = load_dataset(cfg.dataset, size=_NATIVE_SIZE[cfg.dataset], channels=1, limit=limit,
                        fallback=cfg.fallback)
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
                                epochs=80, device=device)
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
    device: str | torch.device = "cpu",
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
        device: where the shared model, the participants' training and the generator run
            (their weights are drawn on the CPU first; the samples come back to the CPU).
        **changes: fields of the config to change, e.g. ``mode="passive"``.

    Returns:
        A :class:`GANAttackResult`.

    Raises:
        ConfigError: a bad setting (an unknown one included), or a device this machine does
            not have.
        WrongTypeError: ``config`` is not a GANAttackConfig, or ``setting`` not a Federation.
    """
    cfg = GANAttackConfig() if config is None else instance(config, GANAttackConfig, "config")
    cfg = cfg.replace(**changes)
    device = resolve_device(device)
    if setting is not None:
        instance(setting, Federation, "setting")
    fed = setting if setting is not None else federation(cfg, device=device)
    if len(fed.parts) != cfg.participants:
        raise ConfigError(f"the federation has {len(fed.parts)} participants, the config "
                          f"{cfg.participants}")
    started = time.perf_counter()
    k = len(fed.data.classes)
    shape = tuple(fed.data.images.shape[1:])
    model = LeNet(shape[0], k + 1, shape[1], activation="relu", init="default",
                  seed=cfg.seed).to(device)
    generator = Generator(cfg.latent_dim, shape, seed=cfg.seed + 2)  # type: ignore[arg-type]
    generator = generator.to(device)
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

    from ...viz import image_grid

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
