"""``python -m reliability [--full]``: run the reliability suite, print one table.

Without ``--full`` it runs the small sample the tests run; ``--full`` runs the counts the note
reports (and writes them into ``docs/reliability.md``). Exit status 1 if any scenario found a
mismatch, a duplicate, a secret or a failed check.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from .profiles import FULL, SMALL
from .report import figures_section, render_notes, render_table, update_doc

GROUPS = ("faults", "crashes", "concurrency", "bad-input", "secrets")
DOC = Path("docs") / "reliability.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reliability",
        description="Run the reliability suite and print one table.",
    )
    parser.add_argument("--full", action="store_true", help="the full counts (~13 min)")
    parser.add_argument("--seed", type=int, default=None, help="seed of data, faults and kills")
    parser.add_argument(
        "--only", action="append", choices=GROUPS, help="run only this group (repeatable)"
    )
    parser.add_argument("--workdir", type=Path, help="keep the warehouses and logs here")
    parser.add_argument(
        "--doc", type=Path, default=None, help=f"note to update (default {DOC} with --full)"
    )
    parser.add_argument("--no-doc", action="store_true", help="do not write the note")
    args = parser.parse_args(argv)

    from .runner import run

    profile = FULL if args.full else SMALL
    if args.seed is not None:
        profile = profile.with_seed(args.seed)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="aircall-reliability-"))
    print(f"Reliability suite, {profile.name} profile (seed {profile.seed}): {profile.describe()}")
    print(f"Work directory: {workdir}", flush=True)
    results = run(profile, workdir, only=args.only, echo=lambda line: print(line, flush=True))
    print()
    print(render_table(results))
    notes = render_notes(results)
    if notes:
        print()
        print(notes)
    ok = all(r.ok for r in results)
    doc = args.doc or (DOC if args.full and not args.only else None)
    if doc is not None and not args.no_doc:
        command = (
            "make reliability"
            if args.full and args.seed is None
            else ("python -m reliability" + " ".join([""] + (argv or sys.argv[1:])))
        )
        update_doc(doc, figures_section(results, profile, command, Path.cwd()))
        print(f"\nFigures written to {doc}")
    print("\n" + ("All checks passed." if ok else "FAILED: see the rows above."))
    if args.workdir is None and ok:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
