"""The ``python -m dlgtut property`` command (filled in by the property inference work)."""


def add_parser(sub) -> None:
    """Register the subcommand on the ``dlgtut`` parser's subparsers (not yet)."""
