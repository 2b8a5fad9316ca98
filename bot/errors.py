"""The project's small error hierarchy; every message is safe to show a user or admin."""


class BotError(Exception):
    """Base class for errors the interfaces report as a clear message, never a traceback."""


class ArticleError(BotError):
    """An article file cannot be used: unreadable, binary, empty, too large or without text."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


class CorpusError(BotError):
    """The corpus directory is missing, empty or holds a broken article."""


class IndexMissingError(BotError):
    """No index has been built in the index directory yet."""


class IndexCorruptError(BotError):
    """The index on disk is unreadable or fails its checksums."""
