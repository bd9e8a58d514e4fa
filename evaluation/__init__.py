"""Evaluation harness around the HEAR 2021 tools (heareval, hear-validator).

Run from the repository root as ``python -m evaluation <subcommand>``: ``tasks`` generates small
offline HEAR-format tasks, ``run`` drives heareval's own embedding and prediction runners,
``report`` turns their scores into tables and a plot joined with the published HEAR scores,
``demo`` does all of that for ``hear_byols.cvt`` and ``hear_byols.default``, and
``leaderboard`` reproduces the HEAR 2021 numbers over the real task folders (GPU machine).
The package ``hear_byols`` never imports this one.
"""
