"""What the book's chapters use from the book's machinery, working without it.

A chapter is a notebook that runs in three places: the book build (Jupyter Book with myst-nb),
the test suite, and a reader's Colab or Jupyter, which has neither myst-nb nor the pinned
versions the book was built with. Every chapter imports these instead of the book's tools:

* :func:`glue` is myst-nb's ``glue`` where myst-nb is installed (the book build: the value goes
  into the prose); elsewhere it shows the value under the cell, so a reader sees the number the
  prose refers to, as their run computed it.
* :func:`check` states one of the book's measured results. In the book build and the tests
  (``DLGTUT_STRICT=1``) a check that fails stops the run: the prose must not describe numbers
  the run did not produce. In a reader's notebook it only warns, because the numbers depend on
  the CPU's kernels, the thread count and the library versions (the Beyond DLG chapter once
  gave 17.4 and 22.4 dB on two CPUs): *Run all* goes on.
* :func:`table` shows rows as a Markdown table. Given a ``caption`` and a ``name``, in the
  book build it is a MyST ``{table}`` directive (myst-nb parses Markdown output as MyST:
  ``nb_render_markdown_format: myst``), so Sphinx numbers it and ``{numref}`` refers to
  it ("Table 3.2"); elsewhere a bold "Table: caption" line above plain Markdown.
* :func:`glue_run_times` glues how long the chapter takes, in full and quick mode, as measured
  alone on a 2-core CPU (``benchmarks/book_times.py --write`` records it in
  ``dlgtut/assets/run_times.json``), for the note at the top of every chapter.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from dlgtut.errors import ConfigError, WrongTypeError

__all__ = ["RUN_TIME_KEYS", "STRICT_ENV", "ChapterCheckWarning", "check", "duration", "glue",
           "glue_run_times", "in_book", "run_times", "strict", "table"]

STRICT_ENV = "DLGTUT_STRICT"
"""Set to ``1`` (the book build and the tests do) to make a failed :func:`check` an error."""


class ChapterCheckWarning(UserWarning):
    """A result of the book that this run did not reproduce (see :func:`check`)."""


def strict() -> bool:
    """Whether a failed :func:`check` stops the run (``DLGTUT_STRICT=1``)."""
    return os.environ.get(STRICT_ENV) == "1"


def check(condition: Any, claim: str) -> bool:
    """Check one of the chapter's measured results; ``claim`` says it in words.

    Returns whether it held. Where :func:`strict` holds (the book build, the tests) a failure
    raises; elsewhere it warns (:class:`ChapterCheckWarning`) and the notebook goes on.

    Raises:
        AssertionError: in strict mode, when ``condition`` is false.
        TypeError: when ``claim`` is not a non-empty string.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     check(1 + 1 == 2, "arithmetic works")
        True
        >>> seen
        []
    """
    if not isinstance(claim, str) or not claim.strip():
        raise TypeError(f"check needs the claim in words, got {claim!r}")
    held = bool(condition)
    if held:
        return True
    if strict():
        raise AssertionError(f"the book's result does not hold: {claim}")
    warnings.warn(
        f"This run does not reproduce one of the book's results: {claim}. Numbers depend on "
        "the CPU, the thread count and the library versions; the text quotes the book's own "
        "run. The notebook goes on.", ChapterCheckWarning, stacklevel=2)
    return False


def glue(name: str, value: Any, display: bool = True) -> None:
    """myst-nb's ``glue`` in the book build; elsewhere, show ``name = value`` under the cell.

    Args:
        name: the key the chapter's prose pastes (``{glue:text}`name```).
        value: what to paste: a number, a string, a figure.
        display: whether the book also shows it where it is glued (myst-nb's meaning). Outside
            the book the value is always shown (a figure as itself, anything else as one line
            of text), since the prose that would paste it is not rendered there.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"glue needs a name, got {name!r}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        myst_glue = None
    if myst_glue is not None:
        myst_glue(name, value, display=display)
        return
    from IPython.display import display as show

    if _is_figure(value):
        show(value)
    else:
        show(_Line(f"{name} = {value}"))


def _is_figure(value: Any) -> bool:
    return type(value).__module__.startswith("matplotlib") and hasattr(value, "savefig")


class _Line:
    """Plain text that a notebook shows as is (a str would show with its quotes)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def in_book() -> bool:
    """Whether this runs where myst-nb renders the output (the book build): myst-nb importable.

    The same test :func:`glue` makes; a reader's Colab or Jupyter has no myst-nb.
    """
    try:
        import myst_nb  # noqa: F401
    except ImportError:
        return False
    return True


def table(rows: Iterable[Sequence[Any]], header: Sequence[str], *, caption: str | None = None,
          name: str | None = None) -> None:
    """Show ``rows`` under ``header`` as a Markdown table (cells as ``str``).

    With ``caption`` (and ``name``, the label ``{numref}`` uses), the book build (:func:`in_book`)
    gets a MyST ``{table}`` directive, which Sphinx numbers; elsewhere the caption is a bold
    "Table: caption" line above the table.

    Raises:
        ValueError: when a row's length differs from the header's.
        ConfigError: a ``name`` without a ``caption``.
        WrongTypeError: a ``caption`` or ``name`` that is not a non-empty string.
    """
    for what, value in (("caption", caption), ("name", name)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise WrongTypeError(f"table's {what} must be a non-empty string, got {value!r}")
    if name is not None and caption is None:
        raise ConfigError(f"table {name!r} has a name but no caption: a numbered table needs one")
    header = [str(h) for h in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [str(c) for c in row]
        if len(cells) != len(header):
            raise ValueError(f"a row of {len(cells)} cells under {len(header)} headers: {cells}")
        lines.append("| " + " | ".join(cells) + " |")
    if caption is not None:
        caption = " ".join(caption.split())  # one line: the directive's argument
        if in_book():
            options = [f":name: {name}"] if name else []
            lines = [f"````{{table}} {caption}", *options, "", *lines, "````"]
        else:
            lines = [f"**Table: {caption}**", "", *lines]
    from IPython.display import Markdown, display

    display(Markdown("\n".join(lines)))


RUN_TIMES = "run_times.json"
"""The file in ``dlgtut/assets/`` that holds the chapters' measured run times."""

RUN_TIME_KEYS = ("run_full", "run_quick")
"""The keys :func:`glue_run_times` glues (the full and the quick run)."""


def run_times(chapter: str) -> dict[str, float]:
    """Seconds ``chapter`` took top to bottom, ``{"full": s, "quick": s}``, alone on the
    machine recorded with them (``benchmarks/book_times.py --write``).

    Raises:
        KeyError: a chapter that was never measured.
    """
    import json
    from importlib import resources

    data = json.loads(resources.files("dlgtut").joinpath("assets", RUN_TIMES).read_text())
    if chapter not in data["chapters"]:
        raise KeyError(f"no run time recorded for the chapter {chapter!r}: run "
                       "benchmarks/book_times.py --full --write")
    return dict(data["chapters"][chapter])


def duration(seconds: float) -> str:
    """A run time as a reader plans with it: "40 seconds", "1 minute", "9 minutes".

    Example:
        >>> duration(34), duration(75), duration(454)
        ('30 seconds', '1 minute', '8 minutes')
    """
    if seconds < 60:
        return f"{max(10, round(seconds / 10) * 10)} seconds"
    minutes = round(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def glue_run_times(chapter: str) -> None:
    """Glue ``run_full`` and ``run_quick``: the chapter's run times (:func:`run_times`)."""
    times = run_times(chapter)
    for key, mode in zip(RUN_TIME_KEYS, ("full", "quick"), strict=True):
        glue(key, duration(times[mode]), display=False)
