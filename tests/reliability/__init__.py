"""Reliability and security suite: faults, hostile input, load; nothing lost, nothing wrong."""
