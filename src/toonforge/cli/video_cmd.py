"""`toonforge` subcommand module video_cmd (being written this session)."""


def register(sub) -> None:
    """Not registered yet."""
