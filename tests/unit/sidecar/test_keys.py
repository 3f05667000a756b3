"""Key names: hash tags, tagged defaults, the KEYS list of a batch call."""

from __future__ import annotations

import pytest

from sidecar_fn.errors import SettingsError
from sidecar_fn.keys import KeyNames, hash_tag, key_names, seen_key_prefix
from sidecar_fn.settings import Settings


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        ("aos:{src}:invoices", "src"),
        ("aos:invoices", None),
        ("aos:{}:x{y}", None),
        ("a{b}{c}", "b"),
        ("a{b", None),
    ],
)
def test_hash_tag_follows_the_cluster_rule(key: str, tag: str | None) -> None:
    assert hash_tag(key) == tag


def test_untagged_names_keep_the_historical_seen_prefix() -> None:
    names = key_names("aos:invoices", "aos:invoices:dlq", cluster=False)
    assert names.tag is None
    assert names.batch_keys("src", ["a", "ver:1"]) == [
        b"aos:invoices",
        b"aos:invoices:dlq",
        b"aos:seen:src:a",
        b"aos:seen:src:ver:1",
    ]


def test_tagged_names_put_seen_keys_in_the_streams_slot() -> None:
    names = key_names("aos:{src}:invoices", "aos:{src}:invoices:dlq", cluster=True)
    assert names.batch_keys("src", ["a"])[2:] == [b"aos:seen:{src}:a"]
    assert names.batch_keys("other", ["a"])[2:] == [b"aos:seen:{src}:other:a"]
    assert len(names.fixed()) == KeyNames.FIXED_KEYS
    assert seen_key_prefix("src") == "aos:seen:src:"


def test_cluster_mode_refuses_streams_in_two_slots() -> None:
    with pytest.raises(ValueError, match="share a hash tag"):
        key_names("aos:{a}:invoices", "aos:{b}:invoices:dlq", cluster=True)


def test_cluster_settings_default_to_names_tagged_with_the_source() -> None:
    settings = Settings.from_env({"AOS_REDIS_CLUSTER": "true", "AOS_SOURCE_ID": "s1"})
    assert settings.redis_cluster
    assert (settings.stream, settings.dlq_stream) == ("aos:{s1}:invoices", "aos:{s1}:invoices:dlq")
    plain = Settings.from_env({"AOS_SOURCE_ID": "s1"})
    assert (plain.stream, plain.dlq_stream) == ("aos:invoices", "aos:invoices:dlq")
    with pytest.raises(SettingsError, match="AOS_REDIS_WAIT_REPLICAS"):
        Settings.from_env({"AOS_REDIS_WAIT_REPLICAS": "-1"})
    with pytest.raises(SettingsError, match="AOS_REDIS_CLUSTER"):
        Settings.from_env({"AOS_REDIS_CLUSTER": "maybe"})
