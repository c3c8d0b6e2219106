"""How a Flower federation, and the curious server's attack, scale with the number of clients.

For 10, 100 and 1,000 virtual clients, a federation of the default task (the DLG paper's LeNet
on 16 x 16 handwritten digits, FedSGD, one image per client and round) runs for two rounds on
Flower's Simulation Engine, in a fresh process each, with one Ray worker per CPU. The curious
server captures every update and runs DLG on the first ``--attack-limit`` updates of each
round. Reported:

* seconds per round: round 1 (Ray starting its workers included) and round 2 (warm), from the
  server sending the round's messages to holding every reply, plus the server's own work
  (turning replies into SharedUpdates, averaging);
* peak memory: the whole process tree (this process, Ray's GCS, raylet and workers), sampled
  every 0.2 s, and this process alone;
* the attack's cost per captured update (DLG's mean time) and what attacking every update of a
  round would take at that cost;
* capture cost per update: turning one Flower reply into a SharedUpdate.

    .venv/bin/python benchmarks/flower_scale.py                # 10, 100, 1000 clients
    .venv/bin/python benchmarks/flower_scale.py --clients 10 100 --attack-limit 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time

import psutil
import torch


def _tree_rss() -> int:
    """Resident memory of this process and all of its descendants, in bytes."""
    me = psutil.Process()
    total = 0
    for p in [me, *me.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def one(clients: int, rounds: int, attack_limit: int) -> dict:
    """Run one federation in this process and return its figures."""
    import functools

    from dlgtut.attacks import dlg
    from dlgtut.federation import FlowerTask, run_federation

    peak = {"tree": _tree_rss()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["tree"] = max(peak["tree"], _tree_rss())
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    run = run_federation(FlowerTask(), clients=clients, rounds=rounds,
                         attack=functools.partial(dlg, progress=False),
                         attack_limit=attack_limit)
    total = time.perf_counter() - started
    stop.set()
    sampler.join()
    logs = run.round_logs
    attacked = [c.attack_seconds for c in run.captured if c.attack_seconds is not None]
    captures = sum(log.capture_seconds for log in logs)
    return {
        "clients": clients,
        "rounds": rounds,
        "captured": len(run.captured),
        "failures": len(run.failures),
        "round_seconds": [log.clients_seconds for log in logs],
        "server_seconds": [log.capture_seconds + log.aggregate_seconds for log in logs],
        "attack_per_update": sum(attacked) / len(attacked),
        "attacked": len(attacked),
        "capture_per_update": captures / max(1, len(run.captured)),
        "peak_tree_mb": peak["tree"] / 2**20,
        "peak_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "total_seconds": total,
        "processes": len(run.processes),
        "left_running": sum(1 for p in run.processes if p.is_running()
                            and p.status() != psutil.STATUS_ZOMBIE),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--attack-limit", type=int, default=10,
                        help="updates attacked per round (10)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one run
    args = parser.parse_args()
    if args.json:
        print(json.dumps(one(args.clients[0], args.rounds, args.attack_limit)))
        return

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} "
          f"CPUs, python {platform.python_version()}; load average before: "
          f"{os.getloadavg()[0]:.1f}")
    import flwr

    print(f"flwr {flwr.__version__}; one Ray worker per CPU; {args.rounds} rounds of the "
          f"default task; DLG on {args.attack_limit} updates per round\n")
    rows = []
    for n in args.clients:  # a fresh process each: its memory is this run's alone
        done = subprocess.run(
            [sys.executable, __file__, "--json", "--clients", str(n), "--rounds",
             str(args.rounds), "--attack-limit", str(args.attack_limit)],
            capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"the run with {n} clients failed")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {n} clients done in {rows[-1]['total_seconds']:.0f} s", file=sys.stderr)

    print("| clients | round 1 s (Ray start-up) | round 2 s | server s per round (capture + "
          "average) | peak memory, all processes | peak memory, this process | DLG s per "
          "update | to attack every update of a round | capture ms per update | total s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        every = r["attack_per_update"] * r["clients"]
        print(f"| {r['clients']:,} | {r['round_seconds'][0]:.1f} | {r['round_seconds'][-1]:.1f}"
              f" | {r['server_seconds'][-1]:.2f} | {r['peak_tree_mb']:,.0f} MB"
              f" | {r['peak_self_mb']:,.0f} MB | {r['attack_per_update']:.2f}"
              f" | {every:,.0f} s | {1000 * r['capture_per_update']:.2f}"
              f" | {r['total_seconds']:.0f} |")
    print()
    for r in rows:
        rounds = ", ".join(f"{t:.1f}" for t in r["round_seconds"])
        print(f"{r['clients']} clients: {r['captured']} updates captured, {r['attacked']} "
              f"attacked, {r['failures']} failures; rounds {rounds} s; {r['processes']} "
              f"processes started, {r['left_running']} left running")
    print(f"load average after: {os.getloadavg()[0]:.1f} (other work on the machine slows "
          "every figure)")


if __name__ == "__main__":
    main()
