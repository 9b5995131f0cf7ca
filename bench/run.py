"""Run every benchmark and write docs/benchmarks.md and docs/benchmarks.json.

    .venv/bin/python bench/run.py [--runs 5] [--only deploy,up_down,join,startup] [--output-dir docs]

The whole run takes a few minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # Running as a script puts bench/ first on the path; kubesim and federation live at the root.
    sys.path.insert(0, str(ROOT))

from bench import report, scenarios  # noqa: E402

MEASUREMENTS = ("deploy", "up_down", "join", "startup")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the setup scripts on simulated clusters.")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument("--only", default=",".join(MEASUREMENTS), help=f"comma-separated measurements to run (default: {','.join(MEASUREMENTS)})")
    parser.add_argument("--join-sizes", default="1,8,32", help="member counts of the join measurement (default 1,8,32)")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "docs", help="where benchmarks.md and benchmarks.json go (default docs/)")
    args = parser.parse_args(argv)
    selected = [name for name in args.only.split(",") if name]
    unknown = sorted(set(selected) - set(MEASUREMENTS))
    if unknown or args.runs < 1:
        parser.error(f"--only takes {', '.join(MEASUREMENTS)} and --runs at least 1 (got --only={args.only} --runs={args.runs})")

    # kubesim logs expected events (a federation API server it cannot serve yet) at error level.
    logging.basicConfig(level=logging.CRITICAL)
    results: dict = {"machine": scenarios.machine(), "runs": args.runs}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="federation-bench-") as scratch:
        for name in selected:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            begun = time.perf_counter()
            directory = Path(scratch) / name
            if name == "join":
                sizes = tuple(int(size) for size in args.join_sizes.split(","))
                results[name] = scenarios.join(args.runs, directory, sizes)
            else:
                results[name] = getattr(scenarios, name)(args.runs, directory)
            print(f"  {name} took {time.perf_counter() - begun:.1f} s", file=sys.stderr, flush=True)
    results["total_seconds"] = time.perf_counter() - started

    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "benchmarks.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    command = ".venv/bin/python bench/run.py" + (f" --runs {args.runs}" if args.runs != 5 else "")
    (args.output_dir / "benchmarks.md").write_text(report.render(results, command), encoding="utf-8")
    print(f"wrote {args.output_dir / 'benchmarks.md'} and benchmarks.json in {results['total_seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
