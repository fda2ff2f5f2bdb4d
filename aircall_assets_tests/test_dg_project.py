"""A Dagster project of a user's own, outside this repository, adds two Aircall accounts with `dg`.

Exactly what the README tells such a user to do: `dg scaffold defs aircall_assets.AircallComponent`
twice, set the variables each `defs.yaml` names, then `dg list components`, `dg check defs` and
`dg launch`. The two accounts are two simulated companies with different data and credentials;
each lands in its own schema, cell for cell, and neither token shows anywhere `dg` printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from aircall_assets.catalog import TABLES
from aircall_assets.simulator.config import utc_today
from aircall_assets_tests.helpers import assert_table_matches, query

ACCOUNTS = {
    "eu": {"seed": 1, "days": 4, "calls_per_day": 15},
    "us": {"seed": 2, "days": 3, "calls_per_day": 9},
}
KEYED = ("users", "numbers", "contacts", "calls")
FULL = ("tags", "teams", "company_info")
VENV_BIN = Path(sys.executable).parent
# One process per run, not one per step: the same assets, without a Python start per step.
IN_PROCESS = ("--config-json", '{"execution": {"config": {"in_process": {}}}}')


def _write_project(root: Path) -> None:
    """What `create-dagster project acme` lays out, minus the virtual environment."""
    package = root / "src" / "acme"
    (package / "defs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        textwrap.dedent(
            """\
            from pathlib import Path

            import dagster as dg


            @dg.definitions
            def defs() -> dg.Definitions:
                return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
            """
        )
    )
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "acme"
            version = "0.1.0"
            dependencies = ["aircall_assets"]

            [tool.dg]
            directory_type = "project"

            [tool.dg.project]
            root_module = "acme"
            """
        )
    )


def _midnight(day: date) -> int:
    return int(datetime.combine(day, time(), tzinfo=timezone.utc).timestamp())


def _dg(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "dg"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"dg {' '.join(args)} failed:\n{output}"
    return output


@pytest.mark.slow
def test_a_project_of_its_own_runs_two_accounts_with_dg(
    tmp_path: Path, simulator_factory, monkeypatch
) -> None:
    today = utc_today()
    sims = {
        name: simulator_factory(
            start_date=today - timedelta(days=spec["days"] + 1),
            contacts=25,
            api_id=f"{name}-id",
            api_token=f"{name}-token-never-shown",
            **spec,
        )
        for name, spec in ACCOUNTS.items()
    }
    project = tmp_path / "acme"
    _write_project(project)
    warehouse = tmp_path / "warehouse.duckdb"
    env = {
        **os.environ,
        "VIRTUAL_ENV": str(VENV_BIN.parent),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(project / "src"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "AIRCALL_DUCKDB_PATH": str(warehouse),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    (tmp_path / "dagster_home").mkdir()
    for name in ("AIRCALL_API_ID", "AIRCALL_API_TOKEN", "AIRCALL_SETTINGS", "AIRCALL_START_DATE"):
        env.pop(name, None)  # nothing of this repository's default account
    for name, sim in sims.items():
        prefix = name.upper()
        env[f"{prefix}_AIRCALL_API_ID"] = sim.config.api_id
        env[f"{prefix}_AIRCALL_API_TOKEN"] = sim.config.api_token
        env[f"{prefix}_AIRCALL_BASE_URL"] = sim.base_url

    printed = []
    for name, sim in sims.items():
        printed.append(
            _dg(
                project,
                env,
                "scaffold",
                "defs",
                "aircall_assets.AircallComponent",
                f"aircall_{name}",
                "--account",
                name,
            )
        )
        defs_yaml = project / "src" / "acme" / "defs" / f"aircall_{name}" / "defs.yaml"
        text = defs_yaml.read_text()
        assert f'api_token: "{{{{ env.{name.upper()}_AIRCALL_API_TOKEN }}}}"' in text
        # what the user edits: this company's history, its URL, no pacing against a simulator
        text = text.replace("requests_per_minute: 60", "requests_per_minute: 0")
        text = "\n".join(
            f"  history_start: {sim.config.first_day}"
            if line.startswith("  history_start:")
            else line
            for line in text.splitlines()
        )
        text += "\n"
        text += f'  base_url: "{{{{ env.{name.upper()}_AIRCALL_BASE_URL }}}}"\n'
        defs_yaml.write_text(text)

    printed.append(listed := _dg(project, env, "list", "components"))
    assert "aircall_assets.AircallComponent" in listed
    printed.append(checked := _dg(project, env, "check", "defs"))
    assert "All definitions loaded successfully" in checked

    for name, sim in sims.items():
        first, last = sim.config.first_day, today - timedelta(days=1)
        keyed = ",".join(f"aircall_{name}/{t}" for t in KEYED)
        full = ",".join(f"aircall_{name}/{t}" for t in FULL)
        printed.append(
            _dg(
                project,
                env,
                "launch",
                "--assets",
                keyed,
                "--partition-range",
                f"{first}...{last}",
                *IN_PROCESS,
            )
        )
        printed.append(_dg(project, env, "launch", "--assets", full, *IN_PROCESS))

    for name, sim in sims.items():
        schema = f"aircall_{name}"
        store = sim.store
        expected = {
            "calls": store.calls_between(0, _midnight(today)),
            "users": store.all("users"),
            "numbers": store.all("numbers"),
            "contacts": store.all("contacts"),
            "tags": store.all("tags"),
            "teams": store.all("teams"),
            "company_info": [store.company()],
        }
        for table, records in expected.items():
            assert assert_table_matches(warehouse, TABLES[table], records, schema=schema) == len(
                records
            ), f"{schema}.{table}"
    ids = {n: query(warehouse, f"SELECT id FROM aircall_{n}.calls ORDER BY id") for n in sims}
    assert ids["eu"] != ids["us"], "the two companies must differ for the test to mean anything"

    answers = _graphql_answers(project, env, monkeypatch)
    assert '"EU_AIRCALL_API_TOKEN"' in answers and '"US_AIRCALL_API_TOKEN"' in answers
    stored = b"".join(p.read_bytes() for p in (tmp_path / "dagster_home").rglob("*") if p.is_file())
    assert b"aircall_eu" in stored and b"aircall_us" in stored, "the runs are not recorded there"
    for sim in sims.values():
        token = sim.config.api_token
        assert all(token not in out for out in printed), "a token in dg's output"
        assert token not in answers, "a token in the webserver's GraphQL answers"
        assert token.encode() not in stored, "a token in the Dagster instance's storage"


RESOURCES_AND_ASSETS = """
query {
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        name
        allTopLevelResourceDetails {
          name description configuredValues { key value type }
          configFields { name description }
        }
        assetNodes { assetKey { path } description opName metadataEntries { label } }
        jobs { name }
      }
    }
  }
}
"""


def _graphql_answers(project: Path, env: dict[str, str], monkeypatch) -> str:
    """What the webserver answers about the project's code location (its resources' config
    as the UI shows it, every asset), through Dagster's GraphQL layer on a code server."""
    import json

    import dagster as dg
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the code server the context starts inherits them
    with (
        dg.instance_for_test() as instance,
        define_out_of_process_context(
            str(project / "src" / "acme" / "definitions.py"), "defs", instance
        ) as context,
    ):
        result = execute_dagster_graphql(context, RESOURCES_AND_ASSETS)
    assert not result.errors, result.errors
    return json.dumps(result.data)
