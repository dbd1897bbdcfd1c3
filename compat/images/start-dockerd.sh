#!/usr/bin/env bash
# Starts dockerd in the background when no Docker daemon answers, then waits until `docker info`
# works (DOCKERD_TIMEOUT seconds, default 90). Needs root to start one; the log goes to
# DOCKERD_LOG (default /var/log/aibench-dockerd.log).
set -euo pipefail
timeout_s=${DOCKERD_TIMEOUT:-90}
log=${DOCKERD_LOG:-/var/log/aibench-dockerd.log}
if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null; then
  echo "no Docker daemon answers and dockerd is not installed: apt-get install docker.io" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "no Docker daemon answers, and starting dockerd needs root (or start it yourself: sudo dockerd &)" >&2
  exit 1
fi
mkdir -p "$(dirname "$log")"
echo "starting dockerd in the background (log: $log)" >&2
(setsid dockerd >"$log" 2>&1 &)
for _ in $(seq "$timeout_s"); do
  if docker info >/dev/null 2>&1; then
    echo "dockerd answers: $(docker info --format '{{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}}')" >&2
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within ${timeout_s} s; the end of $log:" >&2
tail -n 30 "$log" >&2 || true
exit 1
