from enum import StrEnum


class CallRequestOutcome(StrEnum):
    ACCEPTED = "accepted"
    MISSED = "missed"

    def __str__(self) -> str:
        return str(self.value)
