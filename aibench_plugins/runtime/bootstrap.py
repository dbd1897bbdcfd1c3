# The entry point of aibench's runtime inside a wrapped program, written there by `aibench wrap`
# as _aibench/run.py. Its syntax is valid Python 2.7 on purpose: on an image whose python3 is
# too old it still runs, says why the plugins cannot run, and starts the original command.
#
#   python3 <program>/_aibench/run.py score INPUT OUTPUT -- ORIGINAL COMMAND...
#   python3 <program>/_aibench/run.py ingest OUTPUT -- ORIGINAL COMMAND...
import json
import os
import sys

MINIMUM = (3, 10)
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    # type: () -> int
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.stderr.write("[aibench] usage: run.py score INPUT OUTPUT -- COMMAND... | ingest OUTPUT -- COMMAND...\n")
        return 2
    command = argv[argv.index("--") + 1:]
    needs = "%d.%d" % MINIMUM
    if sys.version_info[:2] < MINIMUM:
        found = "%d.%d.%d" % tuple(sys.version_info[:3])
        return cannot_run(argv[0], command, "the aibench runtime needs Python >= %s; this image's python3 is %s (%s)"
                          % (needs, found, sys.executable))
    # the vendored runtime: one zip (a worker unpacks one member, not hundreds), or a folder
    packed = os.path.join(HERE, "lib.zip")
    sys.path.insert(0, packed if os.path.isfile(packed) else os.path.join(HERE, "lib"))
    try:
        if argv[0] == "ingest":  # a few standard-library modules: the ingestion's lib holds no more
            from aibench_plugins.runtime.ingest import run
        else:
            from aibench_plugins.runtime.main import run
    except ImportError as error:
        return cannot_run(argv[0], command, "the aibench runtime cannot start: %s (it needs PyYAML, which the "
                          "codalab-legacy images have)" % error)
    return int(run(argv, HERE))


def cannot_run(mode, command, why):
    # type: (str, list[str], str) -> int
    with open(os.path.join(HERE, "wrap.json")) as handle:
        wrap = json.load(handle)
    sys.stderr.write(
        "[aibench] %s.\n[aibench] The plugins of aibench.json cannot run here. Fix: use an image with Python >= %s, "
        "numpy, pandas and PyYAML (codalab/codalab-legacy:py312) in competition.yaml's docker_image.\n"
        % (why, "%d.%d" % MINIMUM))
    if mode == "score" and wrap.get("required_plugins"):
        sys.stderr.write("[aibench] The manifest marks plugins as required (%s): the submission fails.\n"
                         % ", ".join(wrap["required_plugins"]))
        return 2
    sys.stderr.write("[aibench] Running the original command alone: the submission keeps its original scores.\n")
    sys.stderr.flush()
    if not command:
        return 0
    os.execvp(command[0], command)
    return 127


if __name__ == "__main__":
    code = main()
    # The runtime has closed everything it wrote and waited for every process it started: skip the
    # interpreter's teardown (unloading pandas and numpy), 0.05 to 0.1 s of every scoring step.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
