from enum import StrEnum


class ChatPresenceRequestState(StrEnum):
    PAUSED = "paused"
    RECORDING = "recording"
    TYPING = "typing"

    def __str__(self) -> str:
        return str(self.value)
