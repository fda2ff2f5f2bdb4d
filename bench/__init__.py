"""``make bench``: the connector against its peers on the simulator, one case per fresh process.

``python -m bench`` runs the cases of issue 6 (throughput against dlt, Airbyte,
a naive baseline and the bare fetch-and-parse ceiling; rate-limit efficiency; backfill cost;
memory; the daily incremental run; reverse sync) and of issue 13 (one request budget shared by
the CLI's runs, their step processes and a reverse sync), prints one table and writes it, with
the machine's description, to ``docs/benchmarks.md``. The simulator runs in its own process on
loopback; every measured tool runs in a fresh worker process whose peak RSS is read from the
kernel when it exits. Peers are installed into virtual environments under ``.bench/`` (git
ignored), never into the project's dependencies.
"""
