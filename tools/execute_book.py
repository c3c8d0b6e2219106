"""Execute the book's chapters several at a time into the cache that the book build reads.

`jupyter-book build` executes the chapters one after another, so one core of two sits idle
while a chapter runs on one thread (most chapters set one torch thread: their models are
tiny). `python3 dev.py book` therefore runs this first: it executes every chapter
(book/<chapter>.md) with jupyter-cache, the library behind myst-nb's cache mode, ``--jobs`` at
a time (the machine's core count), the longest first, each kernel limited to cores / jobs
threads, into ``_build/.jupyter_cache``. The build then finds every chapter in that cache
(matched by the hash of its code cells) and only renders it. A chapter that fails here is
simply not cached: the build executes it again and reports its error the usual way.

    .venv/bin/python tools/execute_book.py _build/.jupyter_cache book/*.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbclient.client
from jupyter_cache import get_cache
from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

from dlgtut.notebook_client import SteppedNotebookClient

READER = {"type": "plugin", "name": "myst_nb_md"}  # how myst-nb hands a MyST notebook to the cache

# Seconds each chapter took, two at a time on the project's 2-core machine (2026-11-25, see
# benchmarks/README.md), to start the longest first so that the queues end together. A chapter
# not listed counts as 60 s.
EXPECTED_SECONDS = {
    "deep_leakage": 349,
    "beyond_dlg": 207,
    "model_inversion": 103,
    "defenses": 95,
    "flower_federation": 90,
    "membership_inference": 42,
    "malicious_server": 41,
    "property_inference": 26,
    "federated_learning": 25,
    "privacy": 30,  # measured alone: 21 s (2026-12-07); two at a time takes longer
    "dlg_explorer": 16,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path, help="the execution cache folder the build reads")
    parser.add_argument("chapters", type=Path, nargs="+", help="MyST notebooks (book/*.md)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)

    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # read by the kernels' torch
        os.environ[name] = str(threads)
    os.environ["DLGTUT_STRICT"] = "1"  # the chapters' checks stop a chapter whose results changed
    cache = get_cache(str(args.cache))
    chapters = sorted(args.chapters, key=lambda p: -EXPECTED_SECONDS.get(p.stem, 60))
    records = [cache.add_nb_to_project(str(p.resolve()), read_data=READER) for p in chapters]
    print(f"executing {len(records)} chapters, {args.jobs} at a time, {threads} thread(s) "
          "each", flush=True)
    started = time.perf_counter()
    failed = []
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {}
        for record in records:
            data = ProcessData(record.pk, record.uri, cache, args.timeout, False)
            futures[pool.submit(_execute, data)] = Path(record.uri).stem
        for future in as_completed(futures):
            name = futures[future]
            status, seconds = future.result()
            if status != 0:
                failed.append(name)
            outcome = "cached" if status == 0 else "FAILED (the build runs it again)"
            print(f"  {name}: {seconds:.0f} s, {outcome}", flush=True)
    print(f"chapters executed in {time.perf_counter() - started:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 0  # the build, not this step, decides whether a failure fails


def _execute(data: ProcessData) -> tuple[int, float]:
    # jupyter-cache runs nbclient.execute, which builds an nbclient.client.NotebookClient: make
    # it the stepped one in this worker process (a missed wake-up once cost a chapter 600 s;
    # see dlgtut/notebook_client.py).
    nbclient.client.NotebookClient = SteppedNotebookClient
    started = time.perf_counter()
    status, _ = ExecutionWorkerLocalMProc()(data)
    return status, time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
