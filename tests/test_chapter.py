"""dlgtut.chapter: the chapters' glue and checks, inside the book and outside it."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from dlgtut.chapter import STRICT_ENV, ChapterCheckWarning, check, glue, table


def test_a_check_that_holds_is_silent_in_both_modes(monkeypatch):
    for mode in ("1", "0"):
        monkeypatch.setenv(STRICT_ENV, mode)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert check(3 > 2, "three beats two") is True


def test_in_strict_mode_a_failed_check_stops_the_run(monkeypatch):
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(AssertionError, match="does not hold: DLG recovers the digit"):
        check(False, "DLG recovers the digit")


@pytest.mark.parametrize("mode", [None, "0", ""])
def test_in_a_reader_s_notebook_a_failed_check_warns_and_goes_on(monkeypatch, mode):
    if mode is None:
        monkeypatch.delenv(STRICT_ENV, raising=False)
    else:
        monkeypatch.setenv(STRICT_ENV, mode)
    with pytest.warns(ChapterCheckWarning, match="does not reproduce .*: LiRA beats chance"):
        assert check(0.4 > 0.5, "LiRA beats chance") is False


@pytest.mark.parametrize("claim", ["", "   ", None, 3])
def test_a_check_needs_its_claim_in_words(claim):
    with pytest.raises(TypeError, match="needs the claim in words"):
        check(True, claim)


def test_outside_the_book_glue_shows_the_value(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb raises ImportError
    glue("psnr_dlg", "41.2", display=False)
    glue("steps", 17)
    assert capsys.readouterr().out.splitlines() == ["psnr_dlg = 41.2", "steps = 17"]


def test_in_the_book_glue_is_myst_nb_s(monkeypatch):
    pytest.importorskip("myst_nb", reason="the book extra")
    seen = []
    import myst_nb

    monkeypatch.setattr(myst_nb, "glue", lambda *a, **k: seen.append((a, k)))
    glue("x", 1.5, display=False)
    assert seen == [(("x", 1.5), {"display": False})]


@pytest.mark.parametrize("name", ["", None, 1])
def test_glue_needs_a_name(name):
    with pytest.raises(TypeError, match="needs a name"):
        glue(name, 1)


def test_table_shows_markdown_and_refuses_ragged_rows(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    table([(1, "a"), (2, "b")], ["n", "letter"])
    assert shown[0].data == "| n | letter |\n|---|---|\n| 1 | a |\n| 2 | b |"
    with pytest.raises(ValueError, match="a row of 1 cells under 2 headers"):
        table([(1,)], ["n", "letter"])


def test_a_captioned_table_is_a_numbered_myst_table_in_the_book(monkeypatch):
    pytest.importorskip("myst_nb", reason="the book extra")
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    table([(1, "a")], ["n", "letter"], caption="Letters  by\nnumber", name="tab-letters")
    assert shown[0].data == ("````{table} Letters by number\n:name: tab-letters\n\n"
                             "| n | letter |\n|---|---|\n| 1 | a |\n````")


def test_outside_the_book_a_captioned_table_is_plain_markdown(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # Colab: import myst_nb raises
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    table([(1, "a")], ["n", "letter"], caption="Letters by number", name="tab-letters")
    assert shown[0].data == ("**Table: Letters by number**\n\n"
                             "| n | letter |\n|---|---|\n| 1 | a |")
    assert "{" not in shown[0].data  # no MyST left for Colab to show as raw text


def test_a_table_s_caption_and_name_are_checked():
    from dlgtut.errors import ConfigError, WrongTypeError

    with pytest.raises(ConfigError, match="has a name but no caption"):
        table([(1,)], ["n"], name="tab-n")
    for bad in ("", "  ", 3):
        with pytest.raises(WrongTypeError, match="caption must be a non-empty string"):
            table([(1,)], ["n"], caption=bad)
    with pytest.raises(WrongTypeError, match="name must be a non-empty string"):
        table([(1,)], ["n"], caption="n", name="")


def test_every_chapter_states_its_measured_run_times():
    """Each chapter opens with its run time in full and quick mode, glued from the measured
    file (benchmarks/book_times.py --full --write), and says how to switch."""
    import jupytext

    from dlgtut.chapter import run_times

    root = Path(__file__).resolve().parents[1]
    chapters = [p for p in sorted((root / "book").glob("*.md")) if "\nkernelspec:" in p.read_text()]
    assert chapters
    for path in chapters:
        times = run_times(path.stem)
        assert 0 < times["quick"] < times["full"], (path.stem, times)
        text = path.read_text()
        before_code = text[:text.index("```{code-cell}")]
        assert "{glue:text}`run_full`" in before_code and "{glue:text}`run_quick`" in before_code
        assert "QUICK = True" in before_code, f"{path.name} does not say how to switch"
        setup = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"][1]
        assert f'glue_run_times("{path.stem}")' in setup and "QUICK = " in setup


@pytest.mark.parametrize("seconds, text", [(4, "10 seconds"), (34, "30 seconds"),
                                           (59, "60 seconds"), (89, "1 minute"),
                                           (90, "2 minutes"), (454, "8 minutes")])
def test_durations_read_as_a_reader_plans(seconds, text):
    from dlgtut.chapter import duration

    assert duration(seconds) == text


def test_a_chapter_never_measured_is_named():
    from dlgtut.chapter import run_times

    with pytest.raises(KeyError, match="no run time recorded for the chapter 'nope'"):
        run_times("nope")
