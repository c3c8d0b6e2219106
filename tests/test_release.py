"""The release files are clean: what the release workflow uploads, checked before a tag is pushed.

The sdist and the wheel are built once for the module (``tools/release.py``, the pinned
backend, which raises on any warning), into a temporary folder. Then: ``twine check --strict``
passes; the wheel holds the whole package with the data it reads at run time
(``dlgtut/assets/corpus.txt``) and the two licences, and no tests, benchmarks, book or tools;
its metadata carries the project's URLs, licence, classifiers and Python range; the sdist holds
the licences. Last, each extra a reader installs (``book``, ``assign``, ``flower``,
``student``) resolves from the package index alone, in a fresh ``python3.11 -m venv``, as on a
clean machine: ``pip install --dry-run``, which downloads metadata, not packages. That test is
marked ``network`` (deselect it with ``-m "not network"``); the builds need the index (or pip's
cache) too, for the pinned setuptools.

Measured on the 2-core development host while other jobs kept it busy (load 4-6), with a warm
pip cache: 65-85 s for the module (the two builds 6-10 s, twine 1 s, the fresh venv with the
pinned pip 7 s, the four resolutions at once 45-60 s, as the index and the host allow);
6-12 s with ``-m "not network"``.
"""

from __future__ import annotations

import email.parser
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LICENCES = ("LICENSE", "LICENSE-text.md")
pytestmark = pytest.mark.slow


sys.path.insert(0, str(ROOT / "tools"))
import release  # noqa: E402


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    return release.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def wheel_names(dists) -> list[str]:
    with zipfile.ZipFile(dists.wheel) as wheel:
        return wheel.namelist()


@pytest.fixture(scope="module")
def metadata(dists):
    dist_info = f"{dists.wheel.name.split('-')[0]}-{PROJECT['version']}.dist-info"
    with zipfile.ZipFile(dists.wheel) as wheel:
        return email.parser.Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())


def test_the_warning_check_catches_what_setuptools_prints():
    block = """\
/tmp/x/setuptools/command/build_py.py:212: _Warning: Package 'dlgtut.assets' is absent from the `packages` configuration.
!!

        ********************************************************************************
        ############################
        # Package would be ignored #
        ############################
"""  # noqa: E501
    assert release.warnings_in(block)
    assert release.warnings_in("no previously-included directories found matching 'tests'")
    assert release.warnings_in("warning: build_py: byte-compiling is disabled, skipping.")
    assert not release.warnings_in("copying dlgtut/warnings.py -> build/lib/dlgtut\n"
                                   "adding 'dlgtut/deprecated.py'\nrunning check")


def test_the_build_is_clean(dists):
    assert "Successfully built" in dists.output
    assert release.warnings_in(dists.output) == []
    assert dists.sdist.name.endswith(f"-{PROJECT['version']}.tar.gz")
    assert dists.wheel.name.endswith(f"-{PROJECT['version']}-py3-none-any.whl")


def test_twine_check_strict_passes(dists):
    result = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", "--",
                             str(dists.sdist), str(dists.wheel)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_wheel_holds_the_package_its_data_and_the_licences_only(wheel_names):
    package = {p.relative_to(ROOT).as_posix() for p in (ROOT / "dlgtut").rglob("*.py")
               if "__pycache__" not in p.parts}
    in_wheel = set(wheel_names)
    assert package <= in_wheel, f"missing from the wheel: {sorted(package - in_wheel)}"
    data = {p.relative_to(ROOT).as_posix() for p in (ROOT / "dlgtut" / "assets").iterdir()}
    assert data and data <= in_wheel, f"data missing from the wheel: {sorted(data - in_wheel)}"
    [dist_info] = {n.split("/")[0] for n in wheel_names if ".dist-info/" in n}
    for name in LICENCES:
        assert f"{dist_info}/licenses/{name}" in in_wheel, name
    tops = {n.split("/")[0] for n in wheel_names}
    assert tops == {"dlgtut", dist_info}, tops
    for name in wheel_names:
        assert not re.search(r"(^|/)(tests?|benchmarks|book|tools|assignments)/", name), name
        assert not name.endswith((".pyc", ".pyo")), name


def test_the_wheel_metadata(metadata):
    urls = dict(v.split(", ", 1) for v in metadata.get_all("Project-URL"))
    for key in ("Repository", "Documentation", "Issues", "Homepage"):
        assert urls[key] == PROJECT["urls"][key], key
    assert metadata["Metadata-Version"] in ("2.4", "2.5")
    assert metadata["License-Expression"] == "MIT"
    assert sorted(metadata.get_all("License-File")) == sorted(LICENCES)
    classifiers = metadata.get_all("Classifier")
    assert classifiers == PROJECT["classifiers"]
    for wanted in ("Programming Language :: Python :: 3.11",
                   "Programming Language :: Python :: 3.13", "Framework :: Jupyter",
                   "Intended Audience :: Education", "Intended Audience :: Science/Research"):
        assert wanted in classifiers, wanted
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639: the expression
    assert metadata["Requires-Python"] == PROJECT["requires-python"]
    assert metadata["Keywords"]
    assert set(metadata.get_all("Provides-Extra")) >= {"book", "assign", "flower", "student"}


def test_the_package_reports_the_version_it_is_released_as():
    import dlgtut  # metrics.json records dlgtut.__version__: a second copy of the version

    assert dlgtut.__version__ == PROJECT["version"], "bump dlgtut/__init__.py with pyproject"


def test_the_sdist_holds_the_licences_and_no_tests(dists):
    with tarfile.open(dists.sdist) as sdist:
        names = sdist.getnames()
    top = names[0].split("/")[0]
    for name in (*LICENCES, "README.md", "pyproject.toml", "PKG-INFO",
                 "dlgtut/assets/corpus.txt"):
        assert f"{top}/{name}" in names, name
    assert not [n for n in names if n.startswith(f"{top}/tests/")]


@pytest.mark.network
def test_every_reader_extra_resolves_on_a_clean_machine(dists, tmp_path):
    """A fresh venv, the pinned pip, no constraints: what a reader's ``pip install`` resolves."""
    python311 = shutil.which("python3.11") or (sys.executable if sys.version_info[:2] == (3, 11)
                                               else None)
    if python311 is None:
        pytest.skip("no python3.11 on PATH")
    venv = tmp_path / "venv"
    subprocess.run([python311, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    pip = _load("dlgtut_dev", ROOT / "dev.py").PIP  # pip is pinned too (dev.py)
    quiet = ["--quiet", "--disable-pip-version-check"]
    subprocess.run([python, "-m", "pip", "install", *quiet, pip], check=True, timeout=300)
    wants = {"book": "jupyter-book", "assign": "otter-grader", "flower": "flwr",
             "student": "otter-grader"}
    # The four at once: each mostly waits on the index (69 s one after the other, 34 s at
    # once, measured together).
    # Their reports and messages go to files: a full pipe would stall a resolution.
    runs = {}
    try:
        for extra in wants:
            with (open(tmp_path / f"{extra}.json", "w") as out,
                  open(tmp_path / f"{extra}.err", "w") as err):
                runs[extra] = subprocess.Popen(
                    [python, "-m", "pip", "install", *quiet, "--dry-run", "--ignore-installed",
                     "--report", "-", f"{dists.wheel}[{extra}]"], stdout=out, stderr=err)
        for run in runs.values():
            run.wait(timeout=900)
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
                run.wait()
    for extra, package in wants.items():
        stderr = (tmp_path / f"{extra}.err").read_text()
        assert runs[extra].returncode == 0, f"dlgtut[{extra}] does not resolve:\n{stderr}"
        report = json.loads((tmp_path / f"{extra}.json").read_text())
        resolved = {i["metadata"]["name"].lower(): i["metadata"]["version"]
                    for i in report["install"]}
        assert PROJECT["name"] in resolved and package in resolved, (extra, sorted(resolved))
        if extra == "student":  # otter 6 and 7 would replace Colab's ipywidgets (pyproject.toml)
            assert int(resolved["otter-grader"].split(".")[0]) < 6, resolved["otter-grader"]
