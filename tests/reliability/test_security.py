"""Security: token required and compared in constant time, never leaked; TLS Redis; no redirects."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis

from .batches import mixed_items
from .conftest import FAST_RECOVERY, SidecarFactory, sidecar_env
from .delivery import deliver, redeliver_failed
from .evil_sot import BATCH_PATH, EvilSourceOfTruth, RecordingServer
from .ledger import ReadStreams, check_ledger, expected_outcome, read_ledger
from .redis_server import PrivateRedis

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]
ITEMS = mixed_items("sec", 40)
REPAIRABLE = {item_id for item_id, raw in ITEMS if expected_outcome(raw) == "repaired"}
FARM_ROUTES = [
    "/api/stream?limit=1",
    "/api/source/salesforce/invoice/INV-1",
    f"{BATCH_PATH}?ids=INV-1,INV-2",
]


def secret_token() -> str:
    """A token distinctive enough that any occurrence in output is a leak."""
    return f"tok-{uuid.uuid4().hex}-SECRET"


@pytest.mark.integration
def test_farm_requires_the_token_on_every_api_route(farm_factory: Any) -> None:
    token = secret_token()
    farm = farm_factory({"FARM_API_TOKEN": token})
    wrong = token[:-1] + ("X" if token[-1] != "X" else "Y")
    with httpx.Client(base_url=farm.url, timeout=10) as client:
        for route in FARM_ROUTES:
            for headers in ({}, {"Authorization": f"Bearer {wrong}"}, {"Authorization": token}):
                response = client.get(route, headers=headers)
                assert response.status_code == 401, (route, headers)
                assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"
                assert token not in response.text
            ok = client.get(route, headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200, route


def _token_comparisons(tree: ast.AST) -> list[int]:
    """Line numbers of `==`/`!=` comparisons that involve a name or attribute about tokens."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        names = [
            sub.id if isinstance(sub, ast.Name) else sub.attr
            for part in [node.left, *node.comparators]
            for sub in ast.walk(part)
            if isinstance(sub, ast.Name | ast.Attribute)
        ]
        if any("token" in name.lower() or "presented" in name.lower() for name in names):
            lines.append(node.lineno)
    return lines


def test_farm_compares_the_token_in_constant_time() -> None:
    sources = sorted((REPO / "farm_api").rglob("*.py"))
    assert sources, "farm_api has no Python sources"
    uses_compare_digest = False
    for path in sources:
        tree = ast.parse(path.read_text(), filename=str(path))
        assert _token_comparisons(tree) == [], f"{path}: token compared with ==/!="
        uses_compare_digest |= any(
            isinstance(node, ast.Attribute) and node.attr == "compare_digest"
            for node in ast.walk(tree)
        )
    assert uses_compare_digest, "no hmac.compare_digest in farm_api"


def test_token_comparison_detector_flags_plain_equality() -> None:
    assert _token_comparisons(ast.parse("ok = presented == expected_token")) == [1]
    assert _token_comparisons(ast.parse("ok = hmac.compare_digest(a, token)")) == []


@pytest.mark.integration
def test_sidecar_sends_the_token_and_never_leaks_it(
    evil_sot: EvilSourceOfTruth,
    bystander: RecordingServer,
    make_sidecar: SidecarFactory,
    keyspace: Any,
    redis_url: str,
    redis_client: redis.Redis,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    read_streams: ReadStreams,
) -> None:
    token = secret_token()
    evil_sot.token = token
    env = {
        **keyspace.env(),
        **FAST_RECOVERY,
        "REDIS_URL": redis_url,
        "FARM_URL": evil_sot.url,
        "FARM_API_TOKEN": token,
    }
    sidecar = make_sidecar(env)
    outputs = [repr(sidecar), str(vars(sidecar))]

    evil_sot.set("unauthorized")
    first = deliver(sidecar, ITEMS[:20])
    assert REPAIRABLE & {i for i, _ in ITEMS[:20]} <= set(first.failed)
    evil_sot.set("redirect")
    second = deliver(sidecar, ITEMS[20:])
    evil_sot.set("ok")
    assert redeliver_failed(sidecar, ITEMS, first.failed + second.failed) == []
    outputs += [repr(first.report), repr(second.report)]

    assert evil_sot.requests, "the sidecar never asked the source of truth"
    for seen in evil_sot.requests:
        assert seen.headers.get("authorization") == f"Bearer {token}"
    assert bystander.requests == [], "a redirect took the token off-host"

    ledger = read_streams()
    assert check_ledger(ledger, dict(ITEMS)) == []
    stored = [
        str(fields)
        for key in (keyspace.stream, keyspace.dlq_stream)
        for _, fields in cast(list[tuple[bytes, dict[bytes, bytes]]], redis_client.xrange(key))
    ]
    captured = capfd.readouterr()
    outputs += [captured.out, captured.err, caplog.text, *stored]
    assert caplog.text or captured.out, "no log output was captured"
    leaks = [text[:200] for text in outputs if token in text]
    assert leaks == []


@pytest.mark.integration
def test_sidecar_without_the_token_is_refused_and_fails_items_back(
    farm_factory: Any,
    make_sidecar: SidecarFactory,
    keyspace: Any,
    redis_url: str,
    read_streams: ReadStreams,
) -> None:
    token = secret_token()
    farm = farm_factory({"FARM_API_TOKEN": token})
    base = sidecar_env(keyspace.env(), redis_url, farm.url)
    from .farm_truth import FarmTruth

    truth = FarmTruth(farm.url, token=token)
    try:
        truth.prefetch([f"INV-{n}" for n in range(1, 42)] + ["INV-999999999999"])
        items = mixed_items("tok", 40, truth=truth)
        repairable = {i for i, raw in items if expected_outcome(raw, truth) == "repaired"}
        anonymous = deliver(make_sidecar(base), items)
        assert repairable <= set(anonymous.failed)
        authorised = make_sidecar({**base, "FARM_API_TOKEN": token})
        assert redeliver_failed(authorised, items, anonymous.failed) == []
        ledger = read_streams()
        assert check_ledger(ledger, dict(items), sot=truth) == []
    finally:
        truth.close()


def test_settings_accept_rediss_urls_and_hide_the_token() -> None:
    from .conftest import require

    settings_module = require("sidecar_fn.settings")
    token = secret_token()
    url = "rediss://:pw@cache.example.internal:6380/0"
    settings = settings_module.Settings.from_env({"REDIS_URL": url, "FARM_API_TOKEN": token})
    assert settings.redis_url == url
    assert token not in repr(settings)


@pytest.mark.integration
def test_sidecar_over_tls_redis(
    tls_redis: PrivateRedis,
    evil_sot: EvilSourceOfTruth,
    make_sidecar: SidecarFactory,
    unique_keys: dict[str, str],
) -> None:
    env = {**unique_keys, **FAST_RECOVERY, "FARM_URL": evil_sot.url}
    assert tls_redis.url.startswith("rediss://")
    sidecar = make_sidecar({**env, "REDIS_URL": tls_redis.url})
    assert deliver(sidecar, ITEMS).failed == []
    client = tls_redis.client()
    ledger = read_ledger(client, unique_keys["AOS_STREAM"], unique_keys["AOS_DLQ_STREAM"])
    client.close()
    assert check_ledger(ledger, dict(ITEMS)) == []

    unverified = f"rediss://127.0.0.1:{tls_redis.port}/0"
    stranger = make_sidecar({**env, "REDIS_URL": unverified})
    refused = deliver(stranger, ITEMS[:5], budget_ms=5_000)
    assert len(refused.failed) == 5, "a certificate nobody vouched for was accepted"
    plain = make_sidecar({**env, "REDIS_URL": f"redis://127.0.0.1:{tls_redis.port}/0"})
    assert len(deliver(plain, ITEMS[:5], budget_ms=5_000).failed) == 5


@pytest.mark.integration
def test_redis_password_never_reaches_logs_or_failures(
    tmp_path: Path,
    evil_sot: EvilSourceOfTruth,
    make_sidecar: SidecarFactory,
    unique_keys: dict[str, str],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    password = secret_token()
    server = PrivateRedis(tmp_path)
    url = f"redis://:{password}@127.0.0.1:{server.port}/0"
    env = sidecar_env(unique_keys, url, evil_sot.url)
    sidecar = make_sidecar(env)
    down = deliver(sidecar, ITEMS[:10], budget_ms=5_000)
    assert len(down.failed) == 10
    captured = capfd.readouterr()
    outputs = [captured.out, captured.err, caplog.text, repr(down.report), repr(sidecar)]
    assert [text[:200] for text in outputs if password in text] == []


FARM_HOSTILE_PATHS = [
    "/api/source/salesforce/invoice/..%2F..%2Fapi%2Fstream",
    "/api/source/salesforce/invoice/INV-1%0D%0AX-Injected:%20yes",
    "/api/source/salesforce/invoice/INV-%D9%A1%D9%A2",
    "/api/source/salesforce/invoice/INV-" + "9" * 5000,
    "/api/source/salesforce/invoice/INV-1%00",
    "/api/source/salesforce/invoices?ids=INV-1,..%2Fetc",
    "/api/source/salesforce/invoices?ids=" + ",".join(f"INV-{n}" for n in range(1, 203)),
    "/api/source/salesforce/invoices?ids=",
    "/api/stream?limit=100000",
    "/api/stream?cursor=-1",
    "/api/stream?seed=%F0%9F%92%A9",
]


@pytest.mark.integration
def test_farm_answers_hostile_requests_with_salesforce_errors(farm_factory: Any) -> None:
    farm = farm_factory({})
    with httpx.Client(base_url=farm.url, timeout=10) as client:
        for path in FARM_HOSTILE_PATHS:
            response = client.get(path)
            assert 400 <= response.status_code < 500, (path, response.status_code)
            body = response.json()
            assert isinstance(body, list) and body[0]["errorCode"], (path, body)
            assert "Traceback" not in response.text
            assert "x-injected" not in response.headers
