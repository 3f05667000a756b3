"""Deterministic draws derived from a blake2b hash of a key: no global random state."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from hashlib import blake2b
from typing import TypeVar

T = TypeVar("T")

_UNPACK = struct.Struct("<8Q").unpack
_TWO_POW_53 = float(2**53)


def draws(key: bytes) -> tuple[int, ...]:
    """Eight uniform 64-bit integers derived from `key` (the cheap path for hot code)."""
    values: tuple[int, ...] = _UNPACK(blake2b(key, digest_size=64).digest())
    return values


def unit(value: int) -> float:
    """Map a uniform 64-bit integer to a float in [0, 1)."""
    return (value >> 11) / _TWO_POW_53


class HashRandom:
    """Uniform draws for one key; the same key always yields the same draws."""

    __slots__ = ("_block", "_index", "_key", "_values")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._block = 0
        self._values = _UNPACK(blake2b(key, digest_size=64).digest())
        self._index = 0

    def _next(self) -> int:
        if self._index == 8:
            self._block += 1
            salt = self._block.to_bytes(8, "little")
            self._values = _UNPACK(blake2b(self._key, digest_size=64, salt=salt).digest())
            self._index = 0
        value: int = self._values[self._index]
        self._index += 1
        return value

    def below(self, n: int) -> int:
        """An int in [0, n); n is at most a few billion, so modulo bias is negligible."""
        return self._next() % n

    def choice(self, items: Sequence[T]) -> T:
        """One item of a non-empty sequence."""
        return items[self._next() % len(items)]
