"""Name -> factory registries: one tiny mechanism for data sets, models, losses and metrics."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, TypeVar

from .errors import GanforgeError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, config_key: str):
        self.kind = kind
        self.config_key = config_key
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        if name not in self._items:
            close = difflib.get_close_matches(name, list(self._items), n=1, cutoff=0.5)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise GanforgeError(
                f"unknown {self.kind} '{name}' for {self.config_key}{hint}; choose one of: {', '.join(sorted(self._items))}"
            )
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items
