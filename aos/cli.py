"""`aos`: the operator's command line (report, redrive, run); errors as one line on stderr."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import redis

from sidecar_fn.errors import SidecarError
from sidecar_fn.settings import Settings

PROG = "aos"
EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
REASONS = ("retries_exhausted", "unrepairable", "malformed")


class CommandError(Exception):
    """A setup or runtime problem to report in one line."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line instead of usage plus error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        help="Redis to read and write (default $REDIS_URL; rediss:// for TLS)",
    )
    parser.add_argument("--source-id", help="source name (default $AOS_SOURCE_ID)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    """`aos` and its subcommands."""
    parser = _Parser(
        prog=PROG,
        description=(
            "The operator's command for the AOS ingest sidecar. Settings (source of truth,"
            " stream names, schema) come from the same environment as the Lambda handler."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    report = commands.add_parser("report", help="drift, outcomes and dead letters per hour")
    _common(report)
    report.add_argument(
        "--hours", type=_positive, default=24, help="hours back from now (default 24)"
    )
    report.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page")
    redrive = commands.add_parser("redrive", help="replay dead letters through the sidecar")
    _common(redrive)
    redrive.add_argument("--reason", required=True, choices=REASONS)
    redrive.add_argument("--limit", type=_positive, metavar="N", help="replay at most N")
    redrive.add_argument(
        "--since", type=_since, metavar="ISO", help="only dead letters added since then"
    )
    redrive.add_argument("--dry-run", action="store_true", help="show what would be replayed")
    redrive.add_argument(
        "--batch-size", type=_positive, default=100, metavar="B", help="replays per write"
    )
    commands.add_parser(
        "run",
        help="the local runner (python local/run_sidecar.py): aos run --help",
        add_help=False,
    )
    return parser


def settings_for(args: argparse.Namespace, environ: dict[str, str]) -> Settings:
    """The sidecar's settings from the environment, with --redis-url and --source-id over it."""
    env = dict(environ)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    if getattr(args, "source_id", None):
        env["AOS_SOURCE_ID"] = args.source_id
    try:
        return Settings.from_env(env)
    except SidecarError as exc:
        raise CommandError(f"invalid setting: {exc}") from exc


def _connect(settings: Settings) -> Any:
    from sidecar_fn.wiring import build_redis_client

    client = build_redis_client(settings)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise CommandError(f"cannot reach Redis ({_redact(settings.redis_url)}): {exc}") from exc
    return client


def _redact(url: str) -> str:
    _, at, tail = url.rpartition("@")
    return f"{url.split('://', 1)[0]}://***@{tail}" if at else url


def run_report(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """`aos report`."""
    from aos.report import build_report, hours_back, render_text
    from aos.stats_read import read_buckets
    from sidecar_fn.keys import key_names

    settings = settings_for(args, dict(os.environ))
    client = _connect(settings)
    hours = hours_back(datetime.now(UTC), args.hours)
    try:
        names = key_names(settings.stream, settings.dlq_stream, cluster=settings.redis_cluster)
        buckets = read_buckets(client, names, settings.source_id, hours)
    except redis.RedisError as exc:
        raise CommandError(f"cannot read statistics: {exc}") from exc
    finally:
        client.close()
    report = build_report(settings.source_id, hours, buckets)
    if args.html:
        from aos.report_html import render_html

        path = Path(args.html)
        try:
            path.write_text(render_html(report), encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror}") from exc
        print(f"{PROG}: wrote {path} ({path.stat().st_size:,} bytes)", file=sys.stderr)
    out(json.dumps(report.to_dict()) if args.json else render_text(report))
    return EXIT_OK


def run_redrive(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """`aos redrive`."""
    from aos.redrive import Redrive, RedriveOptions
    from sidecar_fn.wiring import build_sidecar

    settings = settings_for(args, dict(os.environ))
    client = _connect(settings)
    try:
        sidecar = build_sidecar(settings, redis_client=client)
    except (SidecarError, ValueError, OSError) as exc:
        raise CommandError(f"invalid sidecar configuration: {exc}") from exc
    options = RedriveOptions(
        reason=args.reason,
        limit=args.limit,
        since=args.since,
        dry_run=args.dry_run,
        batch_size=args.batch_size,
        progress=not args.json,
    )
    try:
        summary = Redrive(client, sidecar, settings.dlq_stream, settings.stream).run(options)
    except (redis.RedisError, SidecarError) as exc:
        raise CommandError(f"Redis failed during the redrive: {exc}") from exc
    finally:
        client.close()
    out(json.dumps(summary.to_dict()) if args.json else summary.to_text())
    return EXIT_OK if summary.reconciled else EXIT_ERROR


def run_runner(argv: Sequence[str]) -> int:
    """`aos run ...`: the local runner, unchanged."""
    from local.cli import main as runner_main

    return runner_main(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `aos` console script; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["run"]:
        return run_runner(arguments[1:])
    args = build_parser().parse_args(arguments)
    out: Callable[[str], None] = print
    handlers: dict[str, Callable[[argparse.Namespace, Callable[[str], None]], int]] = {
        "report": run_report,
        "redrive": run_redrive,
    }
    try:
        return handlers[args.command](args, out)
    except CommandError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, never a traceback
        print(
            f"{PROG} {args.command}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr
        )
        return EXIT_ERROR


def console() -> NoReturn:
    """The console script."""
    sys.exit(main())


if __name__ == "__main__":
    console()
