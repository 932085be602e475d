from enum import StrEnum


class SendMessageRequestType(StrEnum):
    AUDIO = "audio"
    CONTACT = "contact"
    DOCUMENT = "document"
    IMAGE = "image"
    INTERACTIVE = "interactive"
    LOCATION = "location"
    REACTION = "reaction"
    STICKER = "sticker"
    TEXT = "text"
    VIDEO = "video"

    def __str__(self) -> str:
        return str(self.value)
