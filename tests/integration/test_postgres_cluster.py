"""The throwaway PostgreSQL the suite starts: durable settings, private, and gone after."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psycopg
import pytest

from pg_cluster import throwaway_postgres

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("OMSIMS_TEST_POSTGRES_URL")),
    reason="a developer's own database is in use, not a throwaway one",
)


def test_the_cluster_runs_with_durability_on_in_a_temp_dir_on_a_private_port(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("fsync", "synchronous_commit", "full_page_writes", "listen_addresses")
        }
        data = conn.execute("SHOW data_directory").fetchone()[0]
        port = int(conn.execute("SHOW port").fetchone()[0])
    assert settings == {
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
        "listen_addresses": "127.0.0.1",
    }
    assert Path(data).name == "data"
    assert Path(data).parent.name.startswith("omsims-pg-")
    assert port != 5432  # never the system cluster's port


def test_a_cluster_is_stopped_and_deleted_when_the_block_ends():
    with throwaway_postgres() as url:
        with psycopg.connect(url) as conn:
            data = Path(conn.execute("SHOW data_directory").fetchone()[0])
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert data.exists()
    assert not data.parent.exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nobody listens any more
