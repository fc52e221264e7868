"""`toonforge` subcommand module app_cmd (being written this session)."""


def register(sub) -> None:
    """Not registered yet."""
