"""A bounded least-recently-used cache, bounded by the summed cost of its values."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """Keeps values while their summed cost fits `budget` (always at least the newest one):
    a mount browsed for hours must not keep every tree and chunk it ever decoded."""

    def __init__(self, budget: int) -> None:
        self.budget, self.cost = budget, 0
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: K, value: V, cost: int) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.cost -= old[1]
        self._items[key] = (value, cost)
        self.cost += cost
        while self.cost > self.budget and len(self._items) > 1:
            _, (_, dropped) = self._items.popitem(last=False)
            self.cost -= dropped

    def __len__(self) -> int:
        return len(self._items)
