from enum import StrEnum


class AdminAppUpdatePresenceModeType0(StrEnum):
    ALWAYS_ONLINE = "always_online"
    ON_DEMAND = "on_demand"

    def __str__(self) -> str:
        return str(self.value)
