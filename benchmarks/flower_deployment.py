"""A real Flower deployment on this machine's loopback: one SuperLink, two SuperNodes, a run.

The three Flower processes start as a deployment would start them (``flower-superlink`` and
two ``flower-supernode`` with their own data partitions), then ``flwr run flower_app ...
--stream`` submits dlgtut's Flower app (``flower_app/pyproject.toml``): the SuperLink starts
the curious ServerApp, each SuperNode its ClientApp, and they talk over gRPC/HTTP on
127.0.0.1 like machines on a network. The server writes what it recovered to ``--out``; this
script prints it. Every process it started is stopped at the end, also on an error or Ctrl-C.

Hygiene: Flower's home is a temporary folder (removed afterwards), telemetry and the update
check are off, and runtime dependency installation is off (``flwr run`` would otherwise build a
fresh environment and install torch again).

    .venv/bin/python benchmarks/flower_deployment.py              # about a minute
    .venv/bin/python benchmarks/flower_deployment.py --rounds 2 --attack ig
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONNECTION = "dlgtut-loopback"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with status {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


class Processes:
    """Processes started in their own sessions, stopped (with all their children) at the end."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []
        self.seen: dict[int, psutil.Process] = {}

    def start(self, args: list[str], log: Path, env: dict) -> subprocess.Popen:
        p = subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env,
                             cwd=ROOT, start_new_session=True)
        self.started.append(p)
        return p

    def note_children(self) -> None:
        """Remember every descendant now: Flower's SuperExec, ServerApp and ClientApps."""
        for p in self.started:
            try:
                for child in [psutil.Process(p.pid), *psutil.Process(p.pid).children(True)]:
                    self.seen.setdefault(child.pid, child)
            except psutil.Error:
                pass

    def stop(self, timeout: float = 15.0) -> list[int]:
        """SIGTERM every session started, then SIGKILL what is left; returns what survived."""
        self.note_children()
        for p in reversed(self.started):  # SuperNodes first, then the SuperLink
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        _, alive = psutil.wait_procs(list(self.seen.values()), timeout=timeout)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)
        for p in self.started:
            p.wait(timeout=5)
        return [p.pid for p in self.seen.values()
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--attack", choices=("dlg", "ig", "none"), default="dlg")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "flower_deployment",
                        help="where the server writes its reconstructions")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for the run")
    args = parser.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    home = Path(tempfile.mkdtemp(prefix="dlgtut-deploy-"))
    link_port = free_port()
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),  # flower-superexec
           "FLWR_HOME": str(home / "flwr-home"),
           "FLWR_TELEMETRY_ENABLED": "0",
           "FLWR_DISABLE_UPDATE_CHECK": "1",
           "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
           "DLGTUT_OFFLINE": os.environ.get("DLGTUT_OFFLINE", "1")}
    (home / "flwr-home").mkdir()
    (home / "flwr-home" / "config.toml").write_text(
        f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
        f'address = "127.0.0.1:{link_port}"\ninsecure = true\n')
    procs = Processes()
    status = 1

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    started = time.perf_counter()
    try:
        link = procs.start([str(BIN / "flower-superlink"), "--insecure", "--host", "127.0.0.1",
                            "--port", str(link_port),
                            "--disable-runtime-dependency-installation"],
                           home / "superlink.log", env)
        wait_for_port(link_port, 60, link)
        print(f"SuperLink on 127.0.0.1:{link_port} ({time.perf_counter() - started:.1f} s)")
        for i in range(2):
            port = free_port()
            node = procs.start([str(BIN / "flower-supernode"), "--insecure", "--superlink",
                                f"127.0.0.1:{link_port}", "--port", str(port), "--node-config",
                                f"partition-id={i} num-partitions=2"],
                               home / f"supernode{i}.log", env)
            wait_for_port(port, 60, node)
            print(f"SuperNode {i} (partition {i} of 2) on 127.0.0.1:{port}")
        command = [str(BIN / "flwr"), "run", str(ROOT / "flower_app"), CONNECTION, "--stream",
                   "--run-config", f'num-rounds={args.rounds} attack="{args.attack}" '
                   f'out-dir="{out}"']
        print("$ " + " ".join(command[1:3]) + " " + " ".join(command[3:]))
        run_started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=args.timeout)
        procs.note_children()
        run_seconds = time.perf_counter() - run_started
        lines = [ln for ln in (done.stdout + done.stderr).splitlines() if "dlgtut:" in ln
                 or "Successfully started run" in ln or "Strategy execution finished" in ln]
        print("\n".join("  " + ln.split(":", 1)[-1].strip() if "INFO" in ln else "  " + ln
                        for ln in lines))
        if done.returncode != 0 or not (out / "metrics.json").exists():
            print((done.stdout + done.stderr)[-4000:], file=sys.stderr)
            raise RuntimeError(f"flwr run failed with status {done.returncode}")
        metrics = json.loads((out / "metrics.json").read_text())
        print(f"\nflwr run took {run_seconds:.1f} s; the whole deployment "
              f"{time.perf_counter() - started:.1f} s. The server recovered:")
        print("| round | node | partition | images | PSNR dB | SSIM | labels right | attack s |")
        print("|---|---|---|---|---|---|---|---|")
        for r in metrics["per_update"]:
            if r["psnr"] is None:
                continue
            print(f"| {r['round']} | {r['node_id']} | {r['partition']} | {r['num_examples']} | "
                  f"{r['psnr']:.1f} | {r['ssim']:.3f} | {r['label_accuracy']:.0%} | "
                  f"{r['attack_seconds']:.1f} |")
        print(f"test accuracy of the global model: {metrics['test_accuracy']}")
        print(f"figure: {out / 'reconstruction.png'}")
        status = 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    except Exception as err:  # noqa: BLE001 - report, then clean up below
        print(f"error: {err}", file=sys.stderr)
        for log in sorted(home.glob("*.log")):
            print(f"--- {log.name} (last lines)\n" + "\n".join(
                log.read_text(errors="replace").splitlines()[-15:]), file=sys.stderr)
    finally:
        survivors = procs.stop()
        shutil.rmtree(home, ignore_errors=True)
        print(f"stopped {len(procs.seen)} processes (SuperLink, SuperNodes, SuperExecs, "
              f"ServerApp, ClientApps); still running: {survivors or 'none'}")
        if survivors:
            status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
