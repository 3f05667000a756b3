"""`sqs://` URLs: the endpoint and region they imply, and the environment that overrides them."""

from __future__ import annotations

import pytest

from local.sqs_endpoint import SqsTarget, queue_url_of, region_in_host, sqs_target


@pytest.mark.parametrize(
    ("source", "url"),
    [
        ("sqs://sqs.eu-west-1.amazonaws.com/1/q", "https://sqs.eu-west-1.amazonaws.com/1/q"),
        ("sqs://http://localhost:9324/000000000000/q", "http://localhost:9324/000000000000/q"),
        ("sqs://https://h.example/1/q", "https://h.example/1/q"),
    ],
)
def test_queue_urls(source: str, url: str) -> None:
    assert queue_url_of(source) == url


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("sqs.eu-west-1.amazonaws.com", "eu-west-1"),
        ("sqs-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("ap-southeast-2.queue.amazonaws.com", "ap-southeast-2"),
        ("sqs.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("queue.amazonaws.com", "us-east-1"),
        ("localhost", None),
        ("eu-west-1.example.com", None),
    ],
)
def test_the_region_comes_from_an_aws_host_only(host: str, region: str | None) -> None:
    assert region_in_host(host) == region


def test_an_aws_queue_url_gives_its_region_and_no_endpoint() -> None:
    target = sqs_target("sqs://sqs.eu-west-1.amazonaws.com/123456789012/q", {})
    assert target == SqsTarget(
        "https://sqs.eu-west-1.amazonaws.com/123456789012/q", None, "eu-west-1"
    )


def test_a_local_queue_url_is_its_own_endpoint() -> None:
    target = sqs_target("sqs://http://localhost:9324/000000000000/q", {})
    assert target.endpoint_url == "http://localhost:9324"
    assert target.region == "us-east-1"


def test_an_explicit_environment_wins() -> None:
    env = {"AWS_ENDPOINT_URL": "http://other:4566", "AWS_DEFAULT_REGION": "ap-south-1"}
    local = sqs_target("sqs://http://localhost:9324/000000000000/q", env)
    assert (local.endpoint_url, local.region) == (None, "ap-south-1")
    aws = sqs_target("sqs://sqs.eu-west-1.amazonaws.com/1/q", {"AWS_REGION": "us-west-2"})
    assert (aws.endpoint_url, aws.region) == (None, "us-west-2")
    sqs_only = sqs_target("sqs://http://localhost:9324/1/q", {"AWS_ENDPOINT_URL_SQS": "http://x"})
    assert sqs_only.endpoint_url is None
    region_only = sqs_target("sqs://http://localhost:9324/1/q", {"AWS_REGION": "eu-north-1"})
    assert (region_only.endpoint_url, region_only.region) == ("http://localhost:9324", "eu-north-1")


def test_a_url_without_host_is_refused() -> None:
    with pytest.raises(ValueError, match="names no host"):
        sqs_target("sqs://http:///q", {})
