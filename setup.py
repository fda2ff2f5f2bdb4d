from setuptools import find_packages, setup

setup(
    name="aircall_assets",
    version="0.1.0",
    description="Aircall <-> warehouse as Dagster software-defined assets, with reverse sync.",
    packages=find_packages(include=["aircall_assets", "aircall_assets.*"]),
    python_requires=">=3.10",
    install_requires=[
        "dagster>=1.13,<1.14",
        "dagster-webserver>=1.13,<1.14",
        "dagster-duckdb>=0.29,<0.30",
        "duckdb>=1.3,<3",  # TRY() in the typing SQL
        "requests>=2.31,<3",  # the benchmark and the tests talk to the simulator with it
        "urllib3>=2,<3",  # the client's wire (aircall_assets/client/transport.py says why)
        "certifi",
        "pandas>=2.1,<3",
        "pydantic>=2.5,<3",
        "PyYAML>=6,<7",
        "orjson>=3.9,<4",
        "zstandard>=0.22",  # the load spool (warehouse.py)
        "psycopg[binary]>=3.2,<4",  # the PostgreSQL warehouse (AIRCALL_WAREHOUSE_URL)
        "dagster-dg-cli>=1.13,<1.14",  # `dg`: list, scaffold and check AircallComponent
        "fsspec>=2024.2",  # the recordings archive: a folder or any fsspec URL (s3://, gs://)
    ],
    # `dg list components` finds aircall_assets.AircallComponent in any project that installs us
    entry_points={"dagster_dg_cli.registry_modules": ["aircall_assets = aircall_assets"]},
    extras_require={
        "dev": [
            "pytest>=8,<10",
            "pytest-xdist>=3.5,<4",  # make test runs the suite on two workers
            "dagster-graphql>=1.13,<1.14",
            "dagster-postgres>=0.29,<0.30",  # the e2e deployment's instance storage
            "playwright>=1.40,<2",  # drives Debian's chromium in the e2e test (no browser download)
            "ruff>=0.5",
        ],
    },
)
