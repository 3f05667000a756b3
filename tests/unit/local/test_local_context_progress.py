"""The Lambda context stand-in and the plain progress lines."""

from __future__ import annotations

import io

from local.lambda_context import LambdaContext
from local.progress import LineProgress, NullProgress, make_progress
from local.summary import RunTotals


def test_remaining_time_counts_down_to_zero() -> None:
    now = [100.0]
    context = LambdaContext(timeout_ms=3000, clock=lambda: now[0])
    assert context.get_remaining_time_in_millis() == 3000
    now[0] += 1.25
    assert context.get_remaining_time_in_millis() == 1750
    now[0] += 10
    assert context.get_remaining_time_in_millis() == 0


def test_context_has_the_fields_lambda_code_reads() -> None:
    a, b = LambdaContext(), LambdaContext()
    assert a.aws_request_id != b.aws_request_id
    assert a.function_name in a.invoked_function_arn
    assert a.invoked_function_arn.startswith("arn:aws:lambda:")
    assert isinstance(a.memory_limit_in_mb, int)
    assert a.log_group_name == f"/aws/lambda/{a.function_name}"


def test_plain_progress_writes_at_most_one_line_per_interval() -> None:
    out = io.StringIO()
    now = [0.0]
    progress = LineProgress(out, total=1000, interval=2.0, clock=lambda: now[0])
    totals = RunTotals(read=100, repaired=10, malformed=3)
    progress.update(totals)
    assert out.getvalue() == ""
    now[0] = 2.5
    progress.update(totals)
    now[0] = 3.0
    totals.read = 200
    progress.update(totals)
    lines = out.getvalue().splitlines()
    assert lines == [
        "progress: 100/1,000 (10%) records, 40 records/s, repaired 10, dead letters 3, retries 0"
    ]


def test_progress_is_plain_off_a_terminal_and_silent_when_disabled() -> None:
    assert isinstance(make_progress(io.StringIO(), total=None, enabled=True), LineProgress)
    assert isinstance(make_progress(io.StringIO(), total=None, enabled=False), NullProgress)
