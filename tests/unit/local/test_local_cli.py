"""Command line parsing and the service helpers that need no network."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from local.cli import UsageError, _GracefulStop, build_parser, check_timeout, main
from local.services import (
    EMBEDDED_REDIS,
    SetupError,
    connect_redis,
    redact_url,
    sidecar_environment,
    stream_names,
)


def test_defaults_follow_the_spec() -> None:
    args = build_parser().parse_args([])
    assert args.farm_url is None and args.redis_url is None
    assert args.count is None and not args.follow
    assert args.chaos is True and args.seed == 0
    assert args.batch_size is None and args.max_attempts == 3
    assert args.event_source == "sqs" and args.source == "farm"
    assert not args.json


def test_every_spec_flag_is_accepted() -> None:
    args = build_parser().parse_args(
        [
            "--farm-url", "http://127.0.0.1:8000", "--redis-url", "redis://h:1/0",
            "--count", "50", "--no-chaos", "--seed", "9", "--batch-size", "10",
            "--max-attempts", "5", "--json", "--event-source", "kinesis",
            "--source-id", "s", "--page-size", "20", "--from-cursor", "7",
        ]
    )  # fmt: skip
    assert (args.count, args.chaos, args.seed, args.batch_size) == (50, False, 9, 10)
    assert (args.max_attempts, args.event_source, args.page_size) == (5, "kinesis", 20)
    assert build_parser().parse_args(["--follow", "--source", "sqs://q.example/1/q"]).follow


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--count", "0"], "out of range"),
        (["--count", "ten"], "not an integer"),
        (["--count", "5", "--follow"], "not allowed with argument"),
        (["--batch-size", "0"], "out of range"),
        (["--page-size", "1001"], "out of range"),
        (["--max-attempts", "0"], "out of range"),
        (["--seed", "-1"], "out of range"),
        (["--event-source", "sns"], "invalid choice"),
        (["--source", "kafka://x"], "expected 'farm' or sqs://QUEUE_URL"),
        (["--retry-backoff", "nan"], "finite number"),
    ],
)
def test_a_bad_flag_is_one_line_on_stderr_and_exit_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert fragment in err
    assert "Traceback" not in err and "usage:" not in err


def test_passwords_never_appear_in_shown_urls() -> None:
    assert redact_url("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact_url("rediss://user:pw@h/1") == "rediss://user:***@h/1"
    assert redact_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_flags_override_the_sidecar_environment() -> None:
    base = {"AOS_SOURCE_ID": "from-env", "AOS_STREAM": "env:stream", "OTHER": "kept"}
    env = sidecar_environment(
        base, redis_url=None, farm_url="http://f", source_id="flag", stream=None, dlq_stream="d"
    )
    assert env["AOS_SOURCE_ID"] == "flag" and env["AOS_STREAM"] == "env:stream"
    assert env["FARM_URL"] == "http://f" and env["OTHER"] == "kept"
    assert "REDIS_URL" not in env
    assert stream_names(env) == ("env:stream", "d")
    assert stream_names({}) == ("aos:invoices", "aos:invoices:dlq")
    assert "AOS_SCHEMA" not in env
    with_schema = sidecar_environment(
        base, redis_url=None, farm_url="http://f", source_id=None, stream=None, dlq_stream=None,
        schema="/tmp/s.json",
    )  # fmt: skip
    assert with_schema["AOS_SCHEMA"] == "/tmp/s.json"


def test_no_redis_url_means_an_embedded_redis() -> None:
    connection = connect_redis(None)
    assert connection.embedded and connection.description == EMBEDDED_REDIS
    assert connection.client.ping()


def test_a_redis_url_with_another_scheme_is_refused() -> None:
    with pytest.raises(SetupError, match="must start with redis://"):
        connect_redis("http://:pw@localhost:6379")


def test_first_signal_requests_a_stop_and_a_second_abandons_the_batch() -> None:
    stop = threading.Event()
    notes: list[str] = []
    before = signal.getsignal(signal.SIGTERM)
    with _GracefulStop(stop, notes.append):
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set()
        assert "SIGTERM: stopping after the current batch" in notes[0]
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("timeout", ["1", "0.5", "0"])
def test_a_timeout_at_or_below_the_deadline_reserve_is_refused(
    timeout: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AOS_DEADLINE_RESERVE_SECONDS", raising=False)
    assert main(["--timeout", timeout]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "deadline reserve of 1 s" in err and "AOS_DEADLINE_RESERVE_SECONDS" in err


def test_the_timeout_is_checked_against_the_configured_reserve(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AOS_DEADLINE_RESERVE_SECONDS", "5")
    assert main(["--timeout", "4"]) == 2
    assert "deadline reserve of 5 s" in capsys.readouterr().err
    check_timeout(5.5, 5.0)
    check_timeout(1.01, 1.0)
    with pytest.raises(UsageError):
        check_timeout(1.0, 1.0)


def test_a_bad_deadline_reserve_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AOS_DEADLINE_RESERVE_SECONDS", "inf")
    assert main(["--timeout", "4"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "AOS_DEADLINE_RESERVE_SECONDS" in err
