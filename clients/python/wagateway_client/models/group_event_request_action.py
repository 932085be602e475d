from enum import StrEnum


class GroupEventRequestAction(StrEnum):
    ADD = "add"
    DEMOTE = "demote"
    PROMOTE = "promote"
    REMOVE = "remove"
    UPDATE = "update"

    def __str__(self) -> str:
        return str(self.value)
