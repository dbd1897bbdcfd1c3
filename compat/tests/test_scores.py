"""Scores parsing and leaderboard mapping per platform (codalab-contract.md §4.9, §5.9, §7, §8, §11, §12).

Each test names the section of the note whose rule it checks.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from codalab_worker_compat._bundle import Column
from codalab_worker_compat._scores import ScorePlatform, compare_lines, map_to_columns, read_scores

V2: list[ScorePlatform] = ["codabench", "ai4mediabench"]
ALL: list[ScorePlatform] = ["v1", *V2]


def out(tmp_path: Path, **files: str | bytes) -> Path:
    """An output folder holding ``files`` (``scores_txt=`` becomes ``scores.txt``)."""
    for name, content in files.items():
        target = tmp_path / name.replace("_", ".")
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    return tmp_path


def cols(*keys: str) -> list[Column]:
    return [Column(key=key, title=key) for key in keys]


# --- v1: scores.txt split on ":" (§4.9) ------------------------------------------------------

def test_v1_key_value_without_space(tmp_path: Path) -> None:
    """§4.9 / §8.1: `DER:0.0` and `F1: 0.5` both work on v1."""
    result = read_scores(out(tmp_path, scores_txt="DER:0.0\nF1: 0.5\n"), "v1")
    assert (result.outcome, result.file, result.scores) == ("ok", "scores.txt", {"DER": 0.0, "F1": 0.5})


@pytest.mark.parametrize("platform", V2)
def test_v2_key_value_without_space_gives_no_score(tmp_path: Path, platform: ScorePlatform) -> None:
    """§5.9 / §8.1: on v2, YAML reads `DER:0.0` as the string 'DER:0.0', so the leaderboard shows n/a."""
    result = read_scores(out(tmp_path, scores_txt="DER:0.0\n"), platform)
    assert (result.outcome, result.parsed, result.scores) == ("no_scores", "DER:0.0", {})
    assert "AttributeError" in (result.error or "")
    row = map_to_columns(result, cols("DER"), platform)
    assert (row.outcome, row.values) == ("no_scores", {"DER": None})


def test_v1_crlf_works(tmp_path: Path) -> None:
    """§4.9: CRLF works (the site reads in Python 3 text mode, so a CRLF blank line is just empty)."""
    result = read_scores(out(tmp_path, scores_txt=b"DER: 0.25\r\n\r\nF1:0.5\r\n"), "v1")
    assert (result.outcome, result.scores) == ("ok", {"DER": 0.25, "F1": 0.5})


def test_v1_empty_lines_are_skipped(tmp_path: Path) -> None:
    """§4.9: only non-empty lines are split."""
    assert read_scores(out(tmp_path, scores_txt="\n\nDER: 1\n\n"), "v1").scores == {"DER": 1.0}


@pytest.mark.parametrize("line", ["t: 12:30", "just text", "   "])
def test_v1_line_not_cut_in_two_fails(tmp_path: Path, line: str) -> None:
    """§4.9: two colons, no colon, or a whitespace-only line raise ValueError and fail the submission."""
    result = read_scores(out(tmp_path, scores_txt=f"DER: 1\n{line}\n"), "v1")
    assert result.outcome == "failed" and result.scores == {} and "ValueError" in (result.error or "")


def test_v2_reads_sexagesimal_and_whitespace_lines(tmp_path: Path) -> None:
    """§8.3: v2 YAML reads `t: 12:30` as 750 and ignores a whitespace-only line."""
    result = read_scores(out(tmp_path, scores_txt="t: 12:30\n   \nDER: 1\n"), "codabench")
    assert (result.outcome, result.scores) == ("ok", {"t": 750, "DER": 1})


@pytest.mark.parametrize("value", ["true", ".nan", "abc"])
def test_v1_non_numeric_value_fails_only_for_a_column(tmp_path: Path, value: str) -> None:
    """§4.9: float() refuses `true`/`.nan`; the lookup comes first, so an undeclared key is just skipped."""
    result = read_scores(out(tmp_path, scores_txt=f"DER: 0.5\nnote: {value}\n"), "v1")
    assert result.outcome == "ok" and result.scores["note"] == f" {value}"
    assert map_to_columns(result, cols("DER"), "v1").values == {"DER": Decimal("0.5")}
    row = map_to_columns(result, cols("DER", "note"), "v1")
    assert (row.outcome, row.values) == ("failed", {"DER": None, "note": None})


def test_v1_nan_passes_float_but_the_database_refuses_it(tmp_path: Path) -> None:
    """§4.9 / §8.15: `nan` passes float(), the DB decimal refuses it (#1669): the submission fails."""
    result = read_scores(out(tmp_path, scores_txt="DER: nan\n"), "v1")
    assert result.outcome == "ok" and result.scores["DER"] != result.scores["DER"]
    row = map_to_columns(result, cols("DER"), "v1")
    assert row.outcome == "failed" and "not finite" in (row.error or "")


def test_v1_duplicate_column_key_fails(tmp_path: Path) -> None:
    """§4.9 [unverified, not in the note]: a second score for a column breaks unique (result, scoredef)."""
    result = read_scores(out(tmp_path, scores_txt="DER: 1\nDER: 2\nx: 1\nx: 2\n"), "v1")
    assert result.duplicates == ["DER", "x"]
    assert map_to_columns(result, cols("DER"), "v1").outcome == "failed"
    assert map_to_columns(result, cols("F1"), "v1").outcome == "ok"


def test_v2_duplicate_key_last_wins(tmp_path: Path) -> None:
    """§5.9: YAML keeps the last value of a repeated key."""
    result = read_scores(out(tmp_path, scores_txt="DER: 1\nDER: 2\n"), "codabench")
    assert result.scores == {"DER": 2} and result.duplicates == ["DER"]


# --- v2: scores.json first, else scores.txt as YAML (§5.9) -----------------------------------

@pytest.mark.parametrize("platform", V2)
def test_v2_mixed_style_scores_txt(tmp_path: Path, platform: ScorePlatform) -> None:
    """§8.2: `GPA: x` then `Grit:y` is a YAML ScannerError on v2 (no scores) and fine on v1."""
    folder = out(tmp_path, scores_txt="GPA: 0.25\nGrit:0.5\n")
    result = read_scores(folder, platform)
    assert result.outcome == "no_scores" and "could not find expected ':' at line 2" in (result.error or "")
    assert read_scores(folder, "v1").scores == {"GPA": 0.25, "Grit": 0.5}


@pytest.mark.parametrize("platform", V2)
def test_v2_scores_json_takes_precedence(tmp_path: Path, platform: ScorePlatform) -> None:
    """§5.9: scores.json is read first and scores.txt is then ignored; v1 reads only scores.txt (§4.9)."""
    folder = out(tmp_path, scores_json='{"DER": 0.1}', scores_txt="DER: 0.9\n")
    result = read_scores(folder, platform)
    assert (result.file, result.scores) == ("scores.json", {"DER": 0.1})
    assert any("scores.txt is ignored" in w for w in result.warnings)
    assert read_scores(folder, "v1").scores == {"DER": 0.9}


@pytest.mark.parametrize("platform", ALL)
def test_missing_scores_file_fails(tmp_path: Path, platform: ScorePlatform) -> None:
    """§4.9, §5.9: no scores file fails the submission; v1 does not look at scores.json."""
    folder = out(tmp_path, scores_json='{"DER": 0.1}') if platform == "v1" else tmp_path
    result = read_scores(folder, platform)
    assert (result.outcome, result.file) == ("failed", None)


def test_v2_bad_json_fails(tmp_path: Path) -> None:
    """§5.9: a JSON decode error raises SubmissionException: Failed."""
    result = read_scores(out(tmp_path, scores_json='{"DER": 0.1,}'), "codabench")
    assert result.outcome == "failed" and "Could not decode scores json" in (result.error or "")


def test_v2_non_mapping_json_gives_no_score(tmp_path: Path) -> None:
    """§5.9: parsed scores that are not a dict make the site raise AttributeError: n/a."""
    assert read_scores(out(tmp_path, scores_json="[0.5]"), "codabench").outcome == "no_scores"


@pytest.mark.parametrize(("platform", "words"), [("codabench", "InvalidJSONError"), ("ai4mediabench", "400")])
def test_v2_nan_anywhere_gives_no_score(tmp_path: Path, platform: ScorePlatform, words: str) -> None:
    """§5.9 / §12: NaN, even in an undeclared nested key, stops the whole POST, in each version's way."""
    result = read_scores(out(tmp_path, scores_json='{"acc": 0.5, "extra": {"err": NaN}}'), platform)
    assert result.outcome == "no_scores" and words in (result.error or "")
    assert map_to_columns(result, cols("acc"), platform).values == {"acc": None}


def test_v2_yaml_nan_gives_no_score(tmp_path: Path) -> None:
    """§5.9 / §8.15: `.nan` in scores.txt is a float NaN too."""
    assert read_scores(out(tmp_path, scores_txt="acc: .nan\n"), "codabench").outcome == "no_scores"


def test_v2_nan_string_is_refused_by_the_column(tmp_path: Path) -> None:
    """§11 [unverified]: YAML `nan` is the string 'nan'; chosen: refused, since scores must be finite (§12)."""
    result = read_scores(out(tmp_path, scores_txt="acc: nan\n"), "codabench")
    assert result.outcome == "ok" and result.scores == {"acc": "nan"}
    assert map_to_columns(result, cols("acc"), "codabench").outcome == "no_scores"


@pytest.mark.parametrize(("exit_code", "platform", "outcome"),
                         [(3, "v1", "failed"), (3, "codabench", "failed"), (3, "ai4mediabench", "ok")])
def test_scorer_exit_code(tmp_path: Path, exit_code: int, platform: ScorePlatform, outcome: str) -> None:
    """§4.10, §5.10, §12: a non-zero scorer exit fails v1 and codabench; ai4mediabench does not check it."""
    result = read_scores(out(tmp_path, scores_json='{"a": 1}', scores_txt="a: 1\n"), platform,
                         scorer_exit_code=exit_code)
    assert result.outcome == outcome


# --- mapping scores to leaderboard columns (§4.9, §5.9, §3.6, §8.16) ----------------------------

@pytest.mark.parametrize("platform", ALL)
def test_undeclared_keys_are_ignored(tmp_path: Path, platform: ScorePlatform) -> None:
    """§1.6, §5.9: keys that are not column keys are ignored, nested values included."""
    files = {"scores_txt": "acc: 0.5\nDuration: 3\n"} if platform == "v1" else \
        {"scores_json": '{"acc": 0.5, "Duration": 3, "all_costs": {"a": 1}}'}
    row = map_to_columns(read_scores(out(tmp_path, **files), platform), cols("acc"), platform)
    assert (row.outcome, row.values) == ("ok", {"acc": Decimal("0.5000000000")})
    assert row.ignored == (["Duration"] if platform == "v1" else ["Duration", "all_costs"])


@pytest.mark.parametrize("platform", ALL)
def test_missing_column_is_na(platform: ScorePlatform) -> None:
    """§5.9: a declared column without a score stays n/a."""
    row = map_to_columns({"acc": 0.5}, cols("acc", "f1"), platform)
    assert row.values == {"acc": Decimal("0.5"), "f1": None} and "column 'f1' has no score: n/a" in row.warnings


def test_key_of_37_characters(tmp_path: Path) -> None:
    """§3.6 / §8.16: a v2 column key is at most 36 characters; longer ones make the site reject the bundle."""
    key37, key36 = "k" * 37, "k" * 36
    assert map_to_columns({key37: 1}, cols(key37), "codabench").outcome == "invalid_columns"
    assert map_to_columns({key36: 1}, cols(key36), "codabench").values == {key36: Decimal(1)}
    assert map_to_columns({key37: 1}, cols(key37), "v1").values == {key37: Decimal(1)}
    assert map_to_columns({key37: 1}, cols(key36), "codabench").ignored == [key37]


@pytest.mark.parametrize("platform", ALL)
def test_value_beyond_decimal_20_10(platform: ScorePlatform) -> None:
    """§1.6 / §5.9: Decimal(20,10) holds at most 10 integer digits and rounds to 10 places."""
    ok = map_to_columns({"a": 9999999999.5, "b": "0.123456789012345"}, cols("a", "b"), platform)
    assert ok.values == {"a": Decimal("9999999999.5000000000"), "b": Decimal("0.1234567890")}
    row = map_to_columns({"a": 1e10}, cols("a"), platform)
    assert row.outcome == ("failed" if platform == "v1" else "no_scores") and "Decimal(20,10)" in (row.error or "")


@pytest.mark.parametrize("platform", V2)
def test_v2_non_numeric_values(platform: ScorePlatform) -> None:
    """§5.9 / §8.3: the site turns values into Decimal: numeric strings pass, text fails the upload,
    a YAML boolean is stored as 1 [unverified]."""
    assert map_to_columns({"a": "1e-3"}, cols("a"), platform).values == {"a": Decimal("0.0010000000")}
    assert map_to_columns({"a": "abc"}, cols("a"), platform).outcome == "no_scores"
    assert map_to_columns({"a": None}, cols("a"), platform).outcome == "no_scores"
    row = map_to_columns({"a": True}, cols("a"), platform)
    assert row.values == {"a": Decimal(1)} and any("boolean" in w for w in row.warnings)


def test_v2_yaml_boolean_key_is_sent_as_true(tmp_path: Path) -> None:
    """§5.9: YAML 1.1 reads the key `on` as True; the JSON POST sends it as 'true', which matches no column."""
    result = read_scores(out(tmp_path, scores_txt="on: 1\n"), "codabench")
    assert result.scores == {"true": 1}
    assert map_to_columns(result, cols("on"), "codabench").values == {"on": None}


def test_key_matching_is_exact(tmp_path: Path) -> None:
    """§4.9 [unverified: v1 collation]: keys match exactly; a case-only mismatch is ignored with a warning."""
    row = map_to_columns(read_scores(out(tmp_path, scores_txt="GPA: 0.5\n"), "v1"), cols("gpa"), "v1")
    assert row.values == {"gpa": None} and any("only in case" in w for w in row.warnings)


def test_columns_may_be_any_object_with_a_key() -> None:
    """§3.6: only `.key` is used."""
    row = map_to_columns({"acc": 1}, [SimpleNamespace(key="acc")], "codabench")
    assert row.values == {"acc": Decimal(1)}


def test_unknown_platform_is_refused(tmp_path: Path) -> None:
    """§7, §12: the platforms are v1, codabench and ai4mediabench."""
    with pytest.raises(ValueError, match="unknown platform"):
        read_scores(tmp_path, "v2")  # type: ignore[arg-type]


# --- strict mode: lines that v1 and v2 read differently (§8.3) --------------------------------

def test_compare_lines_reports_each_difference() -> None:
    """§8.3: the runner should warn on any line the two parsers read differently."""
    text = "acc: 0.5\nDER:0.0\n"
    assert [(d.line, d.v1) for d in compare_lines(text)] == [(1, "acc = 0.5"), (2, "DER = 0.0")]
    assert all("no score" in d.v2 for d in compare_lines(text))
    text = "acc: 0.5\nt: 12:30\n  \nx: 010\n# note\ny: 1e-3\nz: 0.5 # c\nall:\n  n: 1\n"
    found = {d.line: (d.v1, d.v2) for d in compare_lines(text)}
    assert sorted(found) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert found[2][1] == "t = 750" and "ValueError" in found[2][0]
    assert found[4] == ("x = 10.0", "x = 8")
    assert found[6] == ("y = 0.001", "y = '1e-3' (text, not a number)")
    assert found[8] == ("all = '' (text, not a number)", "all = {'n': 1}")
    assert found[9] == ("n = 1.0", "part of the value of 'all' (line 8)")


def test_compare_lines_mixed_style_and_duplicates() -> None:
    """§8.2: a YAML error makes every v2 line score-less; §4.9/§5.9: duplicates differ too."""
    found = compare_lines("GPA: 0.5\nGrit:0.3\n")
    assert [d.line for d in found] == [1, 2] and all("not YAML" in d.v2 for d in found)
    found = compare_lines("a: 1\na: 2\n")
    assert [(d.line, d.v2) for d in found] == [(1, "'a', overridden by line 2 (last value wins)"), (2, "a = 2")]
    assert compare_lines("a: 1\n\nb: 0.25\r\n") == []


def test_read_scores_strict_adds_line_warnings(tmp_path: Path) -> None:
    """§8.3: strict mode attaches the line differences to the result's warnings."""
    result = read_scores(out(tmp_path, scores_txt="a: 1\nDER:0.0\n"), "v1", strict=True)
    assert result.outcome == "ok" and any(w.startswith("line 1: v1 reads a = 1.0; v2 reads no score") for w in result.warnings)


def test_v2_computed_column_is_the_operation_over_stored_scores() -> None:
    """§3.6: Submission.calculate_scores fills a computation column (avg/sum/min/max over the
    listed column indexes) after the upload, replacing what the scorer wrote under its key."""
    from codalab_worker_compat import Column

    columns = [Column("a", "A", index=0), Column("b", "B", index=1), Column("c", "C", index=2),
               Column("mean", "Mean", index=3, computation="avg", computation_indexes=(0, 1, 2)),
               Column("best", "Best", index=4, computation="max", computation_indexes=(0, 1))]
    row = map_to_columns({"a": 0.5, "b": 0.25, "mean": 99.0}, columns, "codabench")
    assert row.values["mean"] == Decimal("0.3750000000")  # c has no score: the mean of a and b
    assert row.values["best"] == Decimal("0.5000000000")


def test_v1_computed_column_is_not_computed_for_one_run() -> None:
    """§2.5: v1 computed columns rank submissions against each other."""
    from codalab_worker_compat import Column

    columns = [Column("a", "A", index=1), Column("avg_rank", "Rank", index=2, computation="Avg")]
    row = map_to_columns({"a": 0.5}, columns, "v1")
    assert row.values["avg_rank"] is None
    assert any("ranks across submissions" in w for w in row.warnings)


def test_compare_lines_counts_lines_as_split_does_with_unicode_separators() -> None:
    """Issue 9 item 13: U+2028 is a YAML line break, not a split('\\n') one; this raised IndexError."""
    [only] = compare_lines("\u2028a: \u2028")
    assert (only.line, only.v2) == (1, "a = None")
    [difference] = compare_lines("a: 1\u2028b: 2\nc: 3\n")
    assert difference.line == 1 and difference.v1.startswith("split(':') gives 3 part(s)")


@pytest.mark.parametrize(("name", "text", "error"), [
    ("scores.json", '{"a": ' + "1" * 4400 + "}", "holds a value json.load refuses"),
    ("scores.json", "[" * 100_000 + "]" * 100_000, "nests deeper than Python's recursion limit"),
    ("scores.txt", "a: " + "1" * 4400, "a value cannot be built: ValueError: Exceeds the limit"),
    ("scores.txt", "[" * 100_000 + "]" * 100_000, "the YAML nests deeper than Python's recursion limit"),
], ids=["json-digits", "json-nesting", "txt-digits", "txt-nesting"])
def test_scores_beyond_the_parsers_limits_give_an_outcome(tmp_path: Path, name: str, text: str, error: str) -> None:
    (tmp_path / name).write_text(text)
    result = read_scores(tmp_path, "codabench", strict=True)
    assert result.outcome in ("failed", "no_scores") and error in str(result.error)


@pytest.mark.parametrize("platform", ["v1", "codabench"])
@pytest.mark.parametrize("name", ["scores.txt", "scores.json"])
def test_a_scores_file_that_is_a_folder_fails_the_run_in_words(platform: str, name: str, tmp_path: Path) -> None:
    (tmp_path / name).mkdir()
    result = read_scores(tmp_path, platform)  # type: ignore[arg-type]
    assert result.outcome == "failed"
    if platform != "v1" or name == "scores.txt":
        assert result.error is not None and "is a folder, not a file" in result.error
