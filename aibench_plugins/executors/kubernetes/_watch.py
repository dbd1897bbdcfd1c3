"""The watcher of one host process's Jobs: ``python -m aibench_plugins.executors.kubernetes._watch
OWNER_PID OWNER_START NAMESPACE KUBECONFIG CONTEXT`` (the last two may be empty strings).

It waits, with the standard library only, until the owner (that pid, started at that time) is
gone, then loads the credentials as the executor does (:func:`~aibench_plugins.executors.kubernetes.load_client`)
and deletes every Job of that owner in the namespace
(:func:`~aibench_plugins.executors.kubernetes.reap_orphan_jobs` with ``owner``). The executor
starts one per process and namespace with its first Job (:func:`~aibench_plugins.executors.kubernetes.start_watcher`),
so that a SIGKILLed ``aibench run`` leaves no Job running for longer than about a second.
"""

from __future__ import annotations

import sys
import time

__all__ = ["main"]

POLL_S = 0.5


def main(argv: list[str]) -> int:
    """Watch, then reap (module docstring); 2 on bad arguments, else 0."""
    if len(argv) != 5 or not argv[0].isdigit():
        print("usage: python -m aibench_plugins.executors.kubernetes._watch PID START NAMESPACE KUBECONFIG CONTEXT",
              file=sys.stderr)
        return 2
    from codalab_worker_compat._reaper import owner_alive

    pid, start, namespace, kubeconfig, context = argv
    while owner_alive(pid, start):
        time.sleep(POLL_S)
    from . import load_client, reap_orphan_jobs

    try:
        api_client = load_client(kubeconfig or None, context or None)
    except Exception:  # noqa: BLE001 - the credentials went away: nothing to do
        return 0
    try:
        reap_orphan_jobs(api_client, namespace, owner=(pid, start))
    finally:
        api_client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
