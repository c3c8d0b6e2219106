"""The ``python -m dlgtut membership`` command (filled in by the membership inference work)."""


def add_parser(sub) -> None:
    """Register the subcommand on the ``dlgtut`` parser's subparsers (not yet)."""
