"""Batches of real colour photos on the upstream code's LeNet: how large a batch DLG recovers.

The target the issue set: a batch of 8 colour photos, 32 x 32, distinct labels, on the paper's
LeNet (100 classes), mean PSNR >= 25 dB and every label right; and the largest batch at which
that still holds. For each batch size, 3 batches of held-out photo tiles (the `patches` set,
labels 3, 17, 42, ... distinct) are attacked with dlgtut's DLG (its default: the closed-form
start for one image, grey for batches, a second start to check identification) and with
Inverting Gradients (its TV prior can choose among the batches the gradient allows), within a
stated budget; the table gives the mean PSNR, the labels recovered, the status and the time,
beside the count of unknowns against constraints (dlgtut.attacks.identifiability). (The DLG
paper's batch table is not set beside it: that experiment ran on another network.)

Inverting Gradients runs at a reduced budget by default (2,000 steps, TV 1e-2, one trial); a
run at that budget that misses the target draws no conclusion about the attack, and the last
line says so. ``--ig-paper`` runs it at the reference code's settings carried into pixels
(IGConfig.paper(): 24,000 steps of 0.025 from 0.5 + 0.25 N(0, 1), TV 4e-4; about 2 minutes per
batch on 2 cores).

    .venv/bin/python benchmarks/dlg_batches.py               # about 15 minutes on 2 cores
    .venv/bin/python benchmarks/dlg_batches.py --sizes 1 2 4 --batches 1
    .venv/bin/python benchmarks/dlg_batches.py --sizes 1 2 --batches 1 --attacks ig --ig-paper
    python benchmarks/dlg_batches.py --device cuda --sizes 8 --attacks dlg

On ``--device cuda`` the model (its weights drawn on the CPU) and both attacks run on the GPU,
after one untimed warm-up that starts CUDA.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dlgtut.attacks import IGConfig, dlg, identifiability, inverting_gradients
from dlgtut.data import load_dataset
from dlgtut.device import resolve_device
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import score
from dlgtut.models import LeNet

DLG_ITERATIONS = 300
IG_REDUCED = IGConfig(iterations=2000, trials=1, tv_weight=1e-2, progress=False)


def batches(size: int, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    tiles = load_dataset("patches", size=32, channels=3)
    out = []
    for b in range(count):
        index = torch.arange(size) * 31 + b * 7 + 3  # spread over the photos
        labels = (torch.arange(size) * 13 + 3 + b) % 100  # distinct
        out.append((tiles.images[index % len(tiles)], labels))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--attacks", nargs="+", choices=("dlg", "ig"), default=["dlg", "ig"])
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--ig-paper", action="store_true",
                        help="Inverting Gradients at the reference code's settings (24,000 steps)")
    args = parser.parse_args()
    ig = IGConfig.paper(progress=False) if args.ig_paper else IG_REDUCED
    device = resolve_device(args.device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "the CPU"
    if device.type == "cuda":  # start CUDA and its kernels once, outside every timing
        x, y = batches(1, 1)[0]
        dlg(Participant(LeNet(seed=1234).to(device)).fedsgd(PrivateBatch(x, y)),
            iterations=5, progress=False)
    print(f"torch {torch.__version__} on {device} ({card}), {torch.get_num_threads()} threads; "
          f"the upstream code's LeNet, 100 classes, seed 1234; DLG up to "
          f"{DLG_ITERATIONS} steps, IG {ig.iterations:,} steps (TV {ig.tv_weight:g}, "
          f"{ig.trials} trial, start {ig.init})\n")
    cols = ["batch", "unknowns / constraints", "attack", "mean PSNR (dB)", "labels right",
            "status", "seconds", "target met"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    largest = {"dlg": 0, "ig": 0}
    for size in args.sizes:
        runs = batches(size, args.batches)
        x0, y0 = runs[0]
        count = identifiability(Participant(LeNet(seed=1234)).fedsgd(PrivateBatch(x0, y0)))
        for name in args.attacks:
            psnrs, labels_ok, statuses, seconds = [], [], [], []
            for x, y in runs:
                update = Participant(LeNet(seed=1234).to(device)).fedsgd(PrivateBatch(x, y))
                started = time.perf_counter()
                if name == "dlg":
                    rec = dlg(update, iterations=DLG_ITERATIONS, progress=False)
                else:
                    rec = inverting_gradients(update, ig)
                seconds.append(time.perf_counter() - started)
                s = score(rec.images, rec.labels, x, y)
                psnrs.append(s.psnr)
                labels_ok.append(s.label_accuracy == 1.0)
                statuses.append(rec.status)
            met = all(p >= 25 for p in psnrs) and all(labels_ok)
            if met:
                largest[name] = max(largest[name], size)
            print(f"| {size} | {count.unknowns:,} / {count.constraints:,} | {name} | "
                  f"{', '.join(f'{p:.1f}' for p in psnrs)} | {sum(labels_ok)}/{len(runs)} | "
                  f"{', '.join(sorted(set(statuses)))} | {statistics.median(seconds):.1f} | "
                  f"{'yes' if met else 'no'} |", flush=True)
    verdicts = []
    if "dlg" in args.attacks:
        verdicts.append(f"DLG {largest['dlg']}")
    if "ig" in args.attacks:
        verdicts.append(f"IG {largest['ig']}" if args.ig_paper or largest["ig"] else
                        f"IG: no conclusion, {ig.iterations:,} of the reference's 24,000 "
                        "steps (run with --ig-paper)")
    print(f"\nlargest batch with every batch >= 25 dB mean PSNR and every label right: "
          f"{', '.join(verdicts)} (of the sizes tried)")


if __name__ == "__main__":
    main()
