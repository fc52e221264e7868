"""`toonforge` subcommand module card_cmd (being written this session)."""


def register(sub) -> None:
    """Not registered yet."""
