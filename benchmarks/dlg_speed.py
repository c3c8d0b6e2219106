"""Time to recovery and success rate: dlgtut's default DLG against the original loop.

Both attack the same real 32 x 32 images (photos, faces, digits, all as 3-channel images) with
the same model (the paper's LeNet, 100 classes, seeded 1234 as in the original) in one run.
Success is an image MSE below 1e-3 (on the image clamped to [0, 1]) within 300 iterations.
For each image the table gives the steps and seconds each attack needed to get there; for the
original, a failure shows its final MSE and whether it diverged (pixels blown up). dlgtut's
"total" is its whole run, until its own stop rule (gradient distance < 1e-9) fired.

    .venv/bin/python benchmarks/dlg_speed.py            # all images, about 10 minutes
    .venv/bin/python benchmarks/dlg_speed.py --only chelsea face-0
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import statistics
import sys
import time

import torch

from dlgtut.attacks import dlg
from dlgtut.attacks.gradient.original import original_dlg
from dlgtut.data import load_dataset
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.models import LeNet

THRESHOLD = 1e-3
ITERATIONS = 300
SEED = 1234


def images() -> list[tuple[str, str, torch.Tensor, int]]:
    """(name, kind, 3 x 32 x 32 image, label) for every benchmark image."""
    photos = load_dataset("photos", size=32, channels=3)
    faces = load_dataset("faces", size=32, channels=3)
    digits = load_dataset("digits", size=32, channels=3)
    out = []
    for name in ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
                 "immunohistochemistry", "retina", "china", "flower"):
        i = photos.classes.index(name)
        out.append((name, "photo", photos.images[i], int(photos.labels[i])))
    for i in (0, 1, 2):
        out.append((f"face-{i}", "face", faces.images[i], int(faces.labels[i])))
    for i in (0, 1, 2):
        out.append((f"digit-{i}", "digit", digits.images[i], int(digits.labels[i])))
    return out


def _mse(x: torch.Tensor, truth: torch.Tensor) -> float:
    return float(((x.detach().float().clamp(0, 1) - truth) ** 2).mean())


def run_original(image: torch.Tensor, label: int) -> dict:
    hit: dict = {}
    last = {}
    start = time.perf_counter()

    def watch(step: int, x: torch.Tensor) -> bool:
        last["x"], last["step"] = x, step
        if _mse(x, image) < THRESHOLD:
            hit.update(step=step, seconds=time.perf_counter() - start)
            return True
        return False

    original_dlg(image, label, seed=SEED, iterations=ITERATIONS, callback=watch)
    x = last["x"]
    return {
        **hit,
        "final_mse": _mse(x, image),
        "exploded": bool(not torch.isfinite(x).all() or x.abs().max() > 1e3),
    }


def run_dlgtut(image: torch.Tensor, label: int) -> dict:
    net = LeNet(seed=SEED)  # the very weights the original draws
    update = Participant(net).fedsgd(PrivateBatch(image[None], torch.tensor([label])))
    hit: dict = {}
    start = time.perf_counter()

    def watch(step: int, x: torch.Tensor, distance: float) -> None:
        if not hit and _mse(x, image) < THRESHOLD:
            hit.update(step=step, seconds=time.perf_counter() - start)

    rec = dlg(update, iterations=ITERATIONS, progress=False, callback=watch)
    return {
        **hit,
        "total": rec.seconds,
        "status": rec.status,
        "final_mse": _mse(rec.images, image),
        "label_ok": rec.labels.tolist() == [label],
    }


def _peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (reset by exec, unlike ru_maxrss, which a
    spawned child inherits from its parent on Linux)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _attack_in_fresh_process(image, label, queue) -> None:
    run_dlgtut(image, label)
    queue.put(_peak_rss_mb())


def attack_peak_memory_mb(image: torch.Tensor, label: int) -> float:
    """Peak RSS of a fresh process that imports torch and dlgtut and attacks one image."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_attack_in_fresh_process, args=(image, label, queue))
    proc.start()
    peak = queue.get()
    proc.join()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="names of images to run (default all)")
    args = parser.parse_args()
    chosen = [im for im in images() if not args.only or im[0] in args.only]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, python {sys.version.split()[0]}")
    print(f"success = MSE < {THRESHOLD:g} within {ITERATIONS} iterations; seed {SEED}\n")
    columns = ["image", "kind", "original: steps", "original: s", "original: outcome",
               "dlgtut: steps", "dlgtut: s", "dlgtut: total s (stop rule)", "dlgtut: final MSE",
               "ratio"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    ratios, ours_ok, theirs_ok = [], 0, 0
    for name, kind, image, label in chosen:
        ours = run_dlgtut(image, label)
        theirs = run_original(image, label)
        ours_ok += "step" in ours and ours["label_ok"]
        theirs_ok += "step" in theirs
        if "step" in theirs:
            outcome = "recovered"
        elif theirs["exploded"]:
            outcome = f"diverged (MSE {theirs['final_mse']:.1e})"
        else:
            outcome = f"failed (MSE {theirs['final_mse']:.1e})"
        ratio = ""
        if "step" in theirs and "step" in ours:
            ratios.append(theirs["seconds"] / ours["seconds"])
            ratio = f"{ratios[-1]:.1f}x"
        cells = [
            name, kind, theirs.get("step", "-"),
            f"{theirs['seconds']:.1f}" if "seconds" in theirs else "-", outcome,
            ours.get("step", "-"), f"{ours['seconds']:.2f}" if "seconds" in ours else "-",
            f"{ours['total']:.1f} ({ours['status']})", f"{ours['final_mse']:.1e}", ratio,
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)
    peak_mb = _peak_rss_mb()
    slowest = max(chosen, key=lambda im: im[0] == "china")  # the longest dlgtut run
    attack_mb = attack_peak_memory_mb(slowest[2], slowest[3])
    print()
    print(f"dlgtut recovered {ours_ok}/{len(chosen)} images (labels right); "
          f"the original {theirs_ok}/{len(chosen)}.")
    if ratios:
        print(f"median time ratio (original / dlgtut, over the {len(ratios)} images both "
              f"recover): {statistics.median(ratios):.1f}x "
              f"(range {min(ratios):.1f}x to {max(ratios):.1f}x)")
    print(f"peak memory of one dlgtut attack in a fresh process ({slowest[0]}; python, torch "
          f"and dlgtut included): {attack_mb:.0f} MB")
    print(f"peak memory of this whole benchmark process (both attacks, every photo decoded at "
          f"full size, torch included): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
