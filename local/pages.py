"""Streams records page by page from a cursor, one page fetched ahead, with no gap allowed."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from local.events import StreamRecord
from local.farm_stream import FarmError, FarmUnavailable, Page

T = TypeVar("T")
FetchPage = Callable[[int, int], Page]


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last one shorter), read lazily."""
    if size < 1:
        raise ValueError("batch size must be >= 1")
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


class RetryingFetch:
    """Calls `fetch` again after a FarmUnavailable, with doubling pauses, `retries` times."""

    def __init__(
        self,
        fetch: FetchPage,
        *,
        retries: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._fetch = fetch
        self._retries = retries
        self._backoff = backoff_seconds
        self._sleep = sleep

    def __call__(self, cursor: int, limit: int) -> Page:
        """Fetch one page, retrying transient failures."""
        for attempt in range(self._retries + 1):
            try:
                return self._fetch(cursor, limit)
            except FarmUnavailable:
                if attempt == self._retries:
                    raise
                self._sleep(self._backoff * 2**attempt)
        raise AssertionError("unreachable")


def _check_contiguous(records: list[StreamRecord], cursor: int) -> None:
    for offset, record in enumerate(records):
        if record.sequence != cursor + offset:
            raise FarmError(
                f"farm stream skipped or repeated a record: expected sequence {cursor + offset},"
                f" got {record.sequence}"
            )


def read_records(
    fetch: FetchPage,
    *,
    start: int,
    count: int | None,
    page_size: int,
    prefetch: bool = True,
    poll_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[StreamRecord]:
    """Yield `count` records (forever when None) from `start`, page by page.

    The next page is requested while the current one is consumed, so at most two pages
    are held in memory. An empty page ends a bounded read; with `count=None` the reader
    polls again after `poll_seconds`.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="farm-page") if prefetch else None

    def request(cursor: int, remaining: int | None) -> Future[Page]:
        limit = page_size if remaining is None else min(page_size, remaining)
        if pool is not None:
            return pool.submit(fetch, cursor, limit)
        future: Future[Page] = Future()
        try:
            future.set_result(fetch(cursor, limit))
        except FarmError as exc:
            future.set_exception(exc)
        return future

    cursor, remaining = start, count
    try:
        if remaining == 0:
            return
        pending = request(cursor, remaining)
        while True:
            records = pending.result().records
            _check_contiguous(records, cursor)
            if not records:
                if count is not None:
                    return
                sleep(poll_seconds)
                pending = request(cursor, remaining)
                continue
            if remaining is not None:
                records = records[:remaining]
                remaining -= len(records)
            cursor = records[-1].sequence + 1
            if remaining != 0:
                pending = request(cursor, remaining)
            yield from records
            if remaining == 0:
                return
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
