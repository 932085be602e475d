from enum import StrEnum


class InboundRequestStateType0(StrEnum):
    AVAILABLE = "available"
    PAUSED = "paused"
    RECORDING = "recording"
    TYPING = "typing"
    UNAVAILABLE = "unavailable"

    def __str__(self) -> str:
        return str(self.value)
