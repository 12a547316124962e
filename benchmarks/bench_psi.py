"""Benchmark ECDH-PSI between two node processes on this machine, beside openmined-psi.

Each party gets ``--n`` identifiers (half of them shared). The bank and platform nodes run as
separate processes with two PSI workers each, exactly as ``puhui node serve``; the figure is the
bank's wall time for the whole job (hashing, both blindings, both directions of transfer,
matching, telling the platform the intersection), its phases, the bytes on the wire and the
nodes' peak resident memory. openmined-psi (ECDH-PSI over P-256 with its own C++ core, one
thread, in one process: no network) runs on the same identifiers when it is installed.

    .venv/bin/python benchmarks/bench_psi.py                   # 100k × 100k, 3 runs
    .venv/bin/python benchmarks/bench_psi.py --n 1000000 --runs 3 --no-openmined
    .venv/bin/python benchmarks/bench_psi.py --n 1000000 --only-openmined

openmined-psi pins protobuf 6.30.2, which the lock cannot take beside OR-Tools (≥ 6.33.1); it
runs with the locked protobuf, so install it for this benchmark only:
``.venv/bin/pip install --no-deps openmined-psi==2.0.6``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from puhui.federated import psi_math
from puhui.federated.data import write_party
from puhui.federated.node_process import control, running_pair


def _identifiers(n: int) -> tuple[list[str], list[str]]:
    shared = [f"91330{index:013d}" for index in range(n // 2)]
    bank_only = [f"91331{index:013d}" for index in range(n - n // 2)]
    platform_only = [f"91332{index:013d}" for index in range(n - n // 2)]
    return shared + bank_only, platform_only + shared


def _descendants(pid: int) -> list[int]:
    """Child processes, recursively (the two nodes and their PSI workers), from /proc."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = [int(child) for child in children]
    return found + [grandchild for child in found for grandchild in _descendants(child)]


def _peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of one process, in MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _ours(bank_ids, platform_ids, runs: int, batch_size: int) -> list[dict]:
    import numpy as np

    results = []
    with tempfile.TemporaryDirectory() as folder:
        bank_dir, platform_dir = Path(folder) / "bank", Path(folder) / "platform"
        write_party(bank_dir, bank_ids, {"x": np.zeros(len(bank_ids))}, np.zeros(len(bank_ids)))
        write_party(platform_dir, platform_ids, {"x": np.zeros(len(platform_ids))})
        with running_pair(bank_dir, platform_dir) as bank_url:
            for _ in range(runs):
                results.append(
                    control(bank_dir, bank_url, "psi", {"reveal": "both", "batch_size": batch_size})
                )
            peaks = [_peak_rss_mb(pid) for pid in _descendants(os.getpid())]
            results[-1]["node_peak_rss_mb"] = {"sum": sum(peaks), "largest": max(peaks, default=0)}
    return results


def _openmined(bank_ids, platform_ids) -> dict:
    import private_set_intersection.python as psi

    started, cpu_started = time.perf_counter(), time.process_time()
    client = psi.client.CreateWithNewKey(True)
    server = psi.server.CreateWithNewKey(True)
    setup = server.CreateSetupMessage(1e-9, len(bank_ids), platform_ids, psi.DataStructure.RAW)
    request = client.CreateRequest(bank_ids)
    response = server.ProcessRequest(request)
    intersection = client.GetIntersection(setup, response)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    wire = sum(len(m.SerializeToString()) for m in (setup, request, response))
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "intersection": len(intersection),
        "bytes_on_wire": wire,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="identifiers per party")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--no-openmined", action="store_true")
    parser.add_argument("--only-openmined", action="store_true", help="skip puhui's PSI")
    arguments = parser.parse_args()
    bank_ids, platform_ids = _identifiers(arguments.n)
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    if not arguments.only_openmined:
        ours = _ours(bank_ids, platform_ids, arguments.runs, arguments.batch_size)
        seconds = statistics.median(r["seconds"] for r in ours)
        path = "AVX-512 IFMA, 8 lanes" if psi_math.VECTOR_PATH else "libsodium, gmpy2 hash"
        runs = [round(r["seconds"], 1) for r in ours]
        print(
            f"puhui ECDH-PSI (X25519 {path}, 2 nodes × 2 workers): "
            f"{arguments.n:,} × {arguments.n:,}: "
            f"median {seconds:.1f} s over {len(ours)} runs ({runs}), "
            f"{2 * arguments.n / seconds:,.0f} items/s, intersection {ours[0]['intersection']:,}, "
            f"{ours[0]['bytes_on_wire'] / 1e6:.1f} MB on the wire; "
            f"load average after: {os.getloadavg()[0]:.1f}"
        )
        for run in ours:
            phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run["phases"].items())
            print(f"  run {run['seconds']:.1f} s: {phases}")
        peak = ours[-1]["node_peak_rss_mb"]
        print(
            f"  peak resident memory of the node processes and their workers: {peak['sum']:.0f} MB "
            f"summed over processes, {peak['largest']:.0f} MB the largest one"
        )
    if not arguments.no_openmined:
        try:
            theirs = _openmined(bank_ids, platform_ids)
        except ImportError:
            print("openmined-psi is not installed: skipped")
        else:
            print(
                f"openmined-psi (P-256, 1 thread, in-process): {theirs['seconds']:.1f} s wall, "
                f"{theirs['cpu_seconds']:.1f} s CPU (its wall time on an idle core), "
                f"{2 * arguments.n / theirs['seconds']:,.0f} items/s, intersection "
                f"{theirs['intersection']:,}, {theirs['bytes_on_wire'] / 1e6:.1f} MB of messages"
            )


if __name__ == "__main__":
    main()
