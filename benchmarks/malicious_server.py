"""When the server lies: how much of a batch a malicious model gives back, and how fast.

The issue's targets, on real 32 x 32 images (colour photo tiles, ``patches``, and handwritten
digits): a batch of 64 with at least half of its images recovered above 40 dB PSNR in under a
second of attack time; under secure aggregation of 8 participants with 8 images each, at least
a quarter of the 64. Each batch is the dataset's images from an index on; the server's public
data are the dataset's other images. The attack time is ``Breach.seconds``: the read-out alone,
from the update to the images (the first call, and the median of five more).

    .venv/bin/python benchmarks/malicious_server.py            # about a minute on 2 cores
    .venv/bin/python benchmarks/malicious_server.py --threads 1
    python benchmarks/malicious_server.py --device cuda   # model, participants, read-out on GPU
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from dlgtut.attacks.malicious import imprint_attack, imprint_model, trap_attack, trap_model
from dlgtut.data import load_dataset
from dlgtut.defenses import secure_aggregate
from dlgtut.device import resolve_device
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import fraction_exact, score_images
from dlgtut.models import LeNet

SEED = 1234


def run(data, *, index: int, participants: int, batch: int, method: str, rows: int,
        statistic: str = "brightness", device: str | torch.device = "cpu") -> dict:
    """One attack: build the malicious model, let the participants compute, read, score."""
    n = participants * batch
    images, labels, taken = data.batch(index, n, distinct_labels=False)
    public = data.images[[i for i in range(len(data)) if i not in set(taken)]]
    net = LeNet(images.shape[1], len(data.classes), images.shape[-1], seed=SEED).to(device)
    if method == "imprint":
        server = imprint_model(net, public, bins=rows, statistic=statistic, seed=SEED)
        attack = imprint_attack
    else:
        server = trap_model(net, public, rows=rows, images=n, seed=SEED)
        attack = trap_attack
    start = time.perf_counter()
    updates = [Participant(server.model).fedsgd(PrivateBatch(images[k * batch:(k + 1) * batch],
                                                             labels[k * batch:(k + 1) * batch]))
               for k in range(participants)]
    update = secure_aggregate(updates) if participants > 1 else updates[0]
    participants_s = time.perf_counter() - start
    breach = attack(update, server)
    repeats = [attack(update, server).seconds for _ in range(5)]
    scores = score_images(breach.images, images)
    return {"fraction": fraction_exact(scores), "exact": round(fraction_exact(scores) * n),
            "n": n, "rows": server.rows, "first_s": breach.seconds,
            "median_s": statistics.median(repeats), "participants_s": participants_s,
            "public": len(public)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    sets = {"photos": load_dataset("patches", size=32), "digits": load_dataset("digits", size=32)}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.machine()}, python {platform.python_version()}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    if device.type == "cuda":  # start CUDA and its kernels once, outside every timing
        run(sets["digits"], index=0, participants=1, batch=8, method="imprint", rows=16,
            device=device)
    print("exact = PSNR above 40 dB; photos = `patches` (270 colour photo tiles), digits = "
          "scikit-learn's 1797, both at 32 x 32; LeNet behind the block, seed 1234\n")

    rows = [
        # (what, dataset, participants, batch, method, rows, statistic, target)
        ("batch 64", "photos", 1, 64, "imprint", 256, "brightness", 0.5),
        ("batch 64", "digits", 1, 64, "imprint", 256, "brightness", 0.5),
        ("8 x 8, secure aggregation", "photos", 8, 8, "imprint", 256, "brightness", 0.25),
        ("8 x 8, secure aggregation", "digits", 8, 8, "imprint", 256, "brightness", 0.25),
        ("batch 64", "photos", 1, 64, "trap", 1024, "-", None),
        ("batch 64", "digits", 1, 64, "trap", 1024, "-", None),
        ("8 x 8, secure aggregation", "photos", 8, 8, "trap", 1024, "-", None),
        ("8 x 8, secure aggregation", "digits", 8, 8, "trap", 1024, "-", None),
        ("batch 256", "photos", 1, 256, "imprint", 1024, "brightness", None),
        ("batch 256", "digits", 1, 256, "imprint", 1024, "brightness", None),
        ("batch 256", "digits", 1, 256, "imprint", 1024, "random", None),
        ("32 x 8, secure aggregation", "digits", 32, 8, "imprint", 1024, "random", None),
    ]
    print("| setting | data | attack | rows | exact | fraction | target | attack s (first / "
          "median) | participants s | public images |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for what, name, k, b, method, r, stat, target in rows:
        res = run(sets[name], index=0, participants=k, batch=b, method=method, rows=r,
                  statistic="brightness" if stat == "-" else stat, device=device)
        label = method if method == "trap" else f"imprint ({stat})"
        verdict = "-" if target is None else (
            f">= {target:.2f}: {'met' if res['fraction'] >= target else 'MISSED'}")
        print(f"| {what} | {name} | {label} | {res['rows']} | {res['exact']}/{res['n']} | "
              f"{res['fraction']:.2f} | {verdict} | {res['first_s']:.3f} / "
              f"{res['median_s']:.3f} | {res['participants_s']:.2f} | {res['public']} |")

    print("\nOther batches of 64 (imprint, brightness, 256 bins): fraction above 40 dB")
    for name, starts in (("photos", (64, 128, 192)), ("digits", (64, 320, 640, 960, 1280))):
        got = [run(sets[name], index=i, participants=1, batch=64, method="imprint",
                   rows=256, device=device)["fraction"] for i in starts]
        print(f"- {name}, batches from index {', '.join(map(str, starts))}: "
              f"{', '.join(f'{g:.2f}' for g in got)} (mean {statistics.mean(got):.2f})")


if __name__ == "__main__":
    main()
