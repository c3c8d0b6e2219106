"""The ``python -m dlgtut invert`` and ``gan-attack`` commands (model inversion; to come)."""


def add_parsers(sub) -> None:
    """Register the subcommands on the ``dlgtut`` parser's subparsers (not yet)."""
