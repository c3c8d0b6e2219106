"""The command line: ``python -m dlgtut <command> ...``, one module per command.

================  ==========================================================================
``leak``          reconstruct private images and labels (or sentences) from a shared update
``membership``    infer which records a model was trained on
``property``      infer a property of a participant's batches from FedSGD updates
``invert``        recover a representative of each class from a trained classifier
``gan-attack``    steal a class from a federation with a generator
``defend``        measure a defence: what the attack still recovers, and the accuracy kept
``flower``        a real Flower federation in-process; the server attacks every update
``grade``         grade a folder of submitted assignment notebooks into one CSV
================  ==========================================================================

Each command module has ``add_parser(subparsers)`` and a ``run(args)`` it registers; what they
share (argument types, ``--device``, the output folder, ``metrics.json``, figures, warnings)
lives in :mod:`dlgtut.cli.common`. Bad input ends in one line on stderr and exit status 2;
nothing deep inside torch is shown. Heavy imports (torch, matplotlib) happen after parsing, so
``--help`` and argument errors are instant; ``--device`` is resolved (torch asked whether CUDA
is there) before a command runs, so ``run`` receives a ``torch.device``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ..errors import DlgtutError
from . import common, defend, flower, gan_attack, grade, invert, leak, membership, property
from .common import Parser, forget_empty_outputs, resolve_device_option

__all__ = ["main", "build_parser", "entry"]

COMMANDS = (leak, membership, property, invert, gan_attack, defend, flower, grade)


def build_parser() -> Parser:
    """The ``dlgtut`` argument parser."""
    parser = Parser(prog="dlgtut", description="Attacks on federated learning, from the book.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m dlgtut`` and the ``dlgtut`` script; returns the exit status.

    Argument errors (and ``--help``) return argparse's status instead of raising SystemExit, so
    the function can be called from Python and tests like any other.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:
        return int(done.code or 0)
    try:
        resolve_device_option(args)  # a missing CUDA device: one line, before any work
        return args.run(args)
    except DlgtutError as err:
        forget_empty_outputs()
        print(f"dlgtut {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dlgtut: interrupted", file=sys.stderr)
        return 130
    finally:
        common._created.clear()  # a later command in this process starts afresh


# Commands that start no other process: once they are done, the process may end without the
# interpreter's teardown. Unloading torch (PyPI's CUDA build) at exit took 0.3 s and raised the
# process's peak memory by 124 MB (a bare `import torch`: 0.82 GB at a normal exit, 0.70 GB
# without teardown; `leak` on one photo: 1.01 GB); every file is closed by then. `flower` and
# `grade` start processes whose clean-up may run at exit: they end the normal way.
FAST_EXIT = frozenset({"leak", "membership", "property", "invert", "gan-attack", "defend"})


def entry(argv: Sequence[str] | None = None) -> None:
    """``python -m dlgtut`` and the ``dlgtut`` script: run :func:`main`, exit with its status."""
    args = list(sys.argv[1:] if argv is None else argv)
    status = main(args)
    command = next((a for a in args if not a.startswith("-")), None)
    if command in FAST_EXIT:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
