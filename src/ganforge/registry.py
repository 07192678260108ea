"""Name -> factory registries: one tiny mechanism for data sets, models, losses, feature extractors
and metrics; and the did-you-mean hint that every "unknown name" error uses."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, TypeVar

from .errors import GanforgeError

T = TypeVar("T")


def did_you_mean(word: str, options) -> str:
    """``" (did you mean 'x'?)"`` for the option closest to ``word``, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


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
            raise GanforgeError(f"unknown {self.kind} '{name}' for {self.config_key}{did_you_mean(name, self._items)}; "
                                f"choose one of: {', '.join(sorted(self._items))}")
        return self._items[name]

    def unregister(self, name: str) -> T:
        """Remove ``name`` (a plug-in unloading itself; tests that register a toy entry)."""
        return self._items.pop(name)

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs in registration order."""
        return list(self._items.items())

    def __contains__(self, name: str) -> bool:
        return name in self._items
