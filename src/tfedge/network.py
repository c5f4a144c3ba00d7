"""Whether a host answers: what ``source: auto`` asks before it downloads anything.

Only the download jobs (rules/download.smk) call this; every other job reads what they fetched.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit


def download_hosts(urls: Iterable[str]) -> list[tuple[str, int]]:
    """(host, port) of each URL, in order, once each: what a download would connect to."""
    hosts = []
    for url in urls:
        parts = urlsplit(url)
        host = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        if host not in hosts:
            hosts.append(host)
    return hosts


def host_reachable(address: tuple[str, int], timeout_s: float) -> bool:
    """TCP connect within timeout_s, DNS included (in a thread: getaddrinfo has no timeout)."""
    outcome: list[bool] = []

    def connect() -> None:
        try:
            with socket.create_connection(address, timeout=timeout_s):
                outcome.append(True)
        except OSError:
            outcome.append(False)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout_s)
    return bool(outcome and outcome[0])
