"""The benchmark of the real entry point: `visitmix run` against a plain DuckDB SQL peer and a pandas peer.

    make bench N=10000000            # or: python bench/run_bench.py --rows 10000000 [--rounds 3]
    make bench N=100000000 ROUNDS=1 BENCH_ARGS="--no-pandas --no-warm-up"   # 100M: one round, ~20 min

1. Generates N visits with accounts, deals and reps (bench/generate.py, seeded; reused when present).
2. Starts one Prefect server (as a deployment would have it) in bench/out/prefect-home.
3. Runs, alternating, for --rounds rounds after one warm-up round (none with --no-warm-up): (a) `visitmix run --config …`
   exactly as a user runs it, (b) bench/peer_duckdb.py, (c) bench/peer_pandas.py — each as its own
   process, measuring wall time, the peak resident set of the largest process (the OS's own
   accounting of the finished children) and of the whole process tree (sampled every 50 ms).
4. Checks that the three give identical visit types and monthly mix (bench/compare.py).
5. Prints the medians, the ratios a/b and c/a (medians of the per-round ratios), visitmix's per-step
   times (from audit.pipeline_run.step_seconds) and the share of the data-quality steps, and writes
   everything to bench/out/results-<N>.json.

The Prefect server's own memory is not counted (a deployment runs one anyway). Timings are for the
machine they were measured on: quote medians and ratios, never a single run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import duckdb

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
sys.path.insert(0, str(BENCH))

from compare import compare  # noqa: E402
from generate import generate  # noqa: E402

VENV_BIN = Path(sys.executable).parent
DQ_STEPS = ("versions, checks and quarantine", "reference checks", "checks ", "GX sample validation")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_prefect_server(home: Path) -> tuple[subprocess.Popen, str]:
    """A Prefect server on a free localhost port, its state in `home`; returns (process, API URL)."""
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false")
    proc = subprocess.Popen([str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=(home / "server.log").open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the Prefect server did not start; see {home / 'server.log'}")


class TreeSampler(threading.Thread):
    """Peak summed RSS of a process and its descendants, sampled every 50 ms (psutil)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                total = 0
                for proc in procs:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            time.sleep(0.05)


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> dict:
    """Run `argv` as its own process tree; wall seconds, peak RSS (largest process, whole tree)."""
    runner = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:]).returncode\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", runner, *argv], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{out[-2000:]}\n{err[-4000:]}")
    largest_kb = int(err.strip().splitlines()[-1])
    return {"wall_s": round(wall, 3), "peak_largest_gb": round(largest_kb / 1e6, 3), "peak_tree_gb": round(sampler.peak / 1e9, 3)}


def product_steps(warehouse: Path) -> dict[str, float]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = con.execute("select step_seconds from audit.pipeline_run where status = 'succeeded' order by finished_at desc limit 1").fetchone()
    finally:
        con.close()
    return json.loads(row[0]) if row and row[0] else {}


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas peer (it needs ~2.7 GB per 10M rows)")
    parser.add_argument("--no-warm-up", action="store_true", help="no warm-up round (for sizes where one round takes many minutes)")
    args = parser.parse_args()

    data = OUT / f"n{args.rows}"
    warm_up = "" if args.no_warm_up else " (+1 warm-up)"
    print(f"visitmix bench: {args.rows:,} visits, {args.rounds} rounds{warm_up} on {platform.node()}", flush=True)
    started = time.perf_counter()
    config = generate(args.rows, data)
    print(f"  data in {data} ({time.perf_counter() - started:.1f} s)", flush=True)
    server, api_url = start_prefect_server(OUT / "prefect-home")
    env = dict(os.environ, PREFECT_API_URL=api_url, PREFECT_HOME=str(OUT / "prefect-client"))
    warehouse = data / "warehouse" / "visitmix.duckdb"
    peer_db = OUT / f"peer_duckdb_n{args.rows}.duckdb"
    peer_pd = OUT / f"peer_pandas_n{args.rows}"
    commands = {
        "visitmix": [str(VENV_BIN / "visitmix"), "run", "--config", str(config)],
        "duckdb": [sys.executable, str(BENCH / "peer_duckdb.py"), "--data", str(data), "--out", str(peer_db)],
    }
    if not args.no_pandas:
        commands["pandas"] = [sys.executable, str(BENCH / "peer_pandas.py"), "--data", str(data), "--out", str(peer_pd)]
    runs: dict[str, list[dict]] = {name: [] for name in commands}
    steps: list[dict[str, float]] = []
    try:
        shutil.rmtree(data / "warehouse", ignore_errors=True)
        for round_no in range(1 if args.no_warm_up else 0, args.rounds + 1):
            label = "warm-up" if round_no == 0 else f"round {round_no}"
            for name, argv in commands.items():
                result = measure(argv, env, data)
                if round_no:
                    runs[name].append(result)
                    if name == "visitmix":
                        steps.append(product_steps(warehouse))
                print(f"  {label:<8} {name:<9} {result['wall_s']:8.2f} s  largest process {result['peak_largest_gb']:5.2f} GB  "
                      f"tree {result['peak_tree_gb']:5.2f} GB", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)

    identical = {}
    for name, path in (("duckdb", peer_db), ("pandas", peer_pd)):
        if name in commands:
            comparison = compare(warehouse, path)
            identical[name] = comparison.identical
            print(f"  visitmix vs {name} peer: {'identical' if comparison.identical else 'DIFFERENT: ' + '; '.join(comparison.differences[:5])}")
    ratios_ab = [a["wall_s"] / b["wall_s"] for a, b in zip(runs["visitmix"], runs["duckdb"], strict=True)]
    summary = {
        "rows": args.rows,
        "rounds": args.rounds,
        "machine": {"node": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "median_wall_s": {name: _median([r["wall_s"] for r in rs]) for name, rs in runs.items()},
        "median_peak_largest_gb": {name: _median([r["peak_largest_gb"] for r in rs]) for name, rs in runs.items()},
        "median_peak_tree_gb": {name: _median([r["peak_tree_gb"] for r in rs]) for name, rs in runs.items()},
        "ratio_visitmix_over_duckdb": _median(ratios_ab),
        "identical": identical,
        "runs": runs,
        "visitmix_steps_s": {k: _median([s.get(k, 0.0) for s in steps]) for k in steps[0]} if steps else {},
    }
    if "pandas" in runs:
        summary["ratio_pandas_over_visitmix"] = _median([c["wall_s"] / a["wall_s"] for a, c in zip(runs["visitmix"], runs["pandas"], strict=True)])
    step_total = sum(summary["visitmix_steps_s"].values())
    dq = sum(v for k, v in summary["visitmix_steps_s"].items() if k.startswith(DQ_STEPS))
    summary["dq_share_of_run"] = round(dq / summary["median_wall_s"]["visitmix"], 3)
    print("\n  visitmix steps (median s):")
    for name, seconds in summary["visitmix_steps_s"].items():
        print(f"    {name:<42}{seconds:8.2f}")
    print(f"    {'(steps inside the flow)':<42}{step_total:8.2f}   data-quality steps {dq:.2f} s = {summary['dq_share_of_run']:.0%} of the run")
    print("\n  medians: " + ", ".join(f"{k} {v:.2f} s" for k, v in summary["median_wall_s"].items()))
    print(f"  visitmix / duckdb peer = {summary['ratio_visitmix_over_duckdb']:.2f}" +
          (f"; pandas peer / visitmix = {summary['ratio_pandas_over_visitmix']:.2f}" if "pandas" in runs else ""))
    print("  peak memory, largest process: " + ", ".join(f"{k} {v:.2f} GB" for k, v in summary["median_peak_largest_gb"].items()))
    result_file = OUT / f"results-{args.rows}.json"
    result_file.write_text(json.dumps(summary, indent=2))
    print(f"  written to {result_file}")
    if not all(identical.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
