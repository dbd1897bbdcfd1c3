"""``aibench wrap``: the wrapped bundle's files, its competition.yaml, and its runs by the
local executor as a platform's worker runs them (the runtime inside, nothing on the host).
The same bundles in real Docker containers are in ``test_wrap_docker.py``."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest
import yaml
from codalab_worker_compat import load_bundle, read_metadata
from wrapkit import (
    SUBMISSIONS,
    bundle_copy,
    edit_manifest,
    install_faults_plugin,
    run_as_platform,
    runtime_report,
    scoring_output,
    stderr_of_scoring,
    wrap,
)

from aibench_plugins.run.runner import run_bundle
from aibench_plugins.runtime.merge import merge_scores, score_text
from aibench_plugins.manifest.validate import validate_bundle
from aibench_plugins import VendorError, WrapRefused
from aibench_plugins.wrap.vendor import vendor
from aibench_plugins.wrap.wrapping import wrap_bundle

IRIS_GOOD = SUBMISSIONS / "iris-v2" / "good"
WINE_GOOD = SUBMISSIONS / "wine-v1" / "good"
DIGITS_GOOD = SUBMISSIONS / "digits-ingestion-v2" / "good"


@pytest.fixture(scope="module")
def wrapped_iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wrapped") / "iris-wrapped.zip"
    return wrap(Path(__file__).resolve().parents[2] / "bundles" / "iris-v2", out)


# -- the wrapped bundle's files ---------------------------------------------------------

def test_scoring_metadata_runs_the_original_command_through_the_runtime(wrapped_iris: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wrapped_iris) as archive:
        archive.extractall(tmp_path)
        names = archive.namelist()
    assert names[0] == "competition.yaml"
    metadata = read_metadata(tmp_path / "scoring_program", "codabench")
    assert metadata is not None
    assert list(metadata.commands) == ["python3 /app/program/_aibench/run.py score $input $output -- "
                                 "python3 $program/score.py $input $output"]
    home = tmp_path / "scoring_program" / "_aibench"
    assert (home / "run.py").is_file() and (home / "aibench.json").read_bytes() == \
        (Path(__file__).resolve().parents[2] / "bundles" / "iris-v2" / "aibench.json").read_bytes()
    record = json.loads((home / "wrap.json").read_text())
    assert record["original_commands"] == ["python3 $program/score.py $input $output"]
    vendored = {d["name"] for d in record["vendored"]}
    assert vendored == {"aibench-plugins", "codalab-worker-compat", "pluggy", "packaging"}
    with zipfile.ZipFile(home / "lib.zip") as lib:  # one member for the worker to unpack
        names = lib.namelist()
    assert not [n for n in names if n.endswith((".so", ".pyd"))]
    assert not [n for n in names if n.startswith("aibench_plugins/cli/")]
    assert "aibench_plugins/runtime/main.py" in names


def test_competition_yaml_keeps_every_original_line_and_declares_the_plugin_columns(wrapped_iris: Path) -> None:
    original = (Path(__file__).resolve().parents[2] / "bundles" / "iris-v2" / "competition.yaml").read_text()
    with zipfile.ZipFile(wrapped_iris) as archive:
        wrapped = archive.read("competition.yaml").decode()
    assert wrapped.startswith(original)  # the columns come last in this file: everything before is untouched
    bundle = load_bundle(wrapped_iris)
    keys = [c.key for c in bundle.columns]
    assert keys == ["accuracy", "balanced_accuracy", "balanced_accuracy_public", "balanced_accuracy_private",
                    "macro_f1", "macro_f1_public", "macro_f1_private", "mcc", "mcc_public", "mcc_private"]
    indexes = [c.index for c in bundle.columns]
    assert len(set(indexes)) == len(indexes)
    assert all(c.precision == 4 and c.sorting == "desc" for c in bundle.columns[1:])


def test_wrapped_bundle_validates_and_its_added_columns_are_not_taken_for_original_ones(wrapped_iris: Path) -> None:
    report = validate_bundle(wrapped_iris)
    assert report.ok, [str(p) for p in report.errors]


# -- enable_detailed_results: the organiser's choice (issue 11, item 3) ------------------

@pytest.mark.parametrize("setting", ["absent", "false", "true"])
def test_wrap_keeps_the_bundles_detailed_results_setting(setting: str, tmp_path: Path) -> None:
    """Turning the page on costs every scoring step up to 5 s on the real workers: wrap never
    does it unasked, and says the cost where the bundle has it on."""
    bundle = bundle_copy("iris-v2", tmp_path)
    spec = bundle / "competition.yaml"
    line = "" if setting == "absent" else f"enable_detailed_results: {setting}\n"
    original = spec.read_text().replace("enable_detailed_results: true\n", line)
    spec.write_text(original)
    report = wrap_bundle(bundle, tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        wrapped = archive.read("competition.yaml").decode()
    assert wrapped.startswith(original)  # nothing before the added columns changed
    assert "enable_detailed_results" not in wrapped[len(original):]
    value = load_bundle(tmp_path / "out.zip").spec.get("enable_detailed_results")
    assert value == {"absent": None, "false": False, "true": True}[setting]
    page = report.detailed_results
    assert page["enabled"] is (setting == "true") and page["changed"] is False
    assert (page["cost"] is not None) is (setting == "true")
    if setting != "true":
        assert "--detailed-results" in page["participants_see"] and "no page" in page["participants_see"]


@pytest.mark.parametrize("setting", ["absent", "false  # the organiser's comment"])
def test_detailed_results_option_turns_the_page_on_and_says_what_it_costs(setting: str, tmp_path: Path) -> None:
    bundle = bundle_copy("iris-v2", tmp_path)
    spec = bundle / "competition.yaml"
    line = "" if setting == "absent" else f"enable_detailed_results: {setting}\n"
    original = spec.read_text().replace("enable_detailed_results: true\n", line)
    spec.write_text(original)
    result = subprocess.run([sys.executable, "-m", "aibench_plugins", "wrap", str(bundle), "-o",
                             str(tmp_path / "out.zip"), "--detailed-results"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "enable_detailed_results: on (turned on by --detailed-results)" in result.stdout
    assert "cost:" in result.stdout and "every 5 s" in result.stdout and "up to 5 s longer" in result.stdout
    assert load_bundle(tmp_path / "out.zip").spec["enable_detailed_results"] is True
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        wrapped = archive.read("competition.yaml").decode()
    if setting != "absent":  # the line is edited in place, its comment kept
        assert "enable_detailed_results: true  # the organiser's comment\n" in wrapped
        assert wrapped.replace("enable_detailed_results: true", "enable_detailed_results: false").startswith(original)


def test_a_scorer_that_writes_its_own_page_is_the_page_participants_see(tmp_path: Path) -> None:
    """The worker shows output/detailed_results.html, else the first *.html there (§5.7): wrap
    says which page participants will see, and the wrapped run does what it said."""
    bundle = bundle_copy("iris-v2", tmp_path)
    score = bundle / "scoring_program" / "score.py"
    score.write_text(score.read_text() + "\nimport os, sys\nwith open(os.path.join(sys.argv[2], 'scores.html'), 'w') "
                     "as page:\n    page.write('<html><body>the scorer page</body></html>')\n")
    report = wrap_bundle(bundle, tmp_path / "out.zip")
    page = report.detailed_results
    assert page["scorer_pages"] == ["scores.html"]
    assert page["participants_see"].startswith("the scoring program's own page")
    assert "output/aibench/detailed_results.html" in page["participants_see"]
    run = run_as_platform(tmp_path / "out.zip", IRIS_GOOD, tmp_path / "run")
    assert run.ok, run.result.message
    output = scoring_output(run)
    assert sorted(p.name for p in output.glob("*.html")) == ["scores.html"]  # the only page the worker can show
    assert "the scorer page" in (output / "scores.html").read_text()
    assert "Balanced accuracy" in (output / "aibench" / "detailed_results.html").read_text()
    plain = wrap_bundle(Path(__file__).resolve().parents[2] / "bundles" / "iris-v2", tmp_path / "plain.zip")
    assert plain.detailed_results["participants_see"].startswith("the plugins' page")


def test_an_empty_page_made_before_scoring_is_not_taken_for_the_scorers_own(tmp_path: Path) -> None:
    """The v1 worker creates an empty output/detailed_results.html before the scoring program
    runs and uploads that file (§4.8): the plugins' page must be written there, not moved aside
    as if the scorer had written a page (here the scorer itself leaves the empty file)."""
    bundle = bundle_copy("iris-v2", tmp_path)
    score = bundle / "scoring_program" / "score.py"
    score.write_text("import os, sys\nopen(os.path.join(sys.argv[2], 'detailed_results.html'), 'w').close()\n"
                     + score.read_text())
    run = run_as_platform(wrap(bundle, tmp_path / "out.zip"), IRIS_GOOD, tmp_path / "run")
    assert run.ok, run.result.message
    output = scoring_output(run)
    assert "Balanced accuracy" in (output / "detailed_results.html").read_text()
    assert not (output / "aibench" / "detailed_results.html").exists()


def test_the_vendored_lib_is_byte_compiled_for_the_images_python_only(tmp_path: Path) -> None:
    """A worker unpacks a fresh copy per submission: pycs for the image's Python save each run
    compiling the runtime again; for another Python they would be dead weight, so none."""
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    source = Path(__file__).resolve().parents[2] / "bundles" / "iris-v2"
    same = wrap(source, tmp_path / "same.zip", image="acme/same-python:1", image_python=host)
    other = wrap(source, tmp_path / "other.zip", image="acme/other-python:1", image_python="3.99")
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}.pyc"
    def pycs(wrapped: Path) -> dict[str, bytes]:
        with zipfile.ZipFile(wrapped) as archive, zipfile.ZipFile(io.BytesIO(
                archive.read("scoring_program/_aibench/lib.zip"))) as lib:
            return {n: lib.read(n)[:16] for n in lib.namelist() if n.endswith(".pyc")}

    found = pycs(same)
    assert "aibench_plugins/runtime/main.pyc" in found  # beside main.py: the layout zipimport reads
    assert not [n for n in found if "__pycache__" in n], tag
    assert {int.from_bytes(head[4:8], "little") for head in found.values()} == {0b01}  # hash-based (PEP 552)
    assert not pycs(other)
    run = run_as_platform(same, IRIS_GOOD, tmp_path / "run")
    assert run.ok and all(c["value"] is not None for c in run.columns), run.result.message


def test_docs_wrap_md_lists_every_change_wrap_makes(tmp_path: Path) -> None:
    """Every file wrap adds or changes, and every competition.yaml key it changes, is named in
    the 'What changes in the bundle' section of docs/wrap.md."""
    repo = Path(__file__).resolve().parents[2]
    section = (repo / "docs" / "wrap.md").read_text().split("## What changes in the bundle", 1)[1].split("\n## ")[0]
    named: set[str] = set()
    for name in ("iris-v2", "digits-ingestion-v2"):
        source = repo / "bundles" / name
        out = wrap(source, tmp_path / f"{name}.zip", detailed_results=True)
        with zipfile.ZipFile(out) as archive:
            files = {n: archive.read(n) for n in archive.namelist()}
        for member, data in files.items():
            original = source / member
            if not original.is_file():
                named.add("_aibench/" if "/_aibench/" in member else member)
            elif original.read_bytes() != data:
                name_of = PurePosixPath(member).name
                named.add("metadata" if name_of in ("metadata", "metadata.yaml") else name_of)
        before = yaml.safe_load((source / "competition.yaml").read_text())
        after = yaml.safe_load(files["competition.yaml"])
        named |= {key for key in after if after[key] != before.get(key)}
    assert named == {"competition.yaml", "metadata", "_aibench/", "leaderboards", "enable_detailed_results"}, named
    missing = [n for n in sorted(named) if f"`{n}" not in section]
    assert not missing, f"docs/wrap.md does not name: {missing}"
    for part in ("run.py", "lib.zip", "aibench.json", "wrap.json"):  # what _aibench/ holds
        assert part in section


def test_aibench_run_of_a_wrapped_bundle_leaves_the_plugins_to_its_runtime(wrapped_iris: Path, tmp_path: Path) -> None:
    import os

    from wrapkit import VENV_BIN

    os.environ["PATH"], previous = f"{VENV_BIN}:{os.environ['PATH']}", os.environ["PATH"]
    try:
        report = run_bundle(wrapped_iris, IRIS_GOOD, work_dir=tmp_path / "run", ledger_path=tmp_path / "l.db")
    finally:
        os.environ["PATH"] = previous
    assert report.ok and report.evaluation is None
    assert any("wrapped bundle" in rule for rule in report.result.rules_applied)
    assert report.detailed_results == scoring_output(report) / "detailed_results.html"
    assert all(c["value"] is not None for c in report.columns)
    sources = {c["key"]: c["source"] for c in report.columns}
    assert sources.pop("accuracy") == "scoring program"
    assert set(sources.values()) == {"plugin (wrapped runtime)"}


def test_v1_columns_share_the_first_columns_result_group_by_its_anchor(tmp_path: Path) -> None:
    out = wrap(Path(__file__).resolve().parents[2] / "bundles" / "wine-v1", tmp_path / "wine.zip")
    with zipfile.ZipFile(out) as archive:
        text = archive.read("competition.yaml").decode()
        program = zipfile.ZipFile(__import__("io").BytesIO(archive.read("scoring_program.zip")))
        metadata = yaml.safe_load(program.read("metadata"))
    assert "    balanced_accuracy:\n      leaderboard: *RESULTS\n" in text
    spec = yaml.safe_load(text)
    assert set(spec["leaderboard"]["columns"]) == {"accuracy", "balanced_accuracy", "macro_f1", "weighted_f1"}
    assert all(set(c) <= {"leaderboard", "label", "rank", "numeric_format", "sort"}
               for c in spec["leaderboard"]["columns"].values())
    assert metadata["command"].startswith("python3 $program/_aibench/run.py score $input $output -- ")


# -- runs -------------------------------------------------------------------------------

def test_wrapped_run_keeps_the_original_scores_and_adds_the_plugin_scores_of_aibench_run(
        wrapped_iris: Path, tmp_path: Path) -> None:
    plain = run_bundle(Path(__file__).resolve().parents[2] / "bundles" / "iris-v2", IRIS_GOOD,
                       work_dir=tmp_path / "plain", ledger_path=tmp_path / "l1.db")
    wrapped = run_as_platform(wrapped_iris, IRIS_GOOD, tmp_path / "wrapped")
    assert wrapped.ok, wrapped.result.message
    assert [c["key"] for c in wrapped.columns] == [c["key"] for c in plain.columns] + \
        [c.key for c in plain.evaluation.columns]  # type: ignore[union-attr]
    assert all(c["value"] is not None for c in wrapped.columns)
    scores = json.loads((scoring_output(wrapped) / "scores.json").read_text())
    plain_scores = json.loads((scoring_output(plain) / "scores.json").read_text())
    assert plain.evaluation is not None
    assert scores == plain_scores | {c.key: c.value for c in plain.evaluation.columns}  # exactly, not rounded
    page = (scoring_output(wrapped) / "detailed_results.html").read_text()
    assert "Balanced accuracy (public)" in page and "Plugin failures" in page


def test_wrapped_v1_bundle_scores_on_v1_and_after_codabench_converts_it(tmp_path: Path) -> None:
    out = wrap(Path(__file__).resolve().parents[2] / "bundles" / "wine-v1", tmp_path / "wine.zip")
    for platform in ("v1", "codabench"):
        report = run_as_platform(out, WINE_GOOD, tmp_path / platform, platform=platform)
        values = {c["key"]: c["value"] for c in report.columns}
        assert report.ok, report.result.message
        assert all(v is not None for v in values.values()), values
        text = (scoring_output(report) / "scores.txt").read_text()
        assert text.splitlines()[-3].startswith("balanced_accuracy: ")


def test_wrapped_ingestion_measures_the_participants_run_and_says_who_measured(tmp_path: Path) -> None:
    out = wrap(Path(__file__).resolve().parents[2] / "bundles" / "digits-ingestion-v2", tmp_path / "digits.zip")
    report = run_as_platform(out, DIGITS_GOOD, tmp_path / "run")
    assert report.ok, report.result.message
    measured = {(m["name"], m["measured_by"]) for m in runtime_report(report)["measurements"]}
    assert ("ingestion program wall time", "worker") in measured
    assert ("peak memory of the participant's run", "ingestion") in measured
    assert ("scoring program wall time", "scoring") in measured
    forgeable = [m for m in runtime_report(report)["measurements"] if m["measured_by"] == "ingestion"]
    assert all("forge" in m["trust"] for m in forgeable)
    page = (scoring_output(report) / "detailed_results.html").read_text()
    assert "Measurements" in page and "participant code could forge it" in page


@pytest.fixture(scope="module")
def faults_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_faults_plugin(tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("sources"))


def _wrap_with_faults(site: Path, bundle: Path, output: Path) -> Path:
    """``aibench wrap`` run as a command with the plugin installed (on PYTHONPATH)."""
    result = subprocess.run([sys.executable, "-m", "aibench_plugins", "wrap", str(bundle), "-o", str(output)],
                            capture_output=True, text=True, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return output


def test_plugin_that_raises_and_one_that_hangs_leave_the_original_scores_and_show_on_the_page(
        faults_site: Path, tmp_path: Path) -> None:
    bundle = bundle_copy("iris-v2", tmp_path)
    edit_manifest(bundle, plugins=[{"id": "acme-faults"}], splits={}, limits={"plugin_time_limit_s": 2},
                  metrics=[{"use": "acme.raises", "key": "raises"}, {"use": "acme.hangs", "key": "hangs"},
                           {"use": "acme.agreement", "key": "agreement"}])
    out = _wrap_with_faults(faults_site, bundle, tmp_path / "faults.zip")
    report = run_as_platform(out, IRIS_GOOD, tmp_path / "run")
    assert report.ok, report.result.message
    values = {c["key"]: c["value"] for c in report.columns}
    assert values["accuracy"] == pytest.approx(0.9555555555555556)
    assert values["agreement"] == values["accuracy"]
    assert values["raises"] is None and values["hangs"] is None
    failures = {f["component"]: f["message"] for f in runtime_report(report)["plugin_failures"]}
    assert "acme.raises always fails" in failures["acme.raises"]
    assert "timed out after 2 s" in failures["acme.hangs"]
    page = (scoring_output(report) / "detailed_results.html").read_text()
    assert "acme.raises always fails" in page and "timed out after 2 s" in page
    assert "acme-faults" in page  # provenance: the vendored plugin distribution


def test_required_plugin_failure_fails_the_submission_and_keeps_the_scores_aside(
        faults_site: Path, tmp_path: Path) -> None:
    bundle = bundle_copy("iris-v2", tmp_path)
    edit_manifest(bundle, plugins=[{"id": "acme-faults"}], splits={},
                  metrics=[{"use": "acme.raises", "key": "raises", "required": True}])
    out = _wrap_with_faults(faults_site, bundle, tmp_path / "required.zip")
    for platform in ("codabench", "ai4mediabench"):
        report = run_as_platform(out, IRIS_GOOD, tmp_path / platform, platform=platform)
        assert not report.ok
        assert "Could not find scores file" in report.result.message or "program_rc=1" in report.result.message
        kept = json.loads((scoring_output(report) / "aibench" / "withheld_scores.json").read_text())
        assert kept == {"accuracy": pytest.approx(0.9555555555555556)}
    assert "a required plugin failed" in stderr_of_scoring(report)


def test_failing_scoring_program_stays_a_failure_with_its_own_output(tmp_path: Path) -> None:
    bundle = bundle_copy("iris-v2", tmp_path)
    score = bundle / "scoring_program" / "score.py"
    score.write_text(score.read_text() + "\nraise SystemExit(3)\n")
    out = wrap(bundle, tmp_path / "failing.zip")
    report = run_as_platform(out, IRIS_GOOD, tmp_path / "run")
    assert not report.ok and "program_rc=3" in report.result.message
    output = scoring_output(report)
    assert sorted(p.name for p in output.iterdir()) == ["aibench", "scores.json"]
    assert not (output / "detailed_results.html").exists()
    assert json.loads((output / "scores.json").read_text()) == {"accuracy": pytest.approx(0.9555555555555556)}


def test_checks_refuse_a_bad_submission_before_the_original_runs(wrapped_iris: Path, tmp_path: Path) -> None:
    submission = tmp_path / "misnamed"
    submission.mkdir()
    shutil.copyfile(IRIS_GOOD / "predictions.csv", submission / "preds.csv")
    # a second CSV file: with one only, the scoring program would tell whether the manifest or the
    # submission misnamed it (issue 11, item 9; tests/evaluation/test_declared_files.py)
    shutil.copyfile(IRIS_GOOD / "predictions.csv", submission / "backup.csv")
    report = run_as_platform(wrapped_iris, submission, tmp_path / "run")
    assert not report.ok
    stderr = stderr_of_scoring(report)
    assert "refused before scoring by the bundle's checks" in stderr
    assert "Traceback" not in stderr  # the original scorer never started
    page = (scoring_output(report) / "detailed_results.html").read_text()
    assert "Submission check problems" in page and "predictions.csv" in page and "preds.csv" in page


# -- refusals ---------------------------------------------------------------------------

def test_wrap_refuses_an_already_wrapped_bundle(wrapped_iris: Path, tmp_path: Path) -> None:
    with pytest.raises(WrapRefused, match="was made by 'aibench wrap'"):
        wrap_bundle(wrapped_iris, tmp_path / "again.zip")
    assert not (tmp_path / "again.zip").exists()


def test_wrap_refuses_hidden_metrics_on_v1(tmp_path: Path) -> None:
    bundle = bundle_copy("wine-v1", tmp_path)
    document = json.loads((bundle / "aibench.json").read_text())
    document["metrics"][0]["hidden"] = True
    (bundle / "aibench.json").write_text(json.dumps(document))
    with pytest.raises(WrapRefused, match="a v1 column has no hidden field"):
        wrap_bundle(bundle, tmp_path / "out.zip")


def test_wrap_refuses_a_bundle_whose_manifest_has_errors_and_lists_them(tmp_path: Path) -> None:
    bundle = bundle_copy("iris-v2", tmp_path)
    # the column of split 'all' is the key itself: the original's 'accuracy' (issue 10: keys checked after the suffix)
    edit_manifest(bundle, metrics=[{"use": "aibench.balanced_acuracy", "key": "accuracy", "splits": ["all"]}])
    with pytest.raises(WrapRefused) as refused:
        wrap_bundle(bundle, tmp_path / "out.zip")
    assert any("balanced_acuracy" in r for r in refused.value.reasons)
    assert any("already a column" in r for r in refused.value.reasons)


def test_wrap_refuses_what_aibench_run_would_refuse_in_the_reference_data(tmp_path: Path) -> None:
    bundle = bundle_copy("iris-v2", tmp_path)
    (bundle / "reference_data" / "public_ids.txt").unlink()  # a split's ids_file the manifest names
    with pytest.raises(WrapRefused) as refused:
        wrap_bundle(bundle, tmp_path / "out.zip")
    assert any("public_ids.txt" in r and "Organiser" in r for r in refused.value.reasons), refused.value.reasons


def test_wrap_refuses_phases_sharing_a_scorer_with_different_plugin_settings(tmp_path: Path) -> None:
    bundle = bundle_copy("iris-v2", tmp_path)
    spec = yaml.safe_load((bundle / "competition.yaml").read_text())
    second = dict(spec["phases"][0], index=1, name="Final")
    spec["phases"].append(second)
    (bundle / "competition.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    edit_manifest(bundle, phases={"Final": {"metrics": [{"use": "aibench.mcc", "key": "final_mcc"}]}})
    with pytest.raises(WrapRefused, match="cannot tell the phases apart"):
        wrap_bundle(bundle, tmp_path / "out.zip")


def test_compiled_distributions_cannot_be_vendored(tmp_path: Path) -> None:
    with pytest.raises(VendorError, match="compiled code"):
        vendor(tmp_path / "lib", ["jsonschema-rs"])


def test_cli_wrap_json_lists_programs_and_columns(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "aibench_plugins", "wrap", str(Path(__file__).resolve().parents[2]
                             / "bundles" / "iris-v2"), "-o", str(tmp_path / "o.zip"), "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "wrapped" and data["programs"][0]["role"] == "scoring"
    assert [c["key"] for c in data["columns"]][:2] == ["balanced_accuracy", "balanced_accuracy_public"]


# -- merging scores ---------------------------------------------------------------------

@pytest.mark.parametrize("value", [0.5, 1e-05, 123456.75, -3.0, 2.5e-12])
def test_score_text_reads_back_exactly_in_yaml_json_and_float(value: float) -> None:
    text = score_text(value)
    assert yaml.safe_load(f"k: {text}")["k"] == value
    assert json.loads(text) == value and float(text) == value


@pytest.mark.parametrize("original", ["DER:0.0\n", "a: 1\nb:2\n", "k: [1, 2\n"], ids=["v1-only", "mixed", "broken"])
def test_merge_never_rewrites_scores_a_worker_cannot_read(tmp_path: Path, original: str) -> None:
    (tmp_path / "scores.txt").write_text(original)
    merge = merge_scores(tmp_path, {"extra": 0.5}, "v2")
    assert merge.error is not None and not merge.written
    assert (tmp_path / "scores.txt").read_text() == original


def test_merge_appends_without_changing_a_byte_of_the_original(tmp_path: Path) -> None:
    original = "accuracy: 0.75\r\nf1: 0.5"
    (tmp_path / "scores.txt").write_text(original, newline="")
    merge = merge_scores(tmp_path, {"extra": 0.25, "accuracy": 0.1, "bad": float("nan")}, "v1")
    assert merge.written == {"extra": 0.25}
    assert set(merge.refused) == {"accuracy", "bad"}
    assert (tmp_path / "scores.txt").read_bytes().startswith(original.encode())


# -- the bootstrap on other Pythons -----------------------------------------------------

def _pythons() -> list[str]:
    found = sorted(str(p) for p in Path("/root/.pyenv/versions").glob("*/bin/python") if p.is_file())
    return found or [sys.executable]


@pytest.mark.parametrize("python", _pythons(), ids=lambda p: Path(p).parents[1].name)
def test_bootstrap_runs_the_runtime_on_310_and_later_and_explains_older_pythons(
        wrapped_iris: Path, tmp_path: Path, python: str) -> None:
    shutil.unpack_archive(wrapped_iris, tmp_path / "bundle")
    program = tmp_path / "bundle" / "scoring_program"
    inputs, output = tmp_path / "input", tmp_path / "output"
    shutil.copytree(IRIS_GOOD, inputs / "res")
    shutil.copytree(tmp_path / "bundle" / "reference_data", inputs / "ref")
    output.mkdir()
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[0] * 100 + sys.version_info[1])"],
                             capture_output=True, text=True, check=True)
    only_yaml = tmp_path / "only-yaml"  # what the platform's image has, as far as another Python can import it
    only_yaml.mkdir()
    (only_yaml / "yaml").symlink_to(Path(yaml.__file__).parent)
    result = subprocess.run([python, str(program / "_aibench" / "run.py"), "score", str(inputs), str(output), "--",
                             sys.executable, str(program / "score.py"), str(inputs), str(output)],
                            capture_output=True, text=True, cwd=program, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": "" if python == sys.executable else str(only_yaml)})
    assert result.returncode == 0, result.stderr
    scores = json.loads((output / "scores.json").read_text())
    assert scores["accuracy"] == pytest.approx(0.9555555555555556)
    if int(version.stdout) < 310:
        assert "needs Python >= 3.10" in result.stderr and "keeps its original scores" in result.stderr
        assert list(scores) == ["accuracy"]
    else:
        assert "needs Python" not in result.stderr and "cannot start" not in result.stderr
        report = json.loads((output / "aibench" / "report.json").read_text())
        assert report["wrapped"]["runtime"]["python"].startswith(f"{int(version.stdout) // 100}.{int(version.stdout) % 100}")
        if python != sys.executable:  # numpy and pandas are this venv's, for its Python only
            assert any("the metrics need numpy and pandas" in f["message"] for f in report["plugin_failures"])


# -- metrics beside the original command ------------------------------------------------

def test_background_metrics_give_their_result_or_an_error_and_never_outlive_the_runtime() -> None:
    import time

    from aibench_plugins.runtime.background import Metrics

    done = Metrics(lambda: (["column"], []))
    assert done.result(30) == (["column"], []) and not done._process.is_alive()

    def fail() -> tuple[list[object], list[object]]:
        raise RuntimeError("reading failed")

    failed = Metrics(fail)
    assert failed.result(30) is None and "RuntimeError: reading failed" in str(failed.error)

    def hang() -> tuple[list[object], list[object]]:
        time.sleep(600)
        return [], []

    hung = Metrics(hang)
    assert hung.result(0.5) is None and "did not finish within 0.5 s" in str(hung.error)
    assert not hung._process.is_alive()
    cancelled = Metrics(hang)
    cancelled.cancel()
    assert not cancelled._process.is_alive()


def test_only_the_last_command_of_a_v1_command_list_is_wrapped(tmp_path: Path) -> None:
    import io

    bundle = bundle_copy("wine-v1", tmp_path)
    program = bundle / "scoring_program.zip"
    with zipfile.ZipFile(program) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    metadata = yaml.safe_load(files["metadata"])
    metadata["command"] = ["python3 -c pass", metadata["command"]]
    files["metadata"] = yaml.safe_dump(metadata).encode()
    with zipfile.ZipFile(program, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    report = wrap_bundle(bundle, tmp_path / "out.zip")
    assert report.programs[0].commands[0] == "python3 -c pass"
    assert report.programs[0].commands[1].startswith("python3 $program/_aibench/run.py score ")
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        wrapped = zipfile.ZipFile(io.BytesIO(archive.read("scoring_program.zip")))
        assert yaml.safe_load(wrapped.read("metadata"))["command"] == report.programs[0].commands
    run = run_as_platform(tmp_path / "out.zip", WINE_GOOD, tmp_path / "run", platform="v1")
    assert run.ok and all(c["value"] is not None for c in run.columns)


def test_a_zipped_bundle_wraps_like_its_folder(wrapped_iris: Path, tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "bundles" / "iris-v2"
    zipped = Path(shutil.make_archive(str(tmp_path / "iris"), "zip", source))
    out = wrap(zipped, tmp_path / "from-zip.zip")
    with zipfile.ZipFile(out) as left, zipfile.ZipFile(wrapped_iris) as right:
        assert sorted(left.namelist()) == sorted(right.namelist())
        assert all(left.read(n) == right.read(n) for n in left.namelist() if not n.endswith("/"))


def test_plugins_stop_within_the_phase_time_limit_and_the_original_scores_stand(
        faults_site: Path, tmp_path: Path) -> None:
    bundle = bundle_copy("iris-v2", tmp_path)
    spec = bundle / "competition.yaml"
    spec.write_text(spec.read_text().replace("execution_time_limit: 60", "execution_time_limit: 9"))
    edit_manifest(bundle, plugins=[{"id": "acme-faults"}], splits={}, limits={"plugin_time_limit_s": 120},
                  metrics=[{"use": "acme.hangs", "key": "hangs"}])
    out = _wrap_with_faults(faults_site, bundle, tmp_path / "slow.zip")
    for platform in ("ai4mediabench", "codabench"):  # AI4Media-Bench enforces the limit: it would fail the run
        report = run_as_platform(out, IRIS_GOOD, tmp_path / platform, platform=platform)
        assert report.ok, report.result.message
        assert {c["key"]: c["value"] for c in report.columns} == {"accuracy": pytest.approx(0.9555555556),
                                                                   "hangs": None}
        failures = runtime_report(report)["plugin_failures"]
        assert any("stay within the phase's time limit (9 s" in f["message"] for f in failures), failures
