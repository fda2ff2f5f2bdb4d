"""The printed table and the generated section of the note."""

from __future__ import annotations

from reliability.profiles import SMALL
from reliability.report import (
    DOC_END,
    DOC_START,
    ScenarioResult,
    figures_section,
    render_table,
    update_doc,
)


def test_table_has_the_issue_columns_and_a_total():
    a = ScenarioResult("faults: extract", runs=3, faults=12, rows_compared=100)
    b = ScenarioResult("secrets", runs=2, secret_hits=1)
    text = render_table([a, b])
    header = text.splitlines()[0]
    for title in (
        "scenario",
        "runs",
        "faults injected",
        "kills",
        "rows compared",
        "mismatches",
        "duplicates",
        "secret hits",
    ):
        assert title in header
    assert text.splitlines()[-1].split()[:3] == ["total", "5", "12"]
    assert a.ok and not b.ok


def test_update_doc_replaces_only_the_generated_section(tmp_path):
    doc = tmp_path / "reliability.md"
    doc.write_text(f"# Title\n\nprose\n\n{DOC_START}\nold\n{DOC_END}\n\nmore prose\n")
    section = figures_section([ScenarioResult("x", runs=1)], SMALL, "make reliability", tmp_path)
    update_doc(doc, section)
    text = doc.read_text()
    assert text.startswith("# Title\n\nprose") and text.endswith("more prose\n")
    assert "old" not in text and "| x | 1 |" in text and "`make reliability`" in text
