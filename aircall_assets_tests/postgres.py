"""The tests' PostgreSQL server: the throwaway cluster of ``aircall_assets/postgres_server.py``
(the benchmark starts one too), and a fresh database per test."""

from aircall_assets.postgres_server import PostgresCluster, fresh_database

__all__ = ["PostgresCluster", "fresh_database"]
