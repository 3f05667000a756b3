"""Move pages of the farm's toxic stream into an SQS queue, one message per record."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local.events import StreamRecord
from local.farm_server import FarmStartError, start_farm
from local.farm_stream import FarmError, FarmStream
from local.pages import FetchPage, RetryingFetch, read_records

MAX_BATCH_ENTRIES = 10
MAX_PAYLOAD_BYTES = 262_144
SEND_ATTEMPTS = 3
_NOT_SQS_TEXT = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class PublishReport:
    """What a publish run did: records read from the farm, sent, and refused."""

    read: int = 0
    sent: int = 0
    next_cursor: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "read": self.read,
            "sent": self.sent,
            "rejected": len(self.rejected),
            "rejected_sequences": [sequence for sequence, _ in self.rejected],
            "next_cursor": self.next_cursor,
        }


def unsendable_reason(data: str) -> str | None:
    """Why SQS would refuse `data` as a message body, or None when it can carry it."""
    if not data:
        return "empty body"
    bad = _NOT_SQS_TEXT.search(data)
    if bad is not None:
        return f"character U+{ord(bad.group()):04X} at offset {bad.start()} is not allowed in SQS"
    if len(data.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        return f"body larger than {MAX_PAYLOAD_BYTES} bytes"
    return None


def message_entry(record: StreamRecord, *, seed: int, chaos: bool) -> dict[str, Any]:
    """The SendMessageBatch entry for one record: its raw text and where it came from."""
    return {
        "Id": f"s{record.sequence}",
        "MessageBody": record.data,
        "MessageAttributes": {
            "aos_sequence": {"DataType": "Number", "StringValue": str(record.sequence)},
            "aos_seed": {"DataType": "Number", "StringValue": str(seed)},
            "aos_chaos": {"DataType": "String", "StringValue": "true" if chaos else "false"},
        },
    }


def _entry_bytes(entry: dict[str, Any]) -> int:
    size = len(entry["MessageBody"].encode("utf-8"))
    for name, value in entry["MessageAttributes"].items():
        size += len(name) + len(value["DataType"]) + len(value["StringValue"])
    return size


def send_batches(entries: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Group entries into SendMessageBatch calls: at most ten, at most 256 KiB together."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_size = _entry_bytes(entry)
        if batch and (len(batch) == MAX_BATCH_ENTRIES or size + entry_size > MAX_PAYLOAD_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry_size
    if batch:
        yield batch


def _send(
    client: Any,
    queue_url: str,
    entries: Sequence[dict[str, Any]],
    report: PublishReport,
    sleep: Callable[[float], None],
) -> None:
    pending = list(entries)
    for attempt in range(SEND_ATTEMPTS):
        response = client.send_message_batch(QueueUrl=queue_url, Entries=pending)
        report.sent += len(response.get("Successful", []))
        by_id = {entry["Id"]: entry for entry in pending}
        retry = []
        for failure in response.get("Failed", []):
            entry = by_id[failure["Id"]]
            if failure.get("SenderFault") or attempt == SEND_ATTEMPTS - 1:
                detail = f"{failure.get('Code', 'error')}: {failure.get('Message', '')}".strip()
                report.rejected.append((int(entry["Id"][1:]), detail))
            else:
                retry.append(entry)
        if not retry:
            return
        pending = retry
        sleep(0.2 * 2**attempt)


def publish_records(
    records: Iterable[StreamRecord],
    queue_url: str,
    *,
    seed: int,
    chaos: bool,
    sqs_client: Any,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishReport:
    """Send each record as one message; records SQS cannot carry are reported, not sent."""
    report = PublishReport()

    def sendable() -> Iterator[dict[str, Any]]:
        for record in records:
            report.read += 1
            report.next_cursor = record.sequence + 1
            reason = unsendable_reason(record.data)
            if reason is None:
                yield message_entry(record, seed=seed, chaos=chaos)
            else:
                report.rejected.append((record.sequence, reason))

    for batch in send_batches(sendable()):
        _send(sqs_client, queue_url, batch, report, sleep)
    return report


def publish_stream(
    fetch: FetchPage,
    queue_url: str,
    *,
    count: int,
    seed: int,
    chaos: bool,
    cursor: int = 0,
    page_size: int = 100,
    sqs_client: Any,
) -> PublishReport:
    """Read `count` records from the farm from `cursor` on and publish them to `queue_url`."""
    records = read_records(fetch, start=cursor, count=count, page_size=page_size)
    report = publish_records(records, queue_url, seed=seed, chaos=chaos, sqs_client=sqs_client)
    if report.read == 0:
        report.next_cursor = cursor
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Publish farm stream records to an SQS queue (one message per record)."
    )
    parser.add_argument("--queue-url", required=True, help="URL of the SQS ingest queue")
    parser.add_argument("--count", type=int, default=1000, help="records to publish (1000)")
    parser.add_argument(
        "--farm-url", help="farm base URL (default: start the farm in-process on a free port)"
    )
    parser.add_argument("--seed", type=int, default=0, help="stream seed (0)")
    parser.add_argument(
        "--chaos", action=argparse.BooleanOptionalAction, default=True, help="chaos stream (on)"
    )
    parser.add_argument("--cursor", type=int, default=0, help="first stream sequence (0)")
    parser.add_argument("--page-size", type=int, default=100, help="records per farm page (100)")
    parser.add_argument("--region", help="AWS region (default: from the AWS configuration)")
    parser.add_argument("--endpoint-url", help="SQS endpoint (e.g. a local emulator)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    return parser


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.count < 0:
        parser.error("--count must be >= 0")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    if args.cursor < 0:
        parser.error("--cursor must be >= 0")
    if not 1 <= args.page_size <= 1000:
        parser.error("--page-size must be between 1 and 1000")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        sqs = boto3.client("sqs", region_name=args.region, endpoint_url=args.endpoint_url)
        farm_server = None
        farm_url = args.farm_url
        if farm_url is None:
            farm_server = start_farm()
            farm_url = farm_server.url
        stream = FarmStream(
            farm_url, chaos=args.chaos, seed=args.seed, token=os.environ.get("FARM_API_TOKEN")
        )
        try:
            report = publish_stream(
                RetryingFetch(stream.fetch),
                args.queue_url,
                count=args.count,
                seed=args.seed,
                chaos=args.chaos,
                cursor=args.cursor,
                page_size=args.page_size,
                sqs_client=sqs,
            )
        finally:
            stream.close()
            if farm_server is not None:
                farm_server.close()
    except (FarmError, FarmStartError, BotoCoreError, ClientError, OSError) as exc:
        print(f"publish_to_sqs: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("publish_to_sqs: interrupted", file=sys.stderr)
        return 130

    for sequence, reason in report.rejected:
        print(f"publish_to_sqs: record {sequence} not sent: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(
            f"read {report.read}, sent {report.sent}, rejected {len(report.rejected)},"
            f" next cursor {report.next_cursor}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
