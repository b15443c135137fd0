"""A throwaway PostgreSQL cluster for the tests that need one: never a system cluster.

``initdb`` and ``pg_ctl`` in a fresh temporary directory, on a free port, listening on
127.0.0.1 and a socket in that directory only; stopped and deleted afterwards. ``initdb``
refuses to run as root, so as root the cluster belongs to the ``postgres`` system user
(via ``runuser``). Set ``OMSIMS_TEST_POSTGRES_URL`` to use a database you run instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

BINARIES = ("/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin")
SETTINGS = {  # durability stays on: the tests exercise what production runs
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "max_connections": "40",
    "shared_buffers": "64MB",
}


def _binary(name: str) -> str:
    for folder in BINARIES:
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        msg = f"PostgreSQL's {name} is not installed (make test installs it with apt-get)"
        raise RuntimeError(msg)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], *, as_postgres: bool) -> None:
    if as_postgres:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, capture_output=True, timeout=120)  # noqa: S603


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A connection URL to a fresh cluster, for as long as the block runs."""
    if url := os.environ.get("OMSIMS_TEST_POSTGRES_URL"):
        yield url
        return
    as_postgres = os.geteuid() == 0
    place = Path(tempfile.mkdtemp(prefix="omsims-pg-"))
    data = place / "data"
    if as_postgres:
        shutil.chown(place, "postgres", "postgres")
    port = _free_port()
    _run(
        [_binary("initdb"), "-D", str(data), "-U", "omsims", "--auth=trust", "-E", "UTF8"],
        as_postgres=as_postgres,
    )
    options = " ".join(
        [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-k {place}"]
        + [f"-c {k}={v}" for k, v in SETTINGS.items()]
    )
    pg_ctl = _binary("pg_ctl")
    _run(
        [pg_ctl, "-D", str(data), "-o", options, "-l", str(place / "log"), "-w", "start"],
        as_postgres=as_postgres,
    )
    try:
        yield f"postgresql://omsims@127.0.0.1:{port}/postgres"
    finally:
        _run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], as_postgres=as_postgres)
        shutil.rmtree(place, ignore_errors=True)
