"""One small registry type, used for token mixers (models/ops.py), tasks (data/tasks.py), proxies (proxies/), model
families (families.py) and named benchmarks (loaders/registry.py)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A named mapping from keys to objects, filled by a decorator; unknown keys give an error listing the known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[Hashable, T] = {}

    def register(self, key: Hashable) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if key in self._items:
                raise KeyError(f"{self.kind} {key!r} is registered twice")
            self._items[key] = obj
            return obj

        return deco

    def add(self, key: Hashable, obj: T) -> T:
        return self.register(key)(obj)

    def get(self, key: Hashable) -> T:
        try:
            return self._items[key]
        except KeyError:
            known = ", ".join(repr(k) for k in self._items)
            raise KeyError(f"unknown {self.kind} {key!r}; known: {known}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[Hashable]:
        return list(self._items)

    def items(self) -> list[tuple[Hashable, T]]:
        return list(self._items.items())
