"""The form of a cluster's address (`agents run --cluster`, `cluster:` in the config): a Dask scheduler's
address, or `local:N` for a LocalCluster of N worker processes. Checked by its form only, without Dask (an
optional extra), the same way for the option and the config; reaching the scheduler is runner/cluster.py's.
"""

from __future__ import annotations

import re

CLUSTER_HINT = ("give a Dask scheduler's address as `dask scheduler` prints it (tcp://HOST:8786), or local:N to "
                "start N worker processes here")
MAX_LOCAL_WORKERS = 256
PROTOCOLS = ("tcp", "tls", "ws", "wss", "ucx", "inproc")  # Dask's comm backends; tcp when none is written
_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+")


def cluster_problem(address: str) -> str | None:
    """Why `address` is neither a Dask scheduler's address nor local:N; None when it is one of them."""
    if not address.strip():
        return "an empty address names no cluster"
    if address.startswith("local:"):
        count = address[len("local:"):]
        if not (count.isdigit() and 1 <= int(count) <= MAX_LOCAL_WORKERS):
            return f"`{address}` is not local:N with N workers (1-{MAX_LOCAL_WORKERS})"
        return None
    protocol, given, rest = address.partition("://")
    if not given:
        protocol, rest = "tcp", address
    elif protocol not in PROTOCOLS:
        return f"`{address}` is not a Dask scheduler address: unknown protocol `{protocol}` ({', '.join(PROTOCOLS)})"
    if protocol == "inproc":
        return None if rest else f"`{address}` is not a Dask scheduler address: nothing after inproc://"
    host, colon, port = rest.rpartition(":")
    if not colon:
        return f"`{address}` is not a Dask scheduler address: no port (HOST:PORT)"
    if not _HOST.fullmatch(host):
        return f"`{address}` is not a Dask scheduler address: `{host}` is not a host name or IP address"
    if not (port.isdigit() and 1 <= int(port) <= 65535):
        return f"`{address}` is not a Dask scheduler address: `{port}` is not a port (1-65535)"
    return None


def local_workers(address: str) -> int | None:
    """N of a valid `local:N`; None for a scheduler's address."""
    return int(address[len("local:"):]) if address.startswith("local:") else None
