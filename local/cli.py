"""The runner's command line: flags, wiring, signals, summary; errors as one line on stderr."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any, NoReturn, TextIO

from local.emulator import Emulator, EmulatorSettings, RunAborted
from local.events import EventFactory
from local.farm_stream import MAX_PAGE, FarmError, FarmStream
from local.pages import RetryingFetch, read_records
from local.progress import make_progress
from local.redis_state import (
    Checkpoints,
    RedisStateError,
    entries_added,
    last_entry_id,
    stream_identity,
)
from local.samples import format_samples
from local.services import (
    SOT_KINDS,
    SetupError,
    build_sidecar,
    check_farm,
    configure_sidecar_output,
    connect_redis,
    deadline_reserve,
    farm_url,
    redact_url,
    sidecar_environment,
    source_of_truth_environment,
    stream_names,
)
from local.sqs_endpoint import sqs_target
from local.summary import RunSummary, RunTotals, lookup_cache_counts
from sidecar_fn.errors import SidecarError

PROG = "run_sidecar.py"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_COUNT = 1000
DEFAULT_BATCH = {"farm": 100, "sqs": 10}


class UsageError(Exception):
    """A flag's value conflicts with the configuration; reported like a bad flag (status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line instead of usage plus error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"{value} is out of range (must be {bounds})")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return value


def _source(text: str) -> str:
    if text == "farm" or text.startswith("sqs://"):
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: expected 'farm' or sqs://QUEUE_URL")


def build_parser() -> argparse.ArgumentParser:
    """The runner's flags (docs/contract.md section 9)."""
    parser = _Parser(
        prog=PROG,
        description=(
            "Emulate the Lambda event source mapping locally: read the farm's toxic stream"
            " page by page, invoke the sidecar on SQS- or Kinesis-shaped batches, redeliver"
            " failures, dead-letter what exhausts its attempts, checkpoint the cursor in Redis."
        ),
    )
    where = parser.add_argument_group("services")
    where.add_argument(
        "--farm-url", metavar="URL", help="farm base URL (default: start the farm in-process)"
    )
    where.add_argument(
        "--redis-url",
        metavar="URL",
        help="Redis URL (default: $REDIS_URL; with neither, an embedded in-memory Redis)",
    )
    where.add_argument(
        "--source",
        type=_source,
        default="farm",
        metavar="farm|sqs://QUEUE_URL",
        help="read the farm's stream (default) or consume an SQS queue",
    )
    where.add_argument(
        "--sot",
        choices=SOT_KINDS,
        default=None,
        help="source of truth the sidecar repairs from: the farm's own routes, or its"
        " Salesforce REST API (default: $AOS_SOT_KIND, else farm); salesforce without"
        " $SALESFORCE_LOGIN_URL logs in to the run's farm",
    )
    what = parser.add_argument_group("records")
    amount = what.add_mutually_exclusive_group()
    amount.add_argument(
        "--count",
        type=_bounded_int(1),
        metavar="N",
        help=f"records to process, then stop (default {DEFAULT_COUNT})",
    )
    amount.add_argument("--follow", action="store_true", help="run until interrupted")
    what.add_argument(
        "--chaos",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read the chaotic stream (default) or only pristine records",
    )
    what.add_argument("--seed", type=_bounded_int(0), default=0, help="stream seed (default 0)")
    what.add_argument(
        "--from-cursor",
        type=_bounded_int(0),
        metavar="N",
        help="start at this cursor instead of the stored checkpoint",
    )
    what.add_argument(
        "--rewind-checkpoint",
        action="store_true",
        help="store this run's cursor even when it is behind the checkpoint"
        " (default: the checkpoint never moves back)",
    )
    what.add_argument(
        "--page-size",
        type=_bounded_int(1, MAX_PAGE),
        default=MAX_PAGE,
        metavar="N",
        help=f"records per farm request (default {MAX_PAGE})",
    )
    lam = parser.add_argument_group("event source mapping")
    lam.add_argument(
        "--event-source",
        choices=("sqs", "kinesis"),
        default="sqs",
        help="shape of the events (default sqs)",
    )
    lam.add_argument(
        "--fifo",
        action="store_true",
        help="deliver as an SQS FIFO queue does: each record carries a MessageGroupId",
    )
    lam.add_argument(
        "--fifo-group-field",
        default="invoice_id",
        metavar="FIELD",
        help="record field whose value is the message group with --fifo (default invoice_id)",
    )
    lam.add_argument(
        "--batch-size",
        type=_bounded_int(1, 10_000),
        metavar="B",
        help="records per invocation (default 100; 10 with --source sqs://)",
    )
    lam.add_argument(
        "--max-attempts",
        type=_bounded_int(1, 100),
        default=3,
        metavar="K",
        help="deliveries of a failing item before it is dead-lettered (default 3)",
    )
    lam.add_argument(
        "--retry-backoff",
        type=_positive_float,
        default=0.2,
        metavar="SECONDS",
        help="pause before the first redelivery, doubled each time (default 0.2)",
    )
    lam.add_argument(
        "--timeout",
        type=_positive_float,
        default=30.0,
        metavar="SECONDS",
        help="invocation timeout seen by the handler's context (default 30); must exceed the"
        " sidecar's deadline reserve (AOS_DEADLINE_RESERVE_SECONDS, 1 s by default)",
    )
    keys = parser.add_argument_group("keys (default: $AOS_SOURCE_ID, $AOS_STREAM, $AOS_DLQ_STREAM)")
    keys.add_argument("--source-id", help="source name (default mulesoft-invoices)")
    keys.add_argument("--stream", help="main stream key (default aos:invoices)")
    keys.add_argument("--dlq-stream", help="dead-letter stream key (default aos:invoices:dlq)")
    what.add_argument(
        "--schema",
        metavar="FILE",
        help="schema file the sidecar checks records against (default: $AOS_SCHEMA, else"
        " the built-in invoice fields)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--json", action="store_true", help="print the summary as one JSON object on the last line"
    )
    out.add_argument("--quiet", action="store_true", help="no progress and no sample envelopes")
    out.add_argument(
        "--samples",
        type=_bounded_int(0, 20),
        default=2,
        metavar="N",
        help="repaired envelopes shown at the end (default 2)",
    )
    out.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="sidecar log level (default ERROR; INFO shows each drift and repair)",
    )
    out.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    return parser


class _GracefulStop:
    """First SIGINT/SIGTERM: finish the current batch and stop. Second: abandon it now."""

    def __init__(self, stop: threading.Event, notify: Callable[[str], None]) -> None:
        self._stop = stop
        self._notify = notify
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._stop.is_set():
            raise KeyboardInterrupt
        self._stop.set()
        name = signal.Signals(signum).name
        self._notify(f"{name}: stopping after the current batch (again to abandon it now)")

    def __enter__(self) -> _GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _say(out: TextIO) -> Callable[[str], None]:
    def write(message: str) -> None:
        out.write(f"{PROG}: {message}\n")
        out.flush()

    return write


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.fifo and (args.event_source != "sqs" or args.source != "farm"):
        parser.error("--fifo emulates an SQS FIFO queue: it needs --event-source sqs and the farm")
    notice = _say(sys.stderr)
    try:
        return _run(args, notice)
    except UsageError as exc:
        notice(f"error: {exc} (see --help)")
        return EXIT_USAGE
    except (SetupError, SidecarError) as exc:
        notice(f"error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        notice("interrupted during setup")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        notice(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)")
        return EXIT_ERROR


@contextlib.contextmanager
def _closing(resource: Any) -> Iterator[Any]:
    try:
        yield resource
    finally:
        resource.close()


def check_timeout(timeout_s: float, reserve_s: float) -> None:
    """Refuse an invocation timeout that leaves the sidecar no time for the source of truth."""
    if timeout_s <= reserve_s:
        raise UsageError(
            f"--timeout {timeout_s:g} is at or below the sidecar's deadline reserve of"
            f" {reserve_s:g} s (AOS_DEADLINE_RESERVE_SECONDS): no time would be left to ask"
            " the source of truth, and every drifted record would end as retries_exhausted;"
            f" give a timeout above {reserve_s:g} s"
        )


def _run(args: argparse.Namespace, notice: Callable[[str], None]) -> int:
    check_timeout(args.timeout, deadline_reserve(os.environ))
    configure_sidecar_output(args.log_level)
    redis_url = args.redis_url or os.environ.get("REDIS_URL") or None
    connection = connect_redis(redis_url)
    if connection.embedded:
        notice(
            "no --redis-url and no REDIS_URL: using an embedded in-memory Redis (fakeredis);"
            " its streams and checkpoint vanish when the run ends"
        )
    with contextlib.ExitStack() as stack:
        stack.callback(connection.client.close)
        url = stack.enter_context(farm_url(args.farm_url))
        env = sidecar_environment(
            os.environ,
            redis_url=redis_url,
            farm_url=url,
            source_id=args.source_id,
            stream=args.stream,
            dlq_stream=args.dlq_stream,
            schema=args.schema,
        )
        env = source_of_truth_environment(env, sot=args.sot, farm_url=url)
        if args.source.startswith("sqs://"):
            return _run_sqs(args, env, connection.client)
        farm = stack.enter_context(
            _closing(
                FarmStream(
                    url, chaos=args.chaos, seed=args.seed, token=env.get("FARM_API_TOKEN") or None
                )
            )
        )
        check_farm(farm)
        sidecar = build_sidecar(env, connection.client)
        return _run_farm(
            args, env, connection.description, connection.client, farm, sidecar, notice
        )
    raise AssertionError("unreachable")


def _run_farm(
    args: argparse.Namespace,
    env: dict[str, str],
    redis_description: str,
    client: Any,
    farm: FarmStream,
    sidecar: Any,
    notice: Callable[[str], None],
) -> int:
    source_id: str = sidecar.source_id
    stream, dlq_stream = stream_names(env)
    checkpoints = Checkpoints(
        client,
        source_id,
        stream_identity(args.seed, args.chaos),
        rewind=args.rewind_checkpoint,
    )
    try:
        stored = checkpoints.load()
        main_before, dlq_before = entries_added(client, stream), entries_added(client, dlq_stream)
        samples_after = (last_entry_id(client, stream), last_entry_id(client, dlq_stream))
    except RedisStateError as exc:
        raise SetupError(str(exc)) from exc
    start = args.from_cursor if args.from_cursor is not None else (stored or 0)
    count = None if args.follow else (args.count or DEFAULT_COUNT)
    _checkpoint_notices(checkpoints, stored, args.from_cursor, notice)
    settings = EmulatorSettings(
        batch_size=args.batch_size or DEFAULT_BATCH["farm"],
        max_attempts=args.max_attempts,
        retry_backoff_seconds=args.retry_backoff,
        invocation_timeout_ms=int(args.timeout * 1000),
    )
    progress = make_progress(sys.stderr, total=count, enabled=not args.quiet)
    stop = threading.Event()
    emulator = Emulator(
        sidecar,
        EventFactory(
            args.event_source,
            seed=args.seed,
            chaos=args.chaos,
            fifo_group_field=args.fifo_group_field if args.fifo else None,
        ),
        checkpoints,
        settings=settings,
        stop=stop,
        on_batch=progress.update,
        warn=notice,
    )
    totals = RunTotals(start_cursor=start, next_cursor=start)
    records = read_records(
        RetryingFetch(farm.fetch), start=start, count=count, page_size=args.page_size
    )
    error: str | None = None
    interrupted = False
    started = time.perf_counter()
    with _GracefulStop(stop, notice):
        try:
            emulator.run(records, totals)
        except KeyboardInterrupt:
            interrupted = True
        except (FarmError, RedisStateError, RunAborted) as exc:
            error = str(exc)
        finally:
            elapsed = time.perf_counter() - started
            progress.close()
    interrupted = interrupted or stop.is_set()
    try:
        main_added: int | None = entries_added(client, stream) - main_before
        dlq_added: int | None = entries_added(client, dlq_stream) - dlq_before
    except RedisStateError as exc:
        main_added = dlq_added = None
        error = error or str(exc)
    summary = RunSummary(
        totals=totals,
        main_added=main_added,
        dlq_added=dlq_added,
        elapsed_seconds=elapsed,
        source_id=source_id,
        stream=stream,
        dlq_stream=dlq_stream,
        event_source=args.event_source,
        redis=redis_description,
        farm_url=farm.base_url,
        interrupted=interrupted,
        error=error,
        extra={
            "seed": args.seed,
            "chaos": args.chaos,
            "batch_size": settings.batch_size,
            **lookup_cache_counts(sidecar),
            "sot": env.get("AOS_SOT_KIND", "farm"),
        },
        checkpoint=checkpoints.stored,
        checkpoint_key=checkpoints.key,
    )
    print(summary.to_text())
    if not args.json and not args.quiet and error is None and totals.read:
        with contextlib.suppress(Exception):
            samples = format_samples(
                client, stream, dlq_stream, limit=args.samples, after=samples_after
            )
            if samples:
                print(samples)
    if args.json:
        print(json.dumps(summary.to_dict()))
    sys.stdout.flush()
    if error is not None:
        notice(f"error: {error}")
        return EXIT_ERROR
    if interrupted:
        return EXIT_INTERRUPTED
    if not summary.reconciled:
        notice("error: the counts do not reconcile with the streams (see the summary)")
        return EXIT_ERROR
    return EXIT_OK


def _checkpoint_notices(
    checkpoints: Checkpoints,
    stored: int | None,
    from_cursor: int | None,
    notice: Callable[[str], None],
) -> None:
    """Say where the run starts relative to the stored checkpoint."""
    if stored is None:
        return
    if checkpoints.adopted_legacy is not None:
        notice(
            f"no checkpoint at {checkpoints.key}; adopting {checkpoints.legacy_key} ="
            f" {stored} (shared by every stream before checkpoints were kept per stream);"
            " it moves to the new key at the first checkpoint"
        )
    if from_cursor is None:
        notice(f"resuming at cursor {stored} ({checkpoints.key})")
    elif from_cursor < stored and not checkpoints.rewind:
        notice(
            f"starting at cursor {from_cursor}, behind the checkpoint {stored}"
            f" ({checkpoints.key}), which stays there (--rewind-checkpoint moves it back)"
        )


def _run_sqs(args: argparse.Namespace, env: dict[str, str], client: Any) -> int:
    try:
        import boto3

        from local.sqs_source import run_sqs_source
    except ImportError as exc:
        raise SetupError(f"the SQS source is not available: {exc}") from exc
    try:
        target = sqs_target(args.source, os.environ)
    except ValueError as exc:
        raise SetupError(str(exc)) from exc
    queue_url = target.queue_url
    sqs_client = boto3.client("sqs", endpoint_url=target.endpoint_url, region_name=target.region)
    batch_size = args.batch_size or DEFAULT_BATCH["sqs"]
    max_batches = None if args.follow or args.count is None else math.ceil(args.count / batch_size)
    sidecar = build_sidecar(env, client)
    started = time.perf_counter()
    try:
        counts = run_sqs_source(
            queue_url,
            sidecar,
            batch_size=batch_size,
            max_batches=max_batches,
            sqs_client=sqs_client,
            stop_when_empty=not args.follow,
        )
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; unfinished messages become visible again", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        raise SetupError(f"SQS source {redact_url(queue_url)} failed: {exc}") from exc
    elapsed = time.perf_counter() - started
    result: dict[str, Any] = {"queue_url": redact_url(queue_url), **counts}
    result["elapsed_seconds"] = round(elapsed, 3)
    print(f"SQS run summary ({redact_url(queue_url)}):")
    for key, value in counts.items():
        print(f"  {key:<22}{value:>10,}")
    if args.json:
        print(json.dumps(result))
    return EXIT_OK
