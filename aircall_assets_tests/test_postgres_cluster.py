"""The test PostgreSQL server itself: the version the project supports, a password required."""

import psycopg
import pytest

from aircall_assets_tests.postgres import PostgresCluster


def test_the_cluster_is_postgresql_15_and_refuses_a_wrong_password(postgres_url):
    with psycopg.connect(postgres_url) as con:
        (version,) = con.execute("SHOW server_version_num").fetchone()
        (fsync,) = con.execute("SHOW fsync").fetchone()
    assert version.startswith("15") and fsync == "off"
    wrong = postgres_url.replace(postgres_url.split(":")[2].split("@")[0], "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


def test_stop_removes_every_file_of_the_cluster():
    cluster = PostgresCluster().start()
    root = cluster.root
    assert (root / "data" / "postmaster.pid").exists()
    cluster.stop()
    assert not root.exists()
