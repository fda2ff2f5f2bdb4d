"""The command: runs the groups, prints the table, exits 1 on any finding, writes the note."""

from __future__ import annotations

from reliability import __main__ as command
from reliability import runner
from reliability.report import DOC_START, ScenarioResult


def fake_groups(found_duplicate: bool):
    def clean(profile, workdir):
        return ScenarioResult("clean", runs=2, rows_compared=10)

    def broken(profile, workdir):
        raise RuntimeError("rig exploded")

    def duplicate(profile, workdir):
        return ScenarioResult("dup", runs=1, duplicates=int(found_duplicate))

    return lambda: {
        "faults": [("clean", clean)],
        "crashes": [("dup", duplicate)],
        "secrets": [("broken", broken)],
    }


def test_the_command_prints_one_table_and_fails_on_any_finding(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(runner, "scenarios", fake_groups(found_duplicate=True))
    doc = tmp_path / "reliability.md"
    code = command.main(["--workdir", str(tmp_path / "w"), "--doc", str(doc), "--only", "faults",
                         "--only", "crashes"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "faults injected" in out and "clean" in out and "dup" in out and "broken" not in out
    assert DOC_START in doc.read_text()


def test_a_scenario_that_raises_is_a_failed_row_not_a_crash(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(runner, "scenarios", fake_groups(found_duplicate=False))
    code = command.main(["--workdir", str(tmp_path), "--no-doc"])
    out = capsys.readouterr().out
    assert code == 1
    assert "broken: FAILED: the scenario raised RuntimeError: rig exploded" in out


def test_the_logging_is_given_back_after_a_run(monkeypatch, tmp_path, capsys):
    import logging

    logger = logging.getLogger("aircall_assets")
    before = (logger.propagate, list(logger.handlers))
    monkeypatch.setattr(runner, "scenarios", fake_groups(found_duplicate=False))
    command.main(["--workdir", str(tmp_path), "--no-doc", "--only", "faults"])
    assert (logger.propagate, list(logger.handlers)) == before
