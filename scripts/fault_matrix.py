#!/usr/bin/env python3
"""The fault matrix: every fault of issue 9 through ``aibench run``, per executor, as a table.

    python3 scripts/fault_matrix.py [--executor local|docker ...] [--only FAULT ...] [--json]
                                    [--image IMAGE] [--timeout S] [--bomb-gib G] [--rows FILE] [--list]

Each fault runs ``aibench run`` (the CLI, as a subprocess of this checkout's ``.venv``) in its
own temporary folder (ledger, work dir, ``TMPDIR``, ``AIBENCH_HOME``), with a timeout, and
becomes one row: fault, executor, status (the run's JSON ``status``, or what happened to the
process), a short message, what was left behind (containers with aibench labels that mount
the row's folder, processes that carry the row's marker in their environment, entries in the
row's ``TMPDIR``, the size and file count of the run folder, ledger rows by status, host files
created outside the row's folder) and the elapsed time. Anything left is recorded, then removed.
A fault that misbehaves (a hang, a crash, a traceback, a killed process) is a row, never a crash
of this script.

Safety: hostile code runs only through ``aibench run``. With ``--executor local``, each run is
also put in a cgroup of this script (v1 ``pids`` and ``memory``; ``--guard-pids``,
``--guard-memory-mb``) when the machine allows it, so that a memory hog or a fork bomb that
aibench does not stop cannot take the machine down; a row hit by that guard says so. The
write-outside probes only create new files with fixed ``aibench-hostile-*`` names, and this
script removes them. The zip bomb needs about three times ``--bomb-gib`` free on disk, or its
row is skipped.
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
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUNDLES = REPO / "bundles"
SUBS = REPO / "examples" / "submissions"
HOSTILE = SUBS / "hostile"
DIGITS, IRIS = BUNDLES / "digits-ingestion-v2", BUNDLES / "iris-v2"
DEFAULT_IMAGE = os.environ.get("AIBENCH_TEST_IMAGE", "codalab-compat/py312:bookworm")  # compat/tests/dockerimages.py
MARKER = "AIBENCH_FAULT_ROW"
PORT = 47123  # attacks.py PORT
HOST_FILES = [Path("/tmp/aibench-hostile-metadata-target"), Path("/tmp/aibench-hostile-yaml-ran")] + [
    Path(d) / "aibench-hostile-probe.txt" for d in ("/etc", "/root", "/tmp", "/var/tmp", "/")]
HOST_SENTINEL = Path("/tmp/aibench-hostile-host-sentinel.txt")


@dataclass
class Row:
    """One line of the matrix."""

    fault: str
    executor: str
    status: str = ""
    message: str = ""
    left: str = ""
    elapsed_s: float = 0.0
    details: dict = field(default_factory=dict)


@dataclass
class Ctx:
    """What a fault needs: where its files go and how to call aibench."""

    root: Path
    executor: str
    args: argparse.Namespace
    token: str

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.sqlite3"

    def env(self) -> dict[str, str]:
        (self.root / "tmp").mkdir(exist_ok=True)
        return {**os.environ, "TMPDIR": str(self.root / "tmp"), "AIBENCH_HOME": str(self.root / "home"),
                MARKER: self.token, "PYTHONUNBUFFERED": "1"}

    def run_cmd(self, bundle: Path, submission: Path, *extra: str, work: str = "run") -> list[str]:
        command = [*self.args.aibench, "run", str(bundle), str(submission), "--json", "--ledger", str(self.ledger),
                   "--work-dir", str(self.root / work), "--executor", self.executor, *extra]
        if self.executor == "docker":
            command += ["--image", self.args.image]
        return command


# ----------------------------------------------------------------------------- process handling
class Guard:
    """A cgroup (v1 pids + memory) that holds one local run and everything it starts."""

    def __init__(self, name: str, pids: int, memory_mb: int) -> None:
        self.dirs: list[Path] = []
        try:
            pid_dir = Path("/sys/fs/cgroup/pids") / name
            mem_base = next((line.split(":", 2)[2].strip() for line in Path("/proc/self/cgroup").read_text().splitlines()
                             if line.split(":")[1] == "memory"), None)
            mem_dir = Path("/sys/fs/cgroup/memory") / (mem_base or "/").lstrip("/") / name
            pid_dir.mkdir()
            self.dirs.append(pid_dir)
            (pid_dir / "pids.max").write_text(str(pids))
            mem_dir.mkdir()
            self.dirs.append(mem_dir)
            (mem_dir / "memory.limit_in_bytes").write_text(str(memory_mb << 20))
        except (OSError, StopIteration):
            pass

    def wrap(self, command: list[str]) -> list[str]:
        if not self.dirs:
            return command
        joins = "; ".join(f"echo $$ > {d}/cgroup.procs" for d in self.dirs)
        return ["sh", "-c", f'{joins}; exec "$@"', "guard", *command]

    def hit(self) -> list[str]:
        found = []
        for d in self.dirs:
            for name in ("pids.events", "memory.failcnt"):
                try:
                    text = (d / name).read_text().strip()
                except OSError:
                    continue
                if text and text not in ("0", "max 0"):
                    found.append(f"{name}: {text}")
        return found

    def processes(self) -> list[tuple[int, str]]:
        """(pid, command line) of every process still in the guard's cgroup."""
        found = []
        for d in self.dirs[:1]:
            try:
                pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
            except OSError:
                continue
            for pid in pids:
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                found.append((pid, cmd.strip()[:80]))
        return found

    def close(self) -> None:
        for d in self.dirs:
            for _ in range(50):
                try:
                    pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    kill(pid)
                time.sleep(0.1)
            try:
                d.rmdir()
            except OSError:
                pass


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def marked_processes(token: str) -> list[tuple[int, str]]:
    """Processes whose environment carries this row's marker (aibench's children inherit it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if f"{MARKER}={token}".encode() in (entry / "environ").read_bytes():
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                found.append((int(entry.name), cmd[:80]))
        except OSError:
            continue
    return found


def spawn(ctx: Ctx, command: list[str], guard: Guard | None, **kw) -> subprocess.Popen:
    full = guard.wrap(command) if guard else command
    return subprocess.Popen(full, env=kw.pop("env", ctx.env()), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ctx.root, start_new_session=True, **kw)


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int | str, bytes, bytes]:
    """Wait for the process; on timeout kill its process group. Output capped at 16 MB each."""
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = proc.communicate()
        return "timeout", out, err


# ----------------------------------------------------------------------------- what was left
def docker_leftovers(root: Path) -> list[str]:
    """IDs of containers labelled or named by aibench that mount something under ``root``."""
    try:
        listed = subprocess.run(["docker", "ps", "-aq", "--filter", "label=aibench.run"], capture_output=True,
                                text=True, timeout=30).stdout.split()
        named = subprocess.run(["docker", "ps", "-aq", "--filter", "name=aibench-"], capture_output=True,
                               text=True, timeout=30).stdout.split()
        ids = sorted(set(listed) | set(named))
        if not ids:
            return []
        info = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True,
                                         timeout=30).stdout or "[]")
    except (OSError, subprocess.SubprocessError, ValueError):
        return []
    return [c["Id"][:12] + f" ({c['State']['Status']})" for c in info
            if any(str(m.get("Source", "")).startswith(str(root)) for m in c.get("Mounts", []))]


def ledger_rows(ctx: Ctx) -> tuple[str, str]:
    """(statuses of the ledger's rows, what `aibench history` said when it failed)."""
    if not ctx.ledger.exists():
        return "no ledger", ""
    try:
        done = subprocess.run([*ctx.args.aibench, "history", "--json", "--limit", "0", "--ledger", str(ctx.ledger)],
                              capture_output=True, text=True, timeout=60, env=ctx.env())
    except subprocess.TimeoutExpired:
        return "history timed out", ""
    try:
        runs = json.loads(done.stdout)["runs"]
    except (ValueError, KeyError, TypeError):
        return f"history rc={done.returncode}", last_line(done.stderr)
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.get("status")] = counts.get(run.get("status"), 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no rows", ""


def folder_size(path: Path) -> tuple[int, int]:
    total = count = 0
    for folder, _, files in os.walk(path):
        for name in files:
            count += 1
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total, count


def collect_left(ctx: Ctx, row: Row, guard: Guard | None) -> None:
    """Fill ``row.left`` (and details), then remove what was left."""
    parts = []
    containers = docker_leftovers(ctx.root)
    if containers:
        parts.append(f"{len(containers)} container(s)")
        subprocess.run(["docker", "rm", "-f", *[c.split()[0] for c in containers]], capture_output=True)
    # the Docker executor's watcher (codalab_worker_compat._reaper) polls its owner every 0.5 s and
    # exits once it is gone: give what is still ending a few seconds before counting it as left
    end = time.monotonic() + 3.0
    while True:
        procs = sorted(set(marked_processes(ctx.token)) | set(guard.processes() if guard else []))
        if not procs or time.monotonic() >= end:
            break
        time.sleep(0.2)
    if procs:
        parts.append(f"{len(procs)} process(es)")
        row.details["processes"] = procs[:5]
        for pid, _ in procs:
            kill(pid)
    tmp = [p.name for p in (ctx.root / "tmp").iterdir()] if (ctx.root / "tmp").is_dir() else []
    if tmp:
        parts.append(f"{len(tmp)} tmp entr{'y' if len(tmp) == 1 else 'ies'}")
        row.details["tmp"] = tmp[:5]
    size, count = folder_size(ctx.root)
    parts.append(f"rows: {ledger_rows(ctx)[0]}")
    parts.append(f"folder {size / 2**20:.1f} MiB/{count} files")
    probes = [*HOST_FILES, *REPO.glob("aibench-hostile-probe.txt"), *BUNDLES.glob("**/aibench-hostile-probe.txt")]
    host = [str(p) for p in probes if p.exists()]
    if host:
        parts.append("HOST FILES: " + ", ".join(host))
        for path in probes:
            if path.is_file() and not path.is_symlink():
                path.unlink()
    if guard and guard.hit():
        parts.append("GUARD HIT: " + "; ".join(guard.hit()))
    row.left = "; ".join(parts)


# ----------------------------------------------------------------------------- row helpers
def last_line(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text[-65536:].decode(errors="replace")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def describe(row: Row, rc: int | str, out: bytes, err: bytes, timeout: float) -> dict:
    """Status and message of a finished ``aibench run --json``; returns the report (or {})."""
    report: dict = {}
    try:
        report = json.loads(out.decode(errors="replace"))
    except ValueError:
        pass
    row.details["stdout_bytes"], row.details["stderr_bytes"] = len(out), len(err)
    if rc == "timeout":
        row.status = f"timeout ({timeout:.0f} s, killed)"
    elif isinstance(report, dict) and report.get("status"):
        row.status = str(report["status"])
    else:
        row.status = f"rc={rc}, no JSON report" + (f" ({len(out)} bytes on stdout)" if out else "")
    message = report.get("message") if isinstance(report, dict) else None
    if not message:
        message = last_line(err)
    if b"Traceback (most recent call last)" in err:
        message = f"TRACEBACK: {last_line(err)}"
        row.details["stderr_tail"] = err[-800:].decode(errors="replace")
    row.message = short(message)
    if isinstance(report, dict):
        cols = {c.get("key"): c.get("value") for c in report.get("columns") or [] if isinstance(c, dict)}
        if cols:
            row.details["scores"] = cols
            if "accuracy" in cols and cols["accuracy"] is not None:
                row.message = short(f"accuracy {cols['accuracy']}; " + row.message)
    return report


def short(text: str, n: int = 110) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


#: faults whose honest run is slow on a loaded machine get at least this many seconds
MIN_TIMEOUT = {"many-files": 600.0, "zip-bomb": 600.0}


def run_simple(ctx: Ctx, row: Row, bundle: Path, submission: Path, *extra: str, guard: Guard | None = None,
               env: dict | None = None) -> dict:
    timeout = max(ctx.args.timeout, MIN_TIMEOUT.get(row.fault, 0.0))
    proc = spawn(ctx, ctx.run_cmd(bundle, submission, *extra), guard, **({"env": env} if env else {}))
    rc, out, err = finish(proc, timeout)
    return describe(row, rc, out, err, timeout)


# ----------------------------------------------------------------------------- inputs built here
def hostile_zip(ctx: Ctx, bundle: str, name: str) -> Path:
    sys.path.insert(0, str(HOSTILE))
    import build  # examples/submissions/hostile/build.py

    cache = ctx.args.cache / f"bomb{ctx.args.bomb_gib}"
    target = cache / bundle / f"{name}.zip"
    if not target.exists():
        build.build(cache, bomb_gib=ctx.args.bomb_gib, only=[f"{bundle}/{name}"])
    return target


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), data)
    return path


def scorer_bundle(ctx: Ctx, scores_txt: str) -> Path:
    """iris-v2 whose scoring program writes ``scores_txt`` (an organiser's malformed scores)."""
    bundle = ctx.root / "bundle"
    shutil.copytree(IRIS, bundle)
    (bundle / "scoring_program" / "score.py").write_text(
        "import os, sys\nos.makedirs(sys.argv[2], exist_ok=True)\n"
        f"open(os.path.join(sys.argv[2], 'scores.txt'), 'w', encoding='utf-8').write({scores_txt!r})\n")
    return bundle


PLUGIN = '''
import os, sys, time
import aibench_plugins

@aibench_plugins.metric(id="faulty.metric", direction="maximize", bounds=(0.0, 1.0))
def faulty(*, predictions, references):
    mode = os.environ.get("FAULTY_PLUGIN", "raise")
    if mode == "raise":
        raise RuntimeError("faulty plugin raises on purpose")
    if mode == "hang":
        while True:
            pass
    if mode == "print":
        for _ in range(200):
            print("x" * 100_000)  # 20 MB on stdout
    return 0.5

@aibench_plugins.hookimpl
def aibench_register_metrics(register):
    register(faulty)
'''


def plugin_setup(ctx: Ctx, mode: str) -> tuple[Path, dict]:
    site = ctx.root / "site"
    (site / "faulty_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "faulty_plugin.py").write_text(PLUGIN)
    (site / "faulty_plugin-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: faulty-plugin\n"
                                                                 "Version: 0.1\n")
    (site / "faulty_plugin-0.1.dist-info" / "entry_points.txt").write_text("[aibench]\nfaulty-plugin = faulty_plugin\n")
    bundle = ctx.root / "bundle"
    shutil.copytree(IRIS, bundle)
    manifest = json.loads((bundle / "aibench.json").read_text())
    manifest["plugins"] = [{"id": "faulty-plugin", "required": False}]
    manifest["metrics"].append({"use": "faulty.metric", "key": "faulty", "label": "Faulty"})
    (bundle / "aibench.json").write_text(json.dumps(manifest, indent=1))
    env = {**ctx.env(), "PYTHONPATH": str(site), "FAULTY_PLUGIN": mode}
    return bundle, env


class TcpListener:
    """Counts TCP connections on 127.0.0.1 and the docker bridge gateway (attacks.py PORT)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.socks, self.threads = [], []
        for host in ("127.0.0.1", "172.17.0.1"):
            try:
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, PORT))
                sock.listen(8)
                sock.settimeout(0.5)
            except OSError:
                continue
            self.socks.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock, host), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self, sock: socket.socket, host: str) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.hits.append(host)
            conn.close()

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
        for thread in self.threads:
            thread.join(2)


# ----------------------------------------------------------------------------- the faults
def f_example(name: str, *extra: str) -> Callable[[Ctx, Row, Guard | None], None]:
    def fault(ctx: Ctx, row: Row, guard: Guard | None) -> None:
        run_simple(ctx, row, DIGITS, SUBS / "digits-ingestion-v2" / name, *extra, guard=guard)
    return fault


def f_hostile(name: str, bundle: str = "digits-ingestion-v2", *extra: str) -> Callable[[Ctx, Row, Guard | None], None]:
    def fault(ctx: Ctx, row: Row, guard: Guard | None) -> None:
        if name == "zip-bomb":
            free = shutil.disk_usage(ctx.root).free / 2**30
            if free < 3 * ctx.args.bomb_gib:
                row.status, row.message = "skipped", f"needs {3 * ctx.args.bomb_gib:.0f} GiB free, {free:.0f} GiB left"
                return
        submission = hostile_zip(ctx, bundle, name)
        listener = TcpListener() if name == "network" else None
        HOST_SENTINEL.write_text("HOST-SENTINEL: a file on the worker host\n")
        try:
            run_simple(ctx, row, BUNDLES / bundle, submission, *extra, guard=guard)
        finally:
            if listener:
                listener.close()
            HOST_SENTINEL.unlink(missing_ok=True)
        if listener:
            row.message = short(f"connections received: {listener.hits or 'none'}; " + row.message)
        labels = (row.details.get("scores") or {}).get("accuracy") == 1.0
        if name in ("link-to-ref", "link-at-scoring"):
            copied = followed_links(ctx.root)
            if copied:
                row.message = short(f"LINKS FOLLOWED on the host: {', '.join(copied)}; " + row.message)
        if name in ("link-to-ref", "glob-labels"):
            row.message = short(("LABELS REACHED; " if labels else "labels not reached; ") + row.message)
    return fault


def followed_links(root: Path) -> list[str]:
    """Names of attacks.py's link-* members that are regular files somewhere under ``root``: a host
    process copied what the link pointed to (nothing here follows a link: lstat and O_NOFOLLOW)."""
    found = set()
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if not name.startswith("link-") or os.path.islink(path):
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                with os.fdopen(fd, "rb") as handle:
                    head = handle.read(64)
            except OSError:
                continue
            if head:
                found.add(f"{name} ({head[:20].decode(errors='replace').strip()!r})")
    return sorted(found)


def f_zip_slip(ctx: Ctx, row: Row, guard: Guard | None) -> None:
    model = (SUBS / "digits-ingestion-v2" / "good" / "model.py").read_bytes()
    outside = Path(tempfile.gettempdir()) / f"aibench-fault-slip-{ctx.token}"
    sub = zip_of(ctx.root / "slip.zip", {"model.py": model, f"../../../../../../../..{outside}": b"slip",
                                         f"{outside}-abs": b"abs"})
    run_simple(ctx, row, DIGITS, sub, guard=guard)
    written = [str(p) for p in (outside, Path(f"{outside}-abs")) if p.exists()]
    for path in written:
        Path(path).unlink()
    row.message = short(("WROTE OUTSIDE: " + ", ".join(written) + "; ") if written else "nothing written outside; "
                        + row.message)


def f_zip_conflict(ctx: Ctx, row: Row, guard: Guard | None) -> None:
    model = (SUBS / "digits-ingestion-v2" / "good" / "model.py").read_bytes()
    run_simple(ctx, row, DIGITS, zip_of(ctx.root / "conflict.zip", {"model.py": model, "a": b"file", "a/b": b"x"}),
               guard=guard)


def f_bad_zip(ctx: Ctx, row: Row, guard: Guard | None) -> None:
    bad = ctx.root / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip" * 10)
    run_simple(ctx, row, DIGITS, bad, guard=guard)


def f_bad_scores(text: str) -> Callable[[Ctx, Row, Guard | None], None]:
    def fault(ctx: Ctx, row: Row, guard: Guard | None) -> None:
        run_simple(ctx, row, scorer_bundle(ctx, text), SUBS / "iris-v2" / "good", guard=guard)
    return fault


def f_plugin(mode: str) -> Callable[[Ctx, Row, Guard | None], None]:
    def fault(ctx: Ctx, row: Row, guard: Guard | None) -> None:
        bundle, env = plugin_setup(ctx, mode)
        report = run_simple(ctx, row, bundle, SUBS / "iris-v2" / "good", guard=guard, env=env)
        fails = [f.get("message") for f in (report.get("plugin_failures") or [])] if isinstance(report, dict) else []
        json_ok = "json ok" if report else "STDOUT NOT JSON"
        row.message = short(f"{json_ok}, stdout {row.details['stdout_bytes']} B; "
                            + (f"plugin failure: {fails[0]}; " if fails else "") + row.message)
    return fault


def f_killed(ctx: Ctx, row: Row, guard: Guard | None) -> None:
    """SIGKILL `aibench run` once the participant's process is up, then run `aibench history`."""
    proc = spawn(ctx, ctx.run_cmd(DIGITS, SUBS / "digits-ingestion-v2" / "hang"), guard)

    def participant() -> list:
        if ctx.executor == "docker":
            return docker_leftovers(ctx.root)
        found = set(marked_processes(ctx.token)) | set(guard.processes() if guard else [])
        return [p for p in found if "ingestion" in p[1] and "aibench_plugins" not in p[1]]

    deadline, up = time.monotonic() + 60, []
    while time.monotonic() < deadline and proc.poll() is None and not up:
        up = participant()
        time.sleep(0.5)
    time.sleep(1)
    if proc.poll() is not None:
        row.status, row.message = "not killed", short(f"the run ended before its participant process was seen (rc {proc.returncode})")
        return
    kill(proc.pid)  # aibench itself only (the guard's wrapper exec()s it, so it keeps the pid)
    proc.communicate()
    time.sleep(2)
    after_kill = participant()
    rows, error = ledger_rows(ctx)
    after_history = participant()
    row.status = f"killed; history: {rows}"
    what = "containers" if ctx.executor == "docker" else "processes"
    row.message = short(f"participant {what}: {len(up)} before "
                        f"the kill, {len(after_kill)} 2 s after it, {len(after_history)} after `aibench history`"
                        + (f"; history failed: {error}" if error else ""))


def f_concurrent(ctx: Ctx, row: Row, guard: Guard | None, n: int = 4) -> None:
    procs = [spawn(ctx, ctx.run_cmd(IRIS, SUBS / "iris-v2" / "good", work=f"run{i}"), guard) for i in range(n)]
    results = [finish(p, ctx.args.timeout) for p in procs]
    statuses = []
    for rc, out, err in results:
        sub = Row(row.fault, row.executor)
        describe(sub, rc, out, err, ctx.args.timeout)
        statuses.append(sub.status + (f" ({sub.message})" if sub.status != "finished" else ""))
    row.status = f"{statuses.count('finished')}/{n} finished"
    row.message = short("; ".join(sorted(set(statuses))))


U2028 = "\u2028a: \u2028\naccuracy: 0.5\n"
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)) + "accuracy: 0.5\n"

FAULTS: dict[str, Callable[[Ctx, Row, Guard | None], None]] = {
    "loop-forever": f_example("loop-forever"),
    "memory-hog": f_example("memory-hog"),
    "fork-bomb": f_example("fork-bomb"),
    "network-download": f_example("network"),
    "network-tcp": f_hostile("network"),
    "write-beside-model": f_example("write-outside-output"),
    "write-outside": f_hostile("write-outside"),
    "link-to-ref": f_hostile("link-to-ref"),
    "link-at-scoring": f_hostile("link-at-scoring"),
    "metadata-link": f_hostile("metadata-link"),
    "glob-labels": f_hostile("glob-labels"),
    "scores-in-output": f_hostile("scores-in-output"),
    "zip-slip": f_zip_slip,
    "zip-file-and-dir": f_zip_conflict,
    "zip-bomb": f_hostile("zip-bomb"),
    "many-files": f_hostile("many-files"),
    "bad-zip": f_bad_zip,
    "scores-u2028": f_bad_scores(U2028),
    "scores-billion-laughs": f_bad_scores(LAUGHS),
    "plugin-raises": f_plugin("raise"),
    "plugin-hangs": f_plugin("hang"),
    "plugin-prints": f_plugin("print"),
    "killed-mid-run": f_killed,
    "concurrent-ledger": f_concurrent,
}


def run_row(args: argparse.Namespace, fault: str, executor: str) -> Row:
    row = Row(fault, executor)
    token = uuid.uuid4().hex[:12]
    root = Path(tempfile.mkdtemp(prefix=f"aibench-fault-{fault}-{executor}-", dir=args.base))
    ctx = Ctx(root, executor, args, token)
    guard = Guard(f"aibench-fault-{token}", args.guard_pids, args.guard_memory_mb) if executor == "local" else None
    start = time.monotonic()
    try:
        FAULTS[fault](ctx, row, guard)
    except Exception as error:  # a fault that breaks this script's own steps is a row too
        row.status = row.status or "harness error"
        row.message = short(f"{type(error).__name__}: {error}")
    row.elapsed_s = round(time.monotonic() - start, 1)
    try:
        collect_left(ctx, row, guard)
    except Exception as error:
        row.left = short(f"could not inspect: {type(error).__name__}: {error}")
    finally:
        if guard:
            guard.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return row


def table(rows: list[Row]) -> str:
    lines = ["| fault | executor | status | message | left behind | elapsed (s) |", "|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r.fault, r.executor, r.status, r.message, r.left, f"{r.elapsed_s:.1f}"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executor", action="append", choices=["local", "docker"], help="default: both")
    parser.add_argument("--only", action="append", metavar="FAULT", help=f"one of: {', '.join(FAULTS)}")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per aibench run (default 180)")
    parser.add_argument("--bomb-gib", type=float, default=10.0, help="GiB the zip bomb unpacks to (default 10)")
    parser.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"))
    parser.add_argument("--base", default=None, help="parent of the rows' temp folders (default: $TMPDIR)")
    parser.add_argument("--guard-pids", type=int, default=1024)
    parser.add_argument("--guard-memory-mb", type=int, default=3072)
    parser.add_argument("--keep", action="store_true", help="keep each row's folder")
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    parser.add_argument("--rows", type=Path, help="also append each row, as it finishes, to this JSON-lines file")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(FAULTS))
        return 0
    unknown = [f for f in args.only or [] if f not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    args.aibench = [args.python, "-m", "aibench_plugins"]
    args.cache = Path(tempfile.mkdtemp(prefix="aibench-fault-zips-", dir=args.base))
    rows = []
    try:
        for fault in args.only or list(FAULTS):
            for executor in args.executor or ["local", "docker"]:
                row = run_row(args, fault, executor)
                rows.append(row)
                print(f"{row.fault} [{row.executor}] {row.status} ({row.elapsed_s} s)", file=sys.stderr, flush=True)
                if args.rows:
                    with args.rows.open("a", encoding="utf-8") as handle:
                        handle.write(json.dumps(asdict(row)) + "\n")
    finally:
        shutil.rmtree(args.cache, ignore_errors=True)
    print(json.dumps([asdict(r) for r in rows], indent=1) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
