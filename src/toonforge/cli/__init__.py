"""The ``toonforge`` command line (one module per command; see :mod:`toonforge.cli.main`).

Command-line vocabulary
-----------------------
Every command speaks the same words, so a user who knows one knows them all.
tests/test_cli_vocabulary.py walks every subcommand and fails when one drifts.

* ``-o/--output``: the one main thing a command writes (a file or a folder). Secondary outputs
  keep descriptive names (``--preview``, ``--cache``, ``--work``, ``--calibration-dir``); trainers
  write numbered run folders under ``--runs`` and, where they also write a style or model file
  at the end, that is ``-o/--output``.
* Inputs are positional where a command reads one kind of thing (``align PHOTOS``,
  ``export STYLE``, ``train-stylegan DATA``); with several kinds they are named flags
  (``--photos``, ``--styles``, ``--targets``, ``--model``, ``--refs``).
* ``--batch-size`` for images per step or per network call; ``--size`` for an image side in
  pixels; ``--n-blocks`` for residual block counts; ``--device``; ``--seed``.
* ``--quiet`` (no progress bar or summary) on every command that shows progress: every
  trainer (``train-*``), every command with an ``-o/--output``.
* ``--overwrite`` on every command with an ``-o/--output`` that is a file or a folder (not a
  parent of numbered runs): without it an existing output is refused or resumed into, with
  it toonforge replaces (or starts again in) an output it wrote itself, never a user's.
* Loss weights are ``--lambda-<name>`` in every trainer (``--lambda-cycle``,
  ``--lambda-identity``, ``--lambda-perceptual``...).
* Every option has help text, and ``--help`` shows its default (cli.vocabulary.HelpFormatter).

Renaming an option keeps the old spelling working as a hidden alias
(:func:`toonforge.cli.vocabulary.alias`, or :func:`~toonforge.cli.vocabulary.positional_input`
when a flag became positional), so scripts written against an older toonforge still run.
"""
