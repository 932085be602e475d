from enum import StrEnum


class AppCreateEngine(StrEnum):
    SANDBOX = "sandbox"
    WHATSMEOW = "whatsmeow"

    def __str__(self) -> str:
        return str(self.value)
