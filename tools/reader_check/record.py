"""Record the Colab-like host (host.txt) from Colab's own list of installed packages.

Google publishes what a Colab runtime has: https://github.com/googlecolab/backend-info, file
``pip-freeze.gpu.txt`` (a GPU runtime; ``pip-freeze.txt`` is the CPU one). Download it, then

    .venv/bin/python -m tools.reader_check.record pip-freeze.gpu.txt --source "<commit, date>"

The host holds Colab's version of every package that a notebook's install could touch: the
Jupyter kernel, numpy, matplotlib, torch, torchvision, ipywidgets, and every package that
dlgtut or one of its extras depends on, directly or not, that Colab also has; plus everything
those need, at Colab's versions again. Three deliberate differences from Colab, written into
the file's header: torch and torchvision come from PyPI (Colab's come from PyTorch's own index,
a CUDA 12.8 build; PyPI's is a CUDA 13 build, so the nvidia-* and cuda-* libraries follow
PyPI's torch, not Colab's), Colab's packages installed from URLs are left out, and the date
``uploaded-prior-to`` (today, when recorded) fixes what a notebook's install adds.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from .envs import HOST, PIP, canonical, env_python, find_python

# What a notebook host already has, whatever dlgtut needs (the list and the kernel).
KERNEL = ["ipykernel", "ipython", "jupyter_client", "jupyter_core", "traitlets", "tornado",
          "pyzmq", "numpy", "matplotlib", "torch", "torchvision", "ipywidgets",
          "widgetsnbextension", "jupyterlab_widgets", "nbformat"]
EXTRAS = ["flower", "student"]  # the extras a reader's notebook names (not book/test/assign)
# Colab's CUDA libraries belong to its torch from PyTorch's index; PyPI's torch brings its own.
_NOT_FROM_COLAB = re.compile(r"^(nvidia-|cuda-|cupy)")


def _colab_pins(freeze: Path) -> dict[str, tuple[str, str]]:
    pins = {}
    for line in freeze.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or " @ " in line or "==" not in line:
            continue
        name, version = line.split("==", 1)
        if _NOT_FROM_COLAB.match(canonical(name)):
            continue
        pins[canonical(name)] = (name, version.split("+")[0])  # torch==2.11.0+cu128 -> 2.11.0
    return pins


def _resolve(python: Path, requirements: list[str], constraints: list[str] | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report, cons = Path(tmp) / "r.json", Path(tmp) / "c.txt"
        cmd = [str(python), "-m", "pip", "install", "--dry-run", "--ignore-installed",
               "--quiet", "--report", str(report)]
        if constraints is not None:
            cons.write_text("\n".join(constraints) + "\n")
            cmd += ["-c", str(cons)]
        subprocess.run(cmd + requirements, check=True)
        return {canonical(i["metadata"]["name"]): (i["metadata"]["name"], i["metadata"]["version"])
                for i in json.loads(report.read_text())["install"]}


def record(freeze: Path, source: str, wheel: Path, python_version: str = "3.13",
           out: Path = HOST) -> int:
    colab = _colab_pins(freeze)
    python = find_python(python_version)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(python), "-m", "venv", f"{tmp}/v"], check=True)
        py = env_python(Path(tmp) / "v")
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", PIP], check=True)
        # Everything dlgtut and a reader's extras could install, resolved without Colab's pins.
        wanted = _resolve(py, [f"{wheel}[{','.join(EXTRAS)}]"], None)
        # Flower and otter-grader 5 are resolved apart too: together they may pick other versions.
        for extra in EXTRAS:
            wanted |= _resolve(py, [f"{wheel}[{extra}]"], None)
        names = sorted({n for n in wanted if n in colab} | {canonical(k) for k in KERNEL})
        constraints = [f"{colab[n][0]}=={colab[n][1]}" for n in colab]
        host = _resolve(py, [colab[n][0] if n in colab else n for n in names], constraints)
    today = datetime.date.today().isoformat()
    header = [
        "# The Colab-like host of the reader check (tools/reader_check): what a Colab runtime",
        "# already has of every package a notebook's install could touch, at Colab's versions.",
        f"# Written by `python -m tools.reader_check.record` on {today}; installed with --no-deps.",
        f"# source: {source}",
        f"# python: {python_version}",
        f"# uploaded-prior-to: {today}T00:00:00Z",
        "# Not Colab's: torch and torchvision from PyPI (Colab's are CUDA 12.8 builds from",
        "# PyTorch's index), so the nvidia-*/cuda-* libraries are PyPI torch's.",
    ]
    lines = [f"{name}=={version}" for name, version in sorted(host.values(),
                                                              key=lambda nv: canonical(nv[0]))]
    out.write_text("\n".join(header + lines) + "\n")
    print(f"wrote {len(lines)} pins to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("freeze", type=Path, help="Colab's pip-freeze.gpu.txt")
    parser.add_argument("--source", required=True,
                        help="where the freeze comes from (repository, commit, date)")
    parser.add_argument("--wheel", type=Path, help="dlgtut's wheel (default: built now)")
    parser.add_argument("--python", default="3.13", help="Colab's Python version")
    args = parser.parse_args(argv)
    wheel = args.wheel
    if wheel is None:
        from .wheel import build_wheel

        wheel = build_wheel(Path(tempfile.mkdtemp(prefix="dlgtut-wheel-")))
    return record(args.freeze, args.source, wheel.resolve(), args.python)


if __name__ == "__main__":
    sys.exit(main())
