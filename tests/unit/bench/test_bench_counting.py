"""The benchmark's Redis round-trip counter: every command sent counts, a handshake does not."""

from __future__ import annotations

from bench.counting import counting_redis


def test_commands_count_and_the_connection_handshake_does_not(redis_url: str) -> None:
    client, counter = counting_redis(redis_url)
    client.ping()  # opens the connection: HELLO / CLIENT SETINFO first, not counted
    assert counter.round_trips == 1
    second = client.connection_pool.get_connection()  # a second connection, its handshake
    second.send_command("PING")
    second.read_response()
    client.connection_pool.release(second)
    client.get("bench:counting:absent")
    assert counter.round_trips == 3
    client.close()
