"""``python -m dlgtut leak --attack imprint|trap``: a malicious server reads images off updates.

The server builds its malicious model from the dataset's other images (its public data): an
imprint block (Robbing the Fed) or trap weights in front of the ordinary ``--model``. Each of
``--participants`` honest participants computes the FedSGD update of ``--batch-size``
consecutive images of the dataset on that model; with more than one participant the server sees
only their secure aggregate. The attack reads images off that in closed form.

``DIR`` receives ``metrics.json`` (the fraction of images recovered above 40 dB, the PSNR of
every image, how many bins were hit, how many images of each participant came back),
``reconstruction.npy`` (float32, ``N x C x H x W`` in [0, 1], image ``i`` the reconstruction
paired with input ``i``), ``reconstruction.png`` (the images beside what came back) and
``breach.png`` (the PSNR of every image, and how the images fell into the bins), in place of
the optimisation attacks' ``progress.png`` and ``progress.gif``.
"""

from __future__ import annotations

from ..errors import ConfigError
from .common import (
    only_with,
    positive_int,
    prepare_out,
    save_figure,
    use_agg,
    warn,
    write_metrics,
)

__all__ = ["ATTACKS", "add_options", "check", "run"]

ATTACKS = ("imprint", "trap")
ROWS_PER_IMAGE = {"imprint": 4, "trap": 16}  # default --bins per image in the update
MAX_PARTICIPANTS = 1024
PUBLIC_LIMIT = 4096  # public images the server uses at most (the dataset's others)

# Options of the optimisation attacks that mean nothing for a closed-form read-out.
_OPTIMISATION_ONLY = ("local_steps", "local_lr", "iterations", "labels", "init", "optimizer",
                      "distance", "stop_distance", "restarts", "snapshot_every")


def add_options(parser) -> None:
    """The malicious-server options of ``leak``."""
    g = parser.add_argument_group(
        "malicious server (--attack imprint or trap)",
        "the server sends a model with a block in front and reads images off the update in "
        "closed form; --dataset, --index, --batch-size (consecutive images, labels may "
        "repeat), --size, --channels, --model and --seed apply too; writes breach.png instead "
        "of progress.png/.gif",
    )
    g.add_argument("--bins", type=positive_int("--bins", 65_536), default=None, metavar="N",
                   help="rows of the malicious block: imprint bins (default 4 per image in the "
                   "update) or trap rows (default 16 per image)")
    g.add_argument("--participants", type=positive_int("--participants", MAX_PARTICIPANTS),
                   default=None, metavar="K",
                   help="K participants with --batch-size images each; the server sees only "
                   "their secure aggregate (default 1: one participant's update)")
    g.add_argument("--statistic", choices=("brightness", "random"), default=None,
                   help="what the imprint bins by: mean brightness (default) or a random "
                   "projection")


def check(args) -> None:
    """Refuse what a malicious-server run cannot use, in one line, before any work."""
    malicious = args.attack in ATTACKS
    only_with(args, {
        "bins": (malicious, "to --attack imprint or trap"),
        "participants": (malicious, "to --attack imprint or trap"),
        "statistic": (args.attack == "imprint", "to --attack imprint"),
    })
    if not malicious:
        return
    if args.dataset is None:
        raise ConfigError(f"--attack {args.attack} needs --dataset: the server's public data "
                          "are the dataset's other images")
    only_with(args, {name: (False, f"to the optimisation attacks, not --attack {args.attack}")
                     for name in _OPTIMISATION_ONLY})


def _batches(args, data):
    """The participants' private batches (consecutive images) and the server's public images."""
    import torch

    from ..fl import PrivateBatch

    k, b = args.participants or 1, args.batch_size or 1
    index, n = args.index or 0, len(data)
    if index >= n:
        raise ConfigError(f"--index must lie in [0, {n - 1}] for {data.name}")
    if k * b > n - 2:
        raise ConfigError(f"{k} participant(s) x {b} images need {k * b} of {data.name}'s {n} "
                          f"images, and the server needs 2 more as public data")
    images, labels, indices = data.batch(index, k * b, distinct_labels=False)
    taken = set(indices)
    public = [i for i in range(n) if i not in taken][:PUBLIC_LIMIT]
    batches = [PrivateBatch(images[j * b:(j + 1) * b], labels[j * b:(j + 1) * b])
               for j in range(k)]
    return batches, data.images[torch.tensor(public)], indices


def run(args) -> int:
    """Run a malicious-server attack for ``leak`` (options checked by ``leak``)."""
    import numpy as np
    import torch

    from .. import viz
    from ..attacks.malicious import imprint_attack, imprint_model, trap_attack, trap_model
    from ..data import load_dataset
    from ..defenses import secure_aggregate
    from ..fl import Participant
    from ..metrics import EXACT_PSNR_DB, fraction_exact, score_images
    from ..models import build_model

    out = prepare_out(args.out)
    data = load_dataset(args.dataset, size=args.size, channels=args.channels, root=args.data_dir)
    num_classes = args.num_classes or len(data.classes)
    if int(data.labels.max()) >= num_classes:
        raise ConfigError(f"{data.name} has labels up to {int(data.labels.max())}, outside the "
                          f"model's {num_classes} classes; pass --num-classes")
    batches, public, indices = _batches(args, data)
    total = sum(len(b) for b in batches)
    c, h, _ = public.shape[1:]
    model_name = args.model or "lenet"
    net = build_model(model_name, in_channels=c, num_classes=num_classes, image_size=h,
                      seed=args.seed, device=args.device)  # the server's model, on the device
    rows = args.bins or ROWS_PER_IMAGE[args.attack] * total
    if args.attack == "imprint":
        server = imprint_model(net, public, bins=rows, statistic=args.statistic or "brightness",
                               seed=args.seed)
        attack = imprint_attack
    else:
        server = trap_model(net, public, rows=rows, images=total, seed=args.seed)
        attack = trap_attack
    # What each honest participant shares; under secure aggregation the server sees the sum.
    updates = [Participant(server.model).fedsgd(b) for b in batches]
    update = secure_aggregate(updates) if len(updates) > 1 else updates[0]
    breach = attack(update, server)

    truth = torch.cat([b.images for b in batches])
    scores = score_images(breach.images, truth)
    exact = [p > EXACT_PSNR_DB for p in scores.per_image["psnr"]]
    per_participant = [sum(exact[j * len(b):(j + 1) * len(b)]) for j, b in enumerate(batches)]
    np.save(out / "reconstruction.npy",
            breach.images[scores.assignment].numpy().astype(np.float32))
    write_metrics(out, {
        "fraction_exact": fraction_exact(scores),
        "exact_threshold_db": EXACT_PSNR_DB,
        "images_exact": sum(exact),
        **scores.as_dict(),
        "attack": args.attack,
        "status": breach.status,
        "message": breach.message,
        "seconds": round(breach.seconds, 4),
        "rows": server.rows,
        "bins_requested": rows,
        "rows_hit": breach.hits,
        "readings": int(breach.recovered.sum()),
        "confirmed": None if breach.confirmed is None else int(breach.confirmed.sum()),
        "statistic": getattr(server, "statistic", None),
        "participants": len(batches),
        "batch_size": len(batches[0]),
        "images": total,
        "secure_aggregation": len(batches) > 1,
        "exact_per_participant": per_participant,
        "public_images": int(public.shape[0]),
        "model": model_name,
        "num_classes": num_classes,
        "seed": args.seed,
        "input": {"dataset": data.name, "requested": args.dataset, "indices": indices,
                  "source": data.source},
    }, device=args.device)

    use_agg()
    save_figure(viz.plot_breach_grid(truth, breach.images, scores), out / "reconstruction.png")
    save_figure(viz.plot_breach(scores.per_image["psnr"], server.occupancy(truth),
                                row_name="bin" if args.attack == "imprint" else "row"),
                out / "breach.png")
    whose = (f"{len(batches)} participants' secure aggregate" if len(batches) > 1
             else "one participant's update")
    print(f"{breach.status}: {sum(exact)} of {total} images above {EXACT_PSNR_DB:g} dB from "
          f"{whose} ({server.rows} {'bins' if args.attack == 'imprint' else 'rows'}, "
          f"{breach.seconds:.3f} s). Outputs in {out}")
    if server.rows < rows:
        warn(f"{rows} bins asked for, {server.rows} distinct: the public statistic has ties "
             "(try --statistic random)")
    if breach.status in ("failed", "noisy"):
        warn(breach.message)
    return 0
