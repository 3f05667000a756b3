"""Where an `sqs://` source points: the queue URL, and the endpoint and region it implies."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

FALLBACK_REGION = "us-east-1"
_AWS_HOST = re.compile(r"(?:^|\.)amazonaws\.com(?:\.cn)?$")
_REGION = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+$")
_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL")
_REGION_VARIABLES = ("AWS_DEFAULT_REGION", "AWS_REGION")


@dataclass(frozen=True)
class SqsTarget:
    """A queue and how to reach it; None means "let boto3 decide" (environment, profile)."""

    queue_url: str
    endpoint_url: str | None
    region: str | None


def queue_url_of(source: str) -> str:
    """The queue URL of `sqs://HOST/PATH` (https) or `sqs://http(s)://HOST/PATH`."""
    url = source.removeprefix("sqs://")
    if not url.startswith(("http://", "https://")):
        url = f"https://{url}"
    return url


def region_in_host(host: str) -> str | None:
    """The AWS region named in an AWS SQS host (`sqs.eu-west-1.amazonaws.com`,
    `eu-west-1.queue.amazonaws.com`; `queue.amazonaws.com` is us-east-1), else None."""
    if not _AWS_HOST.search(host):
        return None
    for label in host.split("."):
        if _REGION.match(label):
            return label
    return FALLBACK_REGION if host == "queue.amazonaws.com" else None


def sqs_target(source: str, environ: Mapping[str, str]) -> SqsTarget:
    """The queue URL of `source` and the endpoint and region to call it with.

    An AWS host gives the region and lets boto3 pick the endpoint; any other host (a
    local emulator such as ElasticMQ or moto) is the endpoint itself, with the region
    from the environment or, failing that, us-east-1 (emulators accept any). An
    explicit environment wins: `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL` over the URL's
    host, `AWS_DEFAULT_REGION` / `AWS_REGION` over the URL's region.
    """
    url = queue_url_of(source)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"sqs://{source.removeprefix('sqs://')} names no host")
    env_region = next((environ[n] for n in _REGION_VARIABLES if environ.get(n)), None)
    env_endpoint = any(environ.get(n) for n in _ENDPOINT_VARIABLES)
    url_region = region_in_host(host)
    endpoint = None
    if url_region is None and not env_endpoint:
        endpoint = f"{parts.scheme}://{parts.netloc}"
    region = env_region or url_region
    if region is None and endpoint is not None:
        region = FALLBACK_REGION
    return SqsTarget(queue_url=url, endpoint_url=endpoint, region=region)
