"""Seconds per chapter notebook: the reduced run the tests do, and optionally the full one.

Each chapter's source, book/<chapter>.md, is read with jupytext and executed top to bottom in a
fresh kernel, in a temporary folder, as tests/test_book.py does: with DLGTUT_QUICK=1 (reduced),
and with --full also without it (what the book build executes; about 12 minutes in all).
A notebook that fails is reported with its error and the script exits 1; so does a reduced run
whose total exceeds --budget (300 s, what the book's issue allowed for the whole reduced run).

    .venv/bin/python benchmarks/book_times.py                  # reduced mode, every chapter
    .venv/bin/python benchmarks/book_times.py --full           # reduced and full mode
    .venv/bin/python benchmarks/book_times.py --only deep_leakage defenses
    .venv/bin/python benchmarks/book_times.py --cells 5      # and each chapter's 5 slowest cells
    .venv/bin/python benchmarks/book_times.py --full --write # and record them for the chapters

With ``--write`` (needs ``--full``) the seconds of both modes go into
``dlgtut/assets/run_times.json``, which every chapter reads for the run times it states at its
top (``dlgtut.chapter.glue_run_times``). Measure alone on the machine: two busy processes on two
cores slow each other down several times over.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import jupytext

from dlgtut.notebook_client import SteppedNotebookClient
from dlgtut.processes import restore_environ

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def chapters() -> list[Path]:
    """Every book/*.md that is a notebook (a kernelspec in its header; the plain pages have
    none)."""
    return sorted(p for p in BOOK.glob("*.md") if "\nkernelspec:" in p.read_text())


def cell_seconds(nb) -> list[tuple[float, int, str]]:
    """(seconds, index, first line) of every executed code cell, from nbclient's timestamps."""
    rows = []
    for index, cell in enumerate(nb.cells):
        stamps = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type != "code" or "shell.execute_reply" not in stamps:
            continue
        begin, end = (datetime.fromisoformat(stamps[k].replace("Z", "+00:00"))
                      for k in ("iopub.execute_input", "shell.execute_reply"))
        first = next((line for line in cell.source.splitlines()
                      if line.strip() and not line.startswith("#")), "")
        rows.append(((end - begin).total_seconds(), index, first[:60]))
    return rows


def run(path: Path, quick: bool, timeout: int) -> tuple[float, str | None, list]:
    """Execute one chapter; return its seconds, None or the error, and its cells' seconds."""
    env = {"DLGTUT_OFFLINE": os.environ.get("DLGTUT_OFFLINE", "1")}
    if quick:
        env["DLGTUT_QUICK"] = "1"
    saved = dict(os.environ)
    os.environ.pop("DLGTUT_QUICK", None)
    os.environ.update(env)  # the kernel inherits this process's environment
    nb = jupytext.read(path)
    started = time.perf_counter()
    error = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            SteppedNotebookClient(nb, timeout=timeout, kernel_name="python3",
                                  resources={"metadata": {"path": tmp}}).execute()
    except Exception as exc:  # a failing cell, a cell timeout, a dead kernel
        error = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
    finally:
        restore_environ(saved)
    return time.perf_counter() - started, error, cell_seconds(nb)


def write_run_times(measured: dict[str, dict[str, float]]) -> None:
    """Merge ``measured`` ({chapter: {"full": s, "quick": s}}) into dlgtut's run-time file."""
    import json

    import torch

    path = ROOT / "dlgtut" / "assets" / "run_times.json"
    data = json.loads(path.read_text()) if path.exists() else {"chapters": {}}
    data["chapters"].update(measured)
    data["chapters"] = dict(sorted(data["chapters"].items()))
    data["measured"] = (f"{datetime.now():%Y-%m-%d}, each chapter alone, {os.cpu_count()} CPU "
                        f"cores ({platform.machine()}), Python {platform.python_version()}, "
                        f"torch {torch.__version__}, offline data")
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {len(measured)} chapters' run times to {path.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also run each chapter in full mode")
    parser.add_argument("--only", nargs="+", metavar="CHAPTER", help="chapter names (file stems)")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds allowed for the whole reduced run (default 300)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    parser.add_argument("--cells", type=int, default=0, metavar="N",
                        help="also print each run's N slowest cells")
    parser.add_argument("--write", action="store_true",
                        help="record the seconds in dlgtut/assets/run_times.json (with --full)")
    args = parser.parse_args()
    if args.write and not args.full:
        parser.error("--write needs --full: the chapters state both run times")

    paths = chapters()
    if args.only:
        unknown = set(args.only) - {p.stem for p in paths}
        if unknown:
            parser.error(f"no such chapter: {', '.join(sorted(unknown))}")
        paths = [p for p in paths if p.stem in args.only]
    modes = ["reduced", "full"] if args.full else ["reduced"]
    print(f"# {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}; "
          f"modes: {', '.join(modes)}", flush=True)
    print(f"{'chapter':<24}" + "".join(f"{m + ' (s)':>14}" for m in modes), flush=True)

    totals = dict.fromkeys(modes, 0.0)
    failed = False
    measured = {}
    for path in paths:
        columns, slowest = [], []
        for mode in modes:
            seconds, error, timed = run(path, quick=mode == "reduced", timeout=args.timeout)
            if error is None:
                measured.setdefault(path.stem, {})["quick" if mode == "reduced" else "full"] = \
                    round(seconds, 1)
            totals[mode] += seconds
            columns.append(f"{seconds:>14.1f}" if error is None else f"{'FAILED':>14}")
            if error is not None:
                failed = True
                print(f"  {path.name} ({mode}): {error}", file=sys.stderr, flush=True)
            slowest += [(mode, *row) for row in sorted(timed, reverse=True)[:args.cells]]
        print(f"{path.stem:<24}" + "".join(columns), flush=True)
        for mode, seconds, index, first in slowest:
            print(f"    {mode:<8} cell {index:>3} {seconds:>7.1f} s  {first}", flush=True)
    print(f"{'total':<24}" + "".join(f"{totals[m]:>14.1f}" for m in modes))

    if args.write:
        write_run_times({k: v for k, v in measured.items() if len(v) == 2})

    if not args.only and totals["reduced"] > args.budget:
        print(f"reduced run: {totals['reduced']:.0f} s > budget {args.budget:.0f} s")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
