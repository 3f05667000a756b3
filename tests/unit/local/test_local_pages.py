"""Paging through the stream: counts, prefetch, gaps, follow mode, retries."""

from __future__ import annotations

import pytest
from runner_fakes import FakeStream

from local.events import StreamRecord
from local.farm_stream import FarmError, FarmUnavailable, Page
from local.pages import RetryingFetch, batches, read_records


@pytest.mark.parametrize("prefetch", [True, False])
def test_reads_exactly_count_records_from_start_in_pages(prefetch: bool) -> None:
    stream = FakeStream([f"r{n}" for n in range(100)])
    got = list(read_records(stream.fetch, start=5, count=23, page_size=10, prefetch=prefetch))
    assert [r.sequence for r in got] == list(range(5, 28))
    assert [r.data for r in got][:2] == ["r5", "r6"]
    assert stream.requests == [(5, 10), (15, 10), (25, 3)]


def test_a_bounded_read_ends_at_the_end_of_the_stream() -> None:
    stream = FakeStream(["a", "b", "c"])
    got = list(read_records(stream.fetch, start=0, count=10, page_size=2, prefetch=False))
    assert [r.data for r in got] == ["a", "b", "c"]


def test_count_zero_reads_nothing() -> None:
    stream = FakeStream(["a"])
    assert list(read_records(stream.fetch, start=0, count=0, page_size=2)) == []
    assert stream.requests == []


def test_a_gap_in_the_stream_is_an_error() -> None:
    def fetch(cursor: int, limit: int) -> Page:
        return Page([StreamRecord(cursor + 1, "x")], cursor + 2)

    with pytest.raises(FarmError, match="expected sequence 0, got 1"):
        list(read_records(fetch, start=0, count=5, page_size=5, prefetch=False))


def test_follow_mode_polls_again_after_an_empty_page() -> None:
    stream = FakeStream(["a"])
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        stream.texts.append("b")

    reader = read_records(
        stream.fetch, start=0, count=None, page_size=5, prefetch=False, sleep=sleep
    )
    assert [next(reader).data, next(reader).data] == ["a", "b"]
    assert sleeps == [1.0]
    reader.close()


def test_transient_failures_are_retried_then_given_up() -> None:
    calls: list[int] = []

    def flaky(cursor: int, limit: int) -> Page:
        calls.append(cursor)
        if len(calls) < 3:
            raise FarmUnavailable("down")
        return Page([], cursor)

    sleeps: list[float] = []
    assert RetryingFetch(flaky, retries=3, sleep=sleeps.append)(0, 1).records == []
    assert sleeps == [0.5, 1.0]

    def down(cursor: int, limit: int) -> Page:
        raise FarmUnavailable("down")

    with pytest.raises(FarmUnavailable):
        RetryingFetch(down, retries=2, sleep=sleeps.append)(0, 1)


def test_client_errors_are_not_retried() -> None:
    calls: list[int] = []

    def refused(cursor: int, limit: int) -> Page:
        calls.append(cursor)
        raise FarmError("400")

    with pytest.raises(FarmError):
        RetryingFetch(refused, sleep=lambda _s: None)(0, 1)
    assert calls == [0]


def test_batches_are_consecutive_and_lazy() -> None:
    assert list(batches(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batches([], 3)) == []
    with pytest.raises(ValueError):
        list(batches([1], 0))
