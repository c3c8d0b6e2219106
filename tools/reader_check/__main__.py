"""Run the reader check by hand: every chapter and assignment, one after another, with times.

    .venv/bin/python -m tools.reader_check                        # Colab's host, as the tests
    .venv/bin/python -m tools.reader_check --newest-torch         # the newest torch on the index
    .venv/bin/python -m tools.reader_check --only deep_leakage assignments/defenses

Prints one line per notebook (minutes, the checks that did not hold in the reader's run, or
the failure) and exits 1 if any failed. ``--newest-torch`` swaps the host's torch and
torchvision for the newest matching pair that pip finds today (this machine caps torch at the
release it keeps on disk; the run lifts that cap for its own installs only).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import envs, notebooks
from .session import ROOT, Session, assignments, chapters


def _newest_torch(host: envs.Host) -> dict[str, str]:
    """The newest torch and torchvision that resolve together on the index, for the host's
    Python (asked of pip in a throw-away venv, without this machine's cap)."""
    python = envs.find_python(host.python)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(python), "-m", "venv", f"{tmp}/v"], check=True)
        py = envs.env_python(Path(tmp) / "v")
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", envs.PIP], check=True)
        report = Path(tmp) / "r.json"
        subprocess.run([str(py), "-m", "pip", "install", "--dry-run", "--quiet", "--report",
                        str(report), "torch", "torchvision"], check=True,
                       env=envs.reader_env(host, newest=True))
        found = {envs.canonical(i["metadata"]["name"]): i["metadata"]["version"]
                 for i in json.loads(report.read_text())["install"]}
    return {"torch": found["torch"], "torchvision": found["torchvision"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--newest-torch", action="store_true",
                        help="the newest torch and torchvision on the index instead of Colab's")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME",
                        help="only these chapters or assignments")
    args = parser.parse_args(argv)

    host = envs.read_host()
    newest = _newest_torch(host) if args.newest_torch else None
    session = Session(ROOT / "_build" / ("reader-newest" if newest else "reader"), newest)
    print(f"host: Python {host.python}, torch {(newest or {}).get('torch') or host.pins['torch']}"
          f", torchvision {(newest or {}).get('torchvision') or host.pins['torchvision']}; "
          f"pip sees the index as of {'today' if newest else host.uploaded_prior_to}",
          flush=True)
    session.host_env()
    session.wheel()
    notebooks_ = [("book", p.stem) for p in chapters()] + [("assignments", a)
                                                           for a in assignments()]
    if args.only:  # a name, or book/<name> and assignments/<name> where both exist
        notebooks_ = [(kind, name) for kind, name in notebooks_
                      if name in args.only or f"{kind}/{name}" in args.only]
    built = {}
    failed = 0
    for kind, name in notebooks_:
        started = time.perf_counter()
        try:
            if kind == "book":
                result = session.run_chapter(ROOT / "book" / f"{name}.md")
                extra = ""
            else:
                from dlgtut.classroom.build import build

                built.setdefault("out", Path(tempfile.mkdtemp(prefix="dlgtut-assign-")))
                b = build(ROOT / "assignments" / name / f"{name}.md", built["out"])
                result, checks = session.run_assignment(name, b)
                bad = [q for q, shown in checks.items() if "All test cases passed" not in shown]
                extra = f", checks {len(checks) - len(bad)} of {len(checks)} passed"
                failed += bool(bad)
            minutes = (time.perf_counter() - started) / 60
            warned = (f"; {len(result.check_warnings)} check(s) did not hold: "
                      f"{result.check_warnings}" if result.check_warnings else "")
            print(f"{kind}/{name}: {minutes:.1f} min (notebook {result.seconds / 60:.1f} min)"
                  f"{extra}{warned}", flush=True)
        except (notebooks.NotebookFailed, envs.ReaderCheckError) as exc:
            failed += 1
            print(f"{kind}/{name}: FAILED after {(time.perf_counter() - started) / 60:.1f} min: "
                  f"{exc}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
