"""``aibench leaderboard``: the phase's leaderboard, analysed (host only; never vendored).

From the runs of one bundle and phase in the ledger, or a folder of result submissions
(:mod:`.sources`), each submission's predictions are read with the manifest's tables and aligned
on the reference ids (:mod:`.loading`) into per-case columns (:mod:`.cases`); the bootstrap of the
test cases, rank distributions, Kendall's tau, pairwise tests with Holm's correction and tiers
follow challengeR (:mod:`.stability`); organiser-declared ranking functions, Dynabench's Dynascore
among them (:mod:`.ranking`); one JSON document (:mod:`.analysis`,
``schemas/aibench-leaderboard.schema.json``) and one self-contained HTML page (:mod:`.page`).
See docs/leaderboard.md.
"""
