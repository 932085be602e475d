from enum import StrEnum


class InboundRequestType(StrEnum):
    BUTTON_REPLY = "button_reply"
    CHAT_PRESENCE = "chat_presence"
    DOCUMENT = "document"
    EDIT = "edit"
    IMAGE = "image"
    LIST_REPLY = "list_reply"
    LOCATION = "location"
    POLL_VOTE = "poll_vote"
    PRESENCE = "presence"
    READ = "read"
    REVOKE = "revoke"
    TEXT = "text"

    def __str__(self) -> str:
        return str(self.value)
