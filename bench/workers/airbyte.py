"""Peer: Airbyte's own connector, ``airbyte-source-aircall==0.3.0``, reading calls to JSON lines.

Runs on Python 3.10 in its own virtual environment (its CDK does not import on 3.11). The
connector's manifest is copied to a temporary package whose ``url_base`` points at the
simulator; nothing installed is modified. Its calls stream has no ``from``/``to`` filter and
pages with ``page``/``per_page`` until a short page, so it cannot read past the API's 10,000
cap: the benchmark gives it an account under the cap. Params: base_url, api_id, api_token,
start_date (YYYY-MM-DD), workdir.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import sys
import time

from _protocol import emit, params


def temporary_connector(workdir: str, base_url: str) -> str:
    """A copy of the installed ``source_aircall`` package with its url_base replaced."""
    import source_aircall

    installed = os.path.dirname(source_aircall.__file__)
    root = os.path.join(workdir, "airbyte_pkg")
    shutil.rmtree(root, ignore_errors=True)
    copy = os.path.join(root, "source_aircall")
    shutil.copytree(installed, copy, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = os.path.join(copy, "manifest.yaml")
    with open(manifest, encoding="utf-8") as handle:
        text = handle.read()
    original = 'url_base: "https://api.aircall.io/v1"'
    if original not in text:
        raise SystemExit(f"unexpected manifest: no {original!r} in {manifest}")
    with open(manifest, "w", encoding="utf-8") as handle:
        handle.write(text.replace(original, f'url_base: "{base_url}/v1"'))
    return root


def main() -> None:
    p = params()
    workdir = p["workdir"]
    os.makedirs(workdir, exist_ok=True)
    root = temporary_connector(workdir, p["base_url"])
    for name in list(sys.modules):
        if name == "source_aircall" or name.startswith("source_aircall."):
            del sys.modules[name]
    sys.path.insert(0, root)
    source_aircall = importlib.import_module("source_aircall")
    assert source_aircall.__file__.startswith(root), source_aircall.__file__
    from airbyte_cdk.entrypoint import launch

    config_path = os.path.join(workdir, "config.json")
    catalog_path = os.path.join(workdir, "catalog.json")
    with open(config_path, "w") as handle:
        json.dump(
            {
                "api_id": p["api_id"],
                "api_token": p["api_token"],
                "start_date": p["start_date"] + "T00:00:00.000Z",
            },
            handle,
        )
    with open(catalog_path, "w") as handle:
        json.dump(
            {
                "streams": [
                    {
                        "stream": {
                            "name": "calls",
                            "json_schema": {},
                            "supported_sync_modes": ["full_refresh"],
                        },
                        "sync_mode": "full_refresh",
                        "destination_sync_mode": "overwrite",
                    }
                ]
            },
            handle,
        )
    out_path = os.path.join(workdir, "calls.jsonl")
    source = source_aircall.SourceAircall()
    started, cpu = time.perf_counter(), time.process_time()
    with open(out_path, "w") as out, contextlib.redirect_stdout(out):
        launch(source, ["read", "--config", config_path, "--catalog", catalog_path])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    records = 0
    ids = set()
    errors = []
    with open(out_path, "rb") as handle:
        for line in handle:
            if line.startswith(b'{"type": "RECORD"'):
                records += 1
                ids.add(json.loads(line)["record"]["data"].get("id"))
            elif line.startswith(b'{"type": "TRACE"') and b'"ERROR"' in line:
                errors.append(line[:300].decode(errors="replace"))
    emit(records=records, unique_ids=len(ids), wall_s=wall, cpu_s=cpu, errors=errors[:3])


if __name__ == "__main__":
    main()
