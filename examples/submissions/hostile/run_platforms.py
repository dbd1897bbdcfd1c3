#!/usr/bin/env python3
"""Run the hostile zips (build.py) through the real Codabench workers with
``shared/tools/codabench-worker/run_worker.py``, and record what each worker did.

    python3 run_platforms.py --zips ZIPS --out OUT --tool TOOL_DIR --image IMAGE \
        --worker NAME=GIT_DIR@REV[:PYTHON] [--worker ...] [--only NAME ...]

For each zip and worker: the host sentinels are reset (``/tmp/aibench-hostile-host-sentinel.txt``
is created; the probe and target files of attacks.py are removed), a TCP listener takes
connections on 127.0.0.1 and the docker bridge gateway (port 47123), the worker runs in process mode
with ``--work-dir OUT/work/<worker>/<bundle>/<name>`` (no ``--keep``: the worker cleans up as it
would), and then this records: final status, scores posted, whether the labels were reached
(accuracy 1.0), the ``HOSTILE`` lines of the participant's logs (from the stand-in site's stored
logs), the members of the uploaded prediction result and what its link members held, connections
received, host sentinel files created, containers left, and what stayed in the worker's folder.
One JSON per run in OUT, plus OUT/results.md. The hostile code runs only in the workers'
containers. Needs: what the tool's README sets up (docker engine, local registry, worker venvs).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PORT = 47123
HOST_SENTINEL = Path("/tmp/aibench-hostile-host-sentinel.txt")
CREATED = [Path("/tmp/aibench-hostile-metadata-target"), Path("/tmp/aibench-hostile-yaml-ran")] + [
    Path(d) / "aibench-hostile-probe.txt" for d in ("/etc", "/root", "/tmp", "/var/tmp", "/")]


class Listener:
    """Accepts TCP connections on the given addresses and counts them."""

    def __init__(self, hosts: list[str]) -> None:
        self.hits: list[str] = []
        self.socks = []
        self.threads = []
        for host in hosts:
            try:
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, PORT))
                sock.listen(8)
                sock.settimeout(0.5)
                self.socks.append(sock)
                thread = threading.Thread(target=self._serve, args=(sock, host), daemon=True)
                thread.start()
                self.threads.append(thread)
            except OSError as error:
                print(f"listener {host}:{PORT}: {error}", file=sys.stderr)

    def _serve(self, sock: socket.socket, host: str) -> None:
        while True:
            try:
                conn, peer = sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.hits.append(f"{host}:{PORT} from {peer[0]}")
            conn.close()

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
        for thread in self.threads:  # accept() returns within its 0.5 s timeout, then the port is free
            thread.join(2)


def reset_host() -> None:
    for path in CREATED:
        if path.is_file() and not path.is_symlink():
            path.unlink()
    HOST_SENTINEL.write_text("HOST-SENTINEL: a file on the worker host\n")


def host_changes() -> list[str]:
    found = [str(p) for p in CREATED if p.exists()]
    for path in CREATED:
        if path.is_file() and not path.is_symlink():
            path.unlink()
    if HOST_SENTINEL.read_text() != "HOST-SENTINEL: a file on the worker host\n":
        found.append(f"{HOST_SENTINEL} changed")
    return found


def containers() -> set[str]:
    out = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}} {{.Status}}"],
                         capture_output=True, text=True).stdout
    # other users' test containers (aibench-*) on a shared engine are not the worker's
    return {line for line in out.split("\n") if line and not line.startswith("aibench-")}


def volumes() -> set[str]:
    out = subprocess.run(["docker", "volume", "ls", "-q", "--filter", "dangling=true"], capture_output=True, text=True)
    return set(out.stdout.split())


def volume_files(names: list[str]) -> list[str]:
    """Files inside the given volumes (what the participant wrote into them)."""
    found = []
    for name in names:
        point = subprocess.run(["docker", "volume", "inspect", "--format", "{{.Mountpoint}}", name],
                               capture_output=True, text=True).stdout.strip()
        if point and os.path.isdir(point):
            found += [f"{name[:12]}/{f}" for f in os.listdir(point)]
    return found


def hostile_lines(work: Path) -> list[str]:
    lines = []
    for path in sorted(work.glob("storage/submissions/*/details/*std*")):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        lines += [f"{path.name}: {line}" for line in text.splitlines() if "HOSTILE" in line or "ERROR" in line]
    return lines


def prediction_zip(work: Path) -> dict:
    found: dict = {}
    for path in work.glob("storage/submissions/*/prediction_result.zip"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                found["members"] = [n for n in names if not n.startswith(("junk/", "padding/"))]
                found["member_count"] = len(names)
                found["unpacked_bytes"] = sum(i.file_size for i in archive.infolist())
                found["link_members"] = {n: archive.read(n)[:60].decode(errors="replace")
                                         for n in names if n.startswith("link-")}
                pred = archive.read("predictions.csv")[:40].decode(errors="replace") if "predictions.csv" in names else None
                found["predictions_head"] = pred
                if "hostile-report.json" in names:
                    found["hostile_report"] = json.loads(archive.read("hostile-report.json"))
        except (OSError, zipfile.BadZipFile, KeyError, ValueError) as error:
            found["error"] = repr(error)
    return found


def left_in_worker(work: Path) -> list[str]:
    base = work / "codabench"
    if not base.is_dir():
        return []
    return sorted(str(p.relative_to(work)) for p in base.iterdir() if p.name not in ("cache", "data"))


def run_one(args: argparse.Namespace, worker: str, spec: str, zip_path: Path) -> dict:
    git_dir, _, rest = spec.partition("@")
    rev, _, python = rest.partition(":")
    bundle = zip_path.parent.name
    work = args.out / "work" / worker / bundle / zip_path.stem
    if work.exists():
        subprocess.run(["rm", "-rf", str(work)], check=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    command = [str(args.tool_python), str(args.tool / "run_worker.py"), "--mirror-git-dir", git_dir, "--rev", rev,
               "--bundle", str(REPO / "bundles" / bundle), "--submission", str(zip_path), "--image", args.image,
               "--work-dir", str(work), "--summary-out", str(work) + ".summary.json"]
    if python:
        command += ["--worker-python", python]
    reset_host()
    before, volumes_before = containers(), volumes()
    listener = Listener(["127.0.0.1", args.gateway])
    start = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
        rc = done.returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    elapsed = round(time.monotonic() - start, 1)
    time.sleep(0.5)
    listener.close()
    record: dict = {"worker": worker, "bundle": bundle, "submission": zip_path.stem, "rc": rc, "elapsed_s": elapsed,
                    "command": " ".join(command), "connections": listener.hits, "host_changes": host_changes(),
                    "containers_left": sorted(containers() - before), "left_in_worker_dir": left_in_worker(work)}
    new_volumes = sorted(volumes() - volumes_before)  # on a shared engine, others' may be among them
    record["volumes_left"] = len(new_volumes)
    record["files_in_volumes_left"] = volume_files(new_volumes)
    if not args.keep and new_volumes:
        subprocess.run(["docker", "volume", "rm", *new_volumes], capture_output=True)
    try:
        summary = json.loads(Path(str(work) + ".summary.json").read_text())
        sub = summary["submissions"][0]
        record["final_status"] = sub["final_status"]
        record["scores"] = sub["scores_posted"]
        record["statuses"] = [[p.get("status"), p.get("details")] for st in sub["steps"] for p in st["statuses"]]
        record["exceptions"] = [st["exit"].get("exception") for st in sub["steps"] if st["exit"].get("exception")]
        record["leftover_containers_removed"] = [st["exit"].get("leftover_containers_removed") for st in sub["steps"]]
    except (OSError, ValueError, KeyError, IndexError) as error:
        record["summary_error"] = repr(error)
    record["labels_reached"] = (record.get("scores") or {}).get("accuracy") == 1.0
    record["hostile"] = hostile_lines(work)
    record["prediction_result"] = prediction_zip(work)
    du = subprocess.run(["du", "-sh", str(work)], capture_output=True, text=True).stdout.split("\t")[0]
    record["work_dir_size"] = du
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work / "storage"), str(work / "codabench")])
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zips", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tool", type=Path, required=True, help="shared/tools/codabench-worker")
    parser.add_argument("--tool-python", type=Path, default=Path(sys.executable))
    parser.add_argument("--image", required=True)
    parser.add_argument("--worker", action="append", required=True, help="NAME=GIT_DIR@REV[:PYTHON]")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--gateway", default="172.17.0.1")
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--keep", action="store_true", help="keep the stand-in site's storage and worker folders")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    zips = sorted(args.zips.glob("*/*.zip"))
    if args.only:
        zips = [z for z in zips if z.stem in args.only or f"{z.parent.name}/{z.stem}" in args.only]
    for zip_path in zips:
        for item in args.worker:
            worker, _, spec = item.partition("=")
            record = run_one(args, worker, spec, zip_path)
            name = f"{worker}--{record['bundle']}--{record['submission']}.json"
            (args.out / name).write_text(json.dumps(record, indent=1))
            print(json.dumps({k: record.get(k) for k in ("worker", "bundle", "submission", "final_status", "scores",
                                                           "labels_reached", "connections", "host_changes",
                                                           "containers_left", "volumes_left", "elapsed_s")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
