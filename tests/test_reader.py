"""The reader-environment check: every notebook runs where readers run it (tools/reader_check).

A Colab-like host (Colab's own versions of every package the install could touch, Python 3.13,
ipywidgets 7.7.1; ``tools/reader_check/host.txt``) gets the freshly built wheel the way each
notebook's first cell installs the release, only with the extras that cell names and without
the project's constraints file. Then every chapter runs top to bottom in quick mode, and every
assignment's published student notebook with the reference answers pasted in and its public
tests taken from the built assignment: every cell runs and every ``grader.check`` passes. The
install must replace nothing the host already has (Colab would have to restart).

The first worker to need it builds the host (about 1-3 minutes, a 5 GB virtual environment in
``_build/reader/host``, reused while host.txt is unchanged); each notebook then gets a fresh
copy made of hard links. Times: ``benchmarks/README.md`` ("The reader check").
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tools.reader_check import envs, notebooks  # noqa: E402
from tools.reader_check.session import Session, assignments, chapters  # noqa: E402

pytestmark = pytest.mark.slow

CHAPTERS = chapters()
ASSIGNMENTS = assignments()

# The one install that replaces host packages, and why it is allowed (not hidden): Flower 1.42
# (like every Flower with the Message API, 1.20 and newer) requires protobuf >= 6.33.5 through
# grpcio-health-checking, rich >= 14, typer < 0.21, requests >= 2.33, packaging < 26, certifi
# >= 2026.10.19, fastapi < 0.139, starlette < 1.4 and uvicorn < 0.50; Colab has protobuf 5.29.6,
# rich 13.9.4, typer 0.27.1, requests 2.32.4, packaging 26.3, certifi 2026.7.22, fastapi
# 0.141.1, starlette 1.6.0 and uvicorn 0.52.3 (measured with pip's dry run; no Flower release
# from 1.20 on installs beside Colab's set without replacing some). The Flower chapter's first
# cell says so and tells the reader to restart the session if Colab asks. Any other replacement
# fails, and so does a change in this list.
FLOWER_REPLACES = {"certifi", "fastapi", "packaging", "protobuf", "requests", "rich",
                   "starlette", "typer", "uvicorn"}


@pytest.fixture(scope="session")
def session(tmp_path_factory):
    return Session(ROOT / "_build" / "reader")


def _first_cells() -> dict[str, str]:
    """Each notebook a reader opens -> the source of its first code cell."""
    import jupytext
    import nbformat

    cells = {}
    for md in CHAPTERS:
        nb = jupytext.read(md)
        cells[f"book/{md.stem}"] = next(c for c in nb.cells if c.cell_type == "code").source
    for name in ASSIGNMENTS:
        nb = nbformat.read(ROOT / "assignments" / name / "student" / f"{name}.ipynb", 4)
        cells[f"assignments/{name}"] = next(c for c in nb.cells if c.cell_type == "code").source
    return cells


INSTALLS = sorted({notebooks.install_line(src)[1] for src in _first_cells().values()})


def test_every_chapter_and_assignment_is_checked():
    assert len(CHAPTERS) >= 10 and len(ASSIGNMENTS) >= 5
    # The Flower assignment installs both: the grader and Flower.
    assert set(INSTALLS) == {"", "flower", "student", "student,flower"}, INSTALLS


def test_the_host_is_the_recorded_colab_like_set(session):
    host = session.host
    have = envs.installed(session.host_env())
    missing = {n: v for n, v in host.pins.items() if have.get(n) != v}
    assert not missing, f"the host differs from host.txt: {missing}"
    assert have["ipywidgets"] == "7.7.1" and "dlgtut" not in have and "myst-nb" not in have
    assert host.python == "3.13"


@pytest.mark.parametrize("extras", INSTALLS, ids=lambda e: e or "no-extras")
def test_the_install_replaces_nothing_the_host_has(session, extras):
    requirement = f"dlgtut[{extras}]" if extras else "dlgtut"
    # A dry run changes nothing: the host itself is asked.
    plan = envs.install_plan(session.host_env(), f"{requirement} @ {session.wheel().as_uri()}",
                             session.host)
    assert "dlgtut" in plan.adds
    allowed = FLOWER_REPLACES if "flower" in extras.split(",") else set()
    replaced = {f"{n} {old} -> {new}" for n, (old, new) in plan.replaces.items()
                if n not in allowed}
    assert not replaced, (f"installing {requirement} replaces what Colab has (a reader would "
                          f"have to restart the runtime): {sorted(replaced)}")
    assert set(plan.replaces) == allowed, f"the allowance is out of date: {plan.replaces}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_a_chapter_runs_top_to_bottom_as_a_reader_runs_it(session, md, capsys):
    result = session.run_chapter(md)
    with capsys.disabled():  # the warnings a reader would see, for the log
        if result.check_warnings:
            print(f"\n{md.stem}: {len(result.check_warnings)} check(s) did not hold in the "
                  f"reader's run: {result.check_warnings}")
    assert result.cells > 3


def test_widgets_and_progress_bars_work_with_colab_s_ipywidgets(session):
    """Colab serves ipywidgets 7.7.1: dlgtut keeps it, tqdm's bars are widgets there (not the
    text fallback), an attack's progress bar and the explorer's controls run on it."""
    first = _first_cells()["book/deep_leakage"]
    nb = session.run_cells("widgets", first, [
        "import ipywidgets, tqdm.auto, tqdm.notebook\n"
        "print('ipywidgets', ipywidgets.__version__)\n"
        "bar = tqdm.auto.tqdm(range(3))\n"
        "for _ in bar:\n    pass\n"
        "print('widget bar', isinstance(bar, tqdm.notebook.tqdm_notebook))",
        "from dlgtut.attacks import dlg\n"
        "from dlgtut.data import load_dataset\n"
        "from dlgtut.fl import Participant, PrivateBatch\n"
        "from dlgtut.models import LeNet\n"
        "digits = load_dataset('digits', size=16)\n"
        "X, y, _ = digits.batch(0, 1)\n"
        "rec = dlg(Participant(LeNet(1, 10, 16, seed=0)).fedsgd(PrivateBatch(X, y)),\n"
        "          iterations=3, init='grey', progress=True)\n"
        "print('steps', rec.iterations)",
        "button = ipywidgets.Button(description='Run')\n"
        "clicked = []\n"
        "button.on_click(clicked.append)\n"
        "slider = ipywidgets.IntSlider(value=0, max=3)\n"
        "seen = []\n"
        "slider.observe(lambda change: seen.append(change['new']), names='value')\n"
        "display(ipywidgets.VBox([button, slider]))\n"
        "button.click()\n"
        "slider.value = 2\n"
        "print('clicked', len(clicked), 'seen', seen)",
    ])
    outputs = [out for cell in nb.cells[1:] for out in cell.get("outputs", [])]
    text = "".join(out.get("text", "") for out in outputs if out["output_type"] == "stream")
    views = [out for out in outputs if "application/vnd.jupyter.widget-view+json" in
             out.get("data", {})]
    assert "ipywidgets 7.7.1" in text and "widget bar True" in text, text
    assert "clicked 1 seen [2]" in text, text
    assert len(views) >= 3, "tqdm's bars and the controls should display as widgets"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("otter", reason="building the assignments needs dlgtut[assign]")
    from dlgtut.classroom.build import build, find_masters

    out = tmp_path_factory.mktemp("assignments")
    return {m.stem: m for m in find_masters(ROOT / "assignments")}, out, build


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_an_assignment_runs_with_the_reference_answers_and_passes_its_checks(session, built,
                                                                          name):
    masters, out, build = built
    result, checks = session.run_assignment(name, build(masters[name], out))
    assert checks, f"{name}: no grader.check cell ran"
    # otter prints "q1 results: All test cases passed!" for a check that passes, and lists the
    # failing cases otherwise.
    failed = {q: shown for q, shown in checks.items() if "All test cases passed" not in shown}
    assert not failed, f"{name}: these public checks did not pass: {failed}"
