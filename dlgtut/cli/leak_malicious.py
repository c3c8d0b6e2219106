"""``python -m dlgtut leak --attack imprint|trap``: a malicious server reads images off updates.

The server builds its malicious model from public data: an imprint block (Robbing the Fed) or
trap weights in front of the ordinary ``--model``. The private batch is either the reader's own
photos (``--image``, read as ``leak`` reads them for DLG) or ``--batch-size`` consecutive images
of ``--dataset`` per participant. Each of ``--participants`` honest participants computes the
FedSGD update of its share on that model (the ``--image`` files are split into that many equal
consecutive parts); with more than one participant the server sees only their secure aggregate.
The attack reads images off that in closed form.

The public data are ``--public-data``'s images at the private images' size and channels (it is
needed with ``--image``), else the ``--dataset``'s other images, at most
:data:`PUBLIC_LIMIT`. They never hold a private image: the batch's own indices are left out when
both are the same dataset (always, without ``--public-data``), and with ``--public-data`` so is
every image within :data:`~dlgtut.metrics.EXACT_PSNR_DB` of a private one (``photos`` and the
``1 x 1`` tiles of ``patches`` are the same pictures, say).

``DIR`` receives ``metrics.json`` (the fraction of images recovered above 40 dB, the PSNR of
every image, how many bins were hit, how many images of each participant came back, where the
private batch came from under ``input`` and the public data's name and source under
``public_data``), ``reconstruction.npy`` (float32, ``N x C x H x W`` in [0, 1], image ``i`` the
reconstruction paired with input ``i``), ``reconstruction.png`` (the images beside what came
back) and ``breach.png`` (the PSNR of every image, and how the images fell into the bins), in
place of the optimisation attacks' ``progress.png`` and ``progress.gif``.
"""

from __future__ import annotations

from ..errors import ConfigError
from .common import (
    IMAGE_CLASSES,
    check_labels,
    image_files,
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
        "closed form; the private batch is your --image files (with --public-data; --label "
        "optional, default 0 for every image) or --dataset images (--index, --batch-size: "
        "consecutive images, labels may repeat); --size, --channels, --num-classes, --model "
        "and --seed apply too; writes breach.png instead of progress.png/.gif",
    )
    g.add_argument("--public-data", default=None, metavar="NAME",
                   help="the server's public data, from which it builds its model: a dataset "
                   "(the names --dataset takes) at the private images' size and channels; "
                   "needed with --image (default with --dataset: that dataset's other images). "
                   "Never holds a private image: the batch's own images (same dataset) and "
                   "any image within 40 dB PSNR of a private one are left out")
    g.add_argument("--bins", type=positive_int("--bins", 65_536), default=None, metavar="N",
                   help="rows of the malicious block: imprint bins (default 4 per image in the "
                   "update) or trap rows (default 16 per image)")
    g.add_argument("--participants", type=positive_int("--participants", MAX_PARTICIPANTS),
                   default=None, metavar="K",
                   help="K participants with --batch-size images each (--image files: split "
                   "into K equal consecutive parts); the server sees only their secure "
                   "aggregate (default 1: one participant's update)")
    g.add_argument("--statistic", choices=("brightness", "random"), default=None,
                   help="what the imprint bins by: mean brightness (default) or a random "
                   "projection")


def check(args) -> None:
    """Refuse what a malicious-server run cannot use, in one line, before any work.

    ``leak`` has checked that exactly one of ``--image`` and ``--dataset`` is given.
    """
    malicious = args.attack in ATTACKS
    only_with(args, {
        "public_data": (malicious, "to --attack imprint or trap"),
        "bins": (malicious, "to --attack imprint or trap"),
        "participants": (malicious, "to --attack imprint or trap"),
        "statistic": (args.attack == "imprint", "to --attack imprint"),
    })
    if not malicious:
        return
    if args.image is not None:
        if args.public_data is None:
            raise ConfigError(f"--attack {args.attack} --image needs --public-data NAME: the "
                              "dataset the server builds its model from")
        n, k = len(args.image), args.participants or 1
        if k > n:
            raise ConfigError(f"--participants {k} but {n} --image file(s): every participant "
                              "needs at least one")
        if n % k:
            raise ConfigError(f"--participants {k} does not divide the {n} --image files "
                              "evenly")
        if args.batch_size not in (None, n // k):
            raise ConfigError(f"--batch-size {args.batch_size} but {n} --image file(s) make "
                              f"{n // k} for each of {k} participant(s)")
    only_with(args, {name: (False, f"to the optimisation attacks, not --attack {args.attack}")
                     for name in _OPTIMISATION_ONLY})


def _private(args):
    """The private images and labels (every participant's, in order), how ``metrics.json``
    records them, the dataset they come from (None for ``--image``), its indices, and the
    model's classes."""
    import torch

    from ..data import load_dataset

    if args.image is not None:
        images, source = image_files(args.image, size=args.size, channels=args.channels)
        num_classes = args.num_classes or IMAGE_CLASSES
        labels = torch.tensor(args.label or [0] * len(images))
        check_labels(labels, num_classes)
        return images, labels, source, None, None, num_classes
    data = load_dataset(args.dataset, size=args.size, channels=args.channels, root=args.data_dir,
                        fallback=args.fallback)
    num_classes = args.num_classes or len(data.classes)
    if int(data.labels.max()) >= num_classes:
        raise ConfigError(f"{data.name} has labels up to {int(data.labels.max())}, outside the "
                          f"model's {num_classes} classes; pass --num-classes")
    k, b = args.participants or 1, args.batch_size or 1
    index, n = args.index or 0, len(data)
    if index >= n:
        raise ConfigError(f"--index must lie in [0, {n - 1}] for {data.name}")
    spare = 0 if args.public_data is not None else 2  # the public data are the others
    if k * b > n - spare:
        raise ConfigError(f"{k} participant(s) x {b} images need {k * b} of {data.name}'s {n} "
                          "images" + (", and the server needs 2 more as public data" if spare
                                      else ""))
    images, labels, indices = data.batch(index, k * b, distinct_labels=False)
    source = {"dataset": data.name, "requested": args.dataset, "indices": indices,
              "source": data.source}
    return images, labels, source, data, indices, num_classes


def _public(args, images, data, indices):
    """The server's public images, the set they come from, and how many near copies of
    private images were left out (None: not looked for, the default public data)."""
    import torch

    from ..data import load_dataset
    from ..metrics import EXACT_PSNR_DB

    c, h = images.shape[1], images.shape[2]
    public_set = data
    if args.public_data is not None:
        public_set = load_dataset(args.public_data, size=h, channels=c, root=args.data_dir,
                                  fallback=args.fallback)
        if data is not None and (public_set.name, public_set.source) == (data.name, data.source):
            public_set = data  # the same dataset (a fallback's included): same images
    n = len(public_set)
    keep = torch.ones(n, dtype=torch.bool)
    if public_set is data:
        keep[torch.tensor(indices)] = False  # the private batch's own images
        if int(keep.sum()) < 2:
            k, b = args.participants or 1, args.batch_size or 1
            raise ConfigError(f"{k} participant(s) x {b} images need {k * b} of {data.name}'s "
                              f"{n} images, and the server needs 2 more as public data")
    copies = None
    if args.public_data is not None:
        # Near copies of a private image (photos and patches share pictures): mean squared
        # error under the exact-recovery threshold, looked at in blocks until enough are kept.
        limit = 10 ** (-EXACT_PSNR_DB / 10)
        private = images.flatten(1).double()
        copies, kept = 0, 0
        for start in range(0, n, PUBLIC_LIMIT):
            block = torch.arange(start, min(n, start + PUBLIC_LIMIT))
            block = block[keep[block]]
            if not len(block):
                continue
            mse = torch.cdist(public_set.images[block].flatten(1).double(), private).square()
            near = (mse / private.shape[1] < limit).any(dim=1)
            keep[block[near]] = False
            copies += int(near.sum())
            kept += len(block) - int(near.sum())
            if kept >= PUBLIC_LIMIT:  # the rest would not be used
                break
    chosen = keep.nonzero().flatten()[:PUBLIC_LIMIT]
    if len(chosen) < 2:
        raise ConfigError(f"--public-data {args.public_data} leaves the server {len(chosen)} "
                          f"of {public_set.name}'s {n} images ({copies} copies of private "
                          "images left out); it needs at least 2 public images")
    return public_set.images[chosen], public_set, copies


def run(args) -> int:
    """Run a malicious-server attack for ``leak`` (options checked by ``leak``)."""
    import numpy as np
    import torch

    from .. import viz
    from ..attacks.malicious import imprint_attack, imprint_model, trap_attack, trap_model
    from ..defenses import secure_aggregate
    from ..fl import Participant, PrivateBatch
    from ..metrics import EXACT_PSNR_DB, fraction_exact, score_images
    from ..models import build_model

    out = prepare_out(args.out)
    images, labels, source, data, indices, num_classes = _private(args)
    public, public_set, copies = _public(args, images, data, indices)
    k = args.participants or 1
    b = len(images) // k
    batches = [PrivateBatch(images[j * b:(j + 1) * b], labels[j * b:(j + 1) * b])
               for j in range(k)]
    total = len(images)
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
        "true_labels": labels.tolist(),
        "input": source,
        "public_data": {"dataset": public_set.name,
                        "requested": args.public_data or args.dataset,
                        "source": public_set.source, "images": int(public.shape[0]),
                        "same_as_private": public_set is data,
                        "copies_left_out": copies},
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
    private = (f"{total} --image file(s)" if data is None
               else f"{total} images of {data.name} from index {indices[0]}")
    left_out = f", {copies} copies of private images left out" if copies else ""
    print(f"Private batch: {private}. Public data: {public.shape[0]} images of "
          f"{public_set.name}{left_out} ({public_set.source}).")
    if server.rows < rows:
        warn(f"{rows} bins asked for, {server.rows} distinct: the public statistic has ties "
             "(try --statistic random)")
    if breach.status in ("failed", "noisy"):
        warn(breach.message)
    return 0
