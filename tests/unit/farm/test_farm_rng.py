"""Hash-derived draws: deterministic per key, different across keys, in range."""

from __future__ import annotations

from chalicelib.rng import HashRandom, draws, unit
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(deadline=None)
@given(st.binary(max_size=64))
def test_draws_are_deterministic_and_in_range(key: bytes) -> None:
    values = draws(key)
    assert values == draws(key)
    assert len(values) == 8
    assert all(0 <= unit(value) < 1 for value in values)


def test_different_keys_draw_differently() -> None:
    assert len({draws(b"k:%d" % n) for n in range(1000)}) == 1000


def test_hash_random_continues_past_one_digest_deterministically() -> None:
    first, second = HashRandom(b"key"), HashRandom(b"key")
    sequence = [first.below(1000) for _ in range(40)]
    assert sequence == [second.below(1000) for _ in range(40)]
    assert len(set(sequence)) > 30
    assert sequence[:8] == [value % 1000 for value in draws(b"key")]
    assert HashRandom(b"other").choice("abcdefgh") in "abcdefgh"


def test_unit_bounds() -> None:
    assert unit(0) == 0.0
    assert unit(2**64 - 1) < 1.0
