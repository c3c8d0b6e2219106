"""The reader's environments: the recorded Colab-like host, cloned per notebook.

``host.txt`` (written by ``record.py``) holds, besides its pins, three settings in comment lines:
``# python: 3.13`` (the interpreter Colab runs), ``# uploaded-prior-to: <ISO date>`` (pip then
only sees releases older than that date, so the packages a notebook's install adds are those
a reader's pip picked on that day, not today's: the check does not drift with the index) and
``# source: ...`` (where the versions come from). The host is installed with ``--no-deps``:
exactly the recorded set, nothing resolved afresh.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HOST = Path(__file__).with_name("host.txt")
PIP = "pip==26.3"  # the pip that installs the host (and runs the notebooks' %pip)
PYTHON_ENV = "DLGTUT_READER_PYTHON"


class ReaderCheckError(RuntimeError):
    """The reader's environment cannot be built or would be changed (one line, with the cause)."""


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Host:
    """The recorded host: its pins and settings."""

    python: str
    uploaded_prior_to: str
    pins: dict[str, str]  # canonical name -> version
    lines: tuple[str, ...]  # the requirement lines as recorded

    @property
    def key(self) -> str:
        """What an existing host venv must have been built from to be reused."""
        return hashlib.sha256(HOST.read_bytes() + PIP.encode()).hexdigest()


def read_host(path: Path = HOST) -> Host:
    settings, pins, lines = {}, {}, []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#"):
            match = re.match(r"#\s*([a-z-]+):\s*(.+)$", line)
            if match:
                settings[match.group(1)] = match.group(2).strip()
            continue
        if not line:
            continue
        name, _, version = line.partition("==")
        if not version:
            raise ReaderCheckError(f"{path.name}: {line!r} is not name==version")
        pins[canonical(name)] = version
        lines.append(line)
    for needed in ("python", "uploaded-prior-to"):
        if needed not in settings:
            raise ReaderCheckError(f"{path.name} has no '# {needed}: ...' line")
    return Host(settings["python"], settings["uploaded-prior-to"], pins, tuple(lines))


def find_python(version: str) -> Path:
    """An interpreter of ``version`` (e.g. ``"3.13"``): $DLGTUT_READER_PYTHON, PATH or pyenv."""
    candidates = [os.environ.get(PYTHON_ENV), shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(os.path.expanduser(
        f"~/.pyenv/versions/{version}*/bin/python{version}")), reverse=True)
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run([candidate, "-c", "import sys, venv; print(sys.version)"],
                                 capture_output=True, text=True, timeout=60,
                                 env=clean_environ())
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.startswith(version + "."):
            return Path(candidate)
    raise ReaderCheckError(
        f"the reader check needs Python {version} (the version Colab runs, host.txt): none "
        f"found on PATH (python{version}), in ~/.pyenv, or in ${PYTHON_ENV}")


_NOT_A_READERS = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE",
                  "VIRTUAL_ENV", "__PYVENV_LAUNCHER__")
"""Variables of this process that would make another interpreter read this one's files."""


def clean_environ(**extra: str) -> dict:
    """This process's environment without what would point the reader's Python at ours."""
    env = {k: v for k, v in os.environ.items() if k not in _NOT_A_READERS}
    env.update(extra)
    return env


def _pip(python: Path, *args: str, env: dict | None = None,
         capture: bool = True) -> subprocess.CompletedProcess:
    cmd = [str(python), "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(cmd, capture_output=capture, text=True,
                            env=clean_environ() if env is None else env)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout or "").strip().splitlines()[-5:]
        raise ReaderCheckError(f"pip {' '.join(args[:2])} failed: " + " / ".join(tail))
    return result


def env_python(env: Path) -> Path:
    return env / "bin" / "python"


def build_host(folder: Path, host: Host | None = None, *, replace: dict[str, str] | None = None,
               log=print) -> Path:
    """The host venv in ``folder`` (reused when built from the same host.txt), its path.

    ``replace`` swaps pins (e.g. ``{"torch": "2.15.0", "torchvision": "0.30.0"}`` for the
    by-hand run with the newest torch); such a host is never reused.
    """
    host = host or read_host()
    stamp = folder / ".dlgtut-host"
    key = host.key + json.dumps(replace or {}, sort_keys=True)
    if stamp.exists() and stamp.read_text() == key and env_python(folder).exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    python = find_python(host.python)
    log(f"reader check: building the Colab-like host ({len(host.pins)} packages, Python "
        f"{host.python}) in {folder}")
    subprocess.run([str(python), "-m", "venv", str(folder)], check=True, env=clean_environ())
    _pip(env_python(folder), "install", "--quiet", PIP)
    lines = list(host.lines)
    if replace:
        lines = [ln for ln in lines if canonical(ln.split("==")[0]) not in replace]
        lines += [f"{name}=={version}" for name, version in replace.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    try:
        _pip(env_python(folder), "install", "--quiet", "--no-deps", "-r", f.name,
             env=_pip_env(host, allow_newer_torch=bool(replace)))
    finally:
        os.unlink(f.name)
    stamp.write_text(key)
    return folder


def _pip_env(host: Host, *, allow_newer_torch: bool = False) -> dict:
    env = clean_environ(PIP_UPLOADED_PRIOR_TO=host.uploaded_prior_to)
    if allow_newer_torch:
        # This machine's pip configuration caps torch at the releases it has on disk; the
        # by-hand run with the newest torch lifts that cap for its own installs only.
        env["PIP_CONSTRAINT"] = os.devnull
        env.pop("PIP_UPLOADED_PRIOR_TO")
    return env


def reader_env(host: Host, *, newest: bool = False) -> dict:
    """The environment variables of a reader's kernel: pip sees the recorded day's index."""
    return _pip_env(host, allow_newer_torch=newest)


def clone(host_env: Path, dest: Path) -> Path:
    """A copy of the host venv at ``dest`` made of hard links (seconds, no extra disk).

    Safe because nothing edits an installed file in place: pip removes and writes whole files,
    and Python writes its caches by replacing them.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(host_env), str(dest)], check=True)
    (dest / ".dlgtut-host").unlink(missing_ok=True)
    return dest


def installed(env: Path) -> dict[str, str]:
    """Canonical name -> version of what ``env`` holds."""
    out = _pip(env_python(env), "list", "--format", "json").stdout
    return {canonical(p["name"]): p["version"] for p in json.loads(out)}


@dataclass(frozen=True)
class Plan:
    """What a first cell's ``pip install`` would do to the host."""

    adds: dict[str, str]  # canonical name -> version, new to the host
    replaces: dict[str, tuple[str, str]]  # canonical name -> (host's version, new version)


def install_plan(env: Path, requirement: str, host: Host, *, newest: bool = False) -> Plan:
    """Ask pip (``--dry-run --report``) what installing ``requirement`` into ``env`` does."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        _pip(env_python(env), "install", "--dry-run", "--quiet", "--report", str(report),
             requirement, env=reader_env(host, newest=newest))
        data = json.loads(report.read_text())
    have = installed(env)
    adds, replaces = {}, {}
    for item in data.get("install", []):
        name = canonical(item["metadata"]["name"])
        version = item["metadata"]["version"]
        if name in have:
            replaces[name] = (have[name], version)
        else:
            adds[name] = version
    return Plan(adds, replaces)


if __name__ == "__main__":  # pragma: no cover - a convenience for people
    sys.exit("run `python -m tools.reader_check --help`")
