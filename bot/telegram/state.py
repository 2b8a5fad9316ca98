"""What a chat remembers between updates, typed: answers that can still page with More, pending /remove confirmations.

Both live in the one per-conversation store (`bot.conversation.Conversations`, the engine's), beside
the follow-up context, under the chat id, with its one expiry rule: a chat's state goes `ttl` seconds
after it last changed, and /reset forgets all of it. At most `PER_CHAT` values of each kind are kept
per chat (the oldest go first), so only the last answers keep a working More button. In the Telegram
bot the store is SQLite, so a restart keeps every button and every context; a value that is gone
makes its button answer "no longer available".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.answers import Answer
from bot.conversation import PER_KIND, Conversations

PER_CHAT = PER_KIND
PAGES = "pages"
REMOVALS = "removals"


@dataclass
class Pages:
    """An answer that can still page with More: how many results were shown, and its question id."""

    answer: Answer
    shown: int
    question_id: int

    def to_json(self) -> dict[str, Any]:
        """Everything needed to show the next page (the highlights and how the question was read included)."""
        answer = self.answer.to_json()
        for data, result in zip(answer["results"], self.answer.results):
            data["highlights"] = sorted(result.highlights)
        answer["corrections"] = self.answer.corrections
        answer["follow_up"] = self.answer.follow_up
        return {"answer": answer, "shown": self.shown, "question_id": self.question_id}

    @classmethod
    def from_json(cls, data: Any) -> Pages | None:
        """The pages `to_json` wrote, or None for anything else."""
        try:
            return cls(Answer.from_json(data["answer"]), int(data["shown"]), int(data["question_id"]))
        except (TypeError, KeyError, ValueError):
            return None


class ChatState:
    """Typed per-chat values over the conversation store."""

    def __init__(self, conversations: Conversations) -> None:
        self.conversations = conversations

    def keep_pages(self, chat_id: int, pages: Pages) -> str:
        """Store an answer for More; the token goes into the button."""
        return self.conversations.put_value(chat_id, PAGES, pages.to_json())

    def pages(self, chat_id: int, token: str) -> Pages | None:
        """The answer behind a More button of this chat, or None when it is gone."""
        return Pages.from_json(self.conversations.get_value(chat_id, PAGES, token))

    def update_pages(self, chat_id: int, token: str, pages: Pages) -> None:
        """Record how far an answer has been paged."""
        self.conversations.set_value(chat_id, PAGES, token, pages.to_json())

    def drop_pages(self, chat_id: int, token: str) -> None:
        """Forget an answer that has no more pages."""
        self.conversations.drop_value(chat_id, PAGES, token)

    def keep_removal(self, chat_id: int, name: str) -> str:
        """Store the article name a /remove confirmation is about."""
        return self.conversations.put_value(chat_id, REMOVALS, name)

    def take_removal(self, chat_id: int, token: str) -> str | None:
        """The article name behind a confirmation button, used once."""
        name = self.conversations.get_value(chat_id, REMOVALS, token)
        self.conversations.drop_value(chat_id, REMOVALS, token)
        return name if isinstance(name, str) else None

    def forget(self, chat_id: int) -> None:
        """Forget the chat: context, pages and confirmations."""
        self.conversations.reset(chat_id)
