"""Evaluation harness around the HEAR 2021 tools (heareval, hear-validator), and the pretrain probe.

Run from the repository root as ``python -m evaluation <subcommand>``: ``tasks`` generates small
offline HEAR-format tasks, ``run`` drives heareval's own embedding and prediction runners,
``report`` turns their scores into tables and a plot joined with the published HEAR scores,
``demo`` does all of that for ``hear_byols.cvt``, ``hear_byols.default`` and
``hear_byols.default512``, ``leaderboard`` reproduces the HEAR 2021 numbers over the real task
folders (GPU machine), and ``pretrain-probe`` scores pretrained encoders with a linear probe.

Layout: ``engine.py`` (plan -> steps -> schedule -> ledger -> records, the same for every tool)
runs the steps a harness adapter in ``harnesses/`` plans (``heareval.py``, ``pretrain_probe.py``;
how to add one: harnesses/__init__.py). The package ``hear_byols`` never imports this one.
"""
