"""`aos` against a Redis that speaks only TLS (rediss://), as an ElastiCache endpoint would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import trustme

from bench.services import free_port
from tests.conftest import IN_CI
from tests.integration.aos_command import run_aos

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[str, redis.Redis]]:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is required"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = (tmp_path / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    port = int(os.environ.get("AOS_TEST_TLS_PORT", 0)) or free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert_file),
            "--tls-key-file",
            str(key_file),
            "--tls-ca-cert-file",
            str(ca_file),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca_file}"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url, client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def test_report_and_redrive_over_tls(tls_redis: tuple[str, redis.Redis]) -> None:
    url, client = tls_redis
    hour = time.strftime("%Y%m%d%H", time.gmtime())
    client.hset(f"aos:stats:tls-src:{hour}", mapping={"records": 3, "clean": 2, "malformed": 1})
    client.xadd(
        "aos:invoices:dlq",
        {
            "reason": "malformed",
            "raw": "x",
            "error": "e",
            "source_id": "tls-src",
            "item_id": "i1",
            "received_at": "2026-01-02T03:04:05.000Z",
        },
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}
    report = run_aos(
        "report", "--redis-url", url, "--source-id", "tls-src", "--hours", "1", "--json", env=env
    )
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["total"]["records"] == 3
    dry = run_aos(
        "redrive",
        "--redis-url",
        url,
        "--source-id",
        "tls-src",
        "--reason",
        "malformed",
        "--dry-run",
        "--json",
        env=env,
    )
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["selected"] == 1

    plain = url.replace("rediss://", "redis://").split("?")[0]
    refused = run_aos("report", "--redis-url", plain, "--source-id", "tls-src", env=env)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
