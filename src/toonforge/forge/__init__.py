"""The production line as Python: a style recipe (a small TOML file) run stage by stage.

A recipe names the data and, per stage, the options of the command that stage runs:

- ``align``: hash splits of the photos and the style images (held-out sets no stage trains
  on) and the aligned training crops;
- ``stage1`` (optional): a StyleGAN2 generator of the style images, whose samples the teacher
  adds to its style domain;
- ``teacher``: a stage-2 DCT-Net teacher in one or more phases, each continuing the last;
- ``pairs``: the teacher's photo/style pairs of every aligned training photo;
- ``student``: the small translator distilled from the pairs, written as a style folder;
- ``eval``: the held-out evaluation of the student beside its teacher (and other styles);
- ``card``: the student's card filled from that evaluation.

Every stage is resumable: its state lives in ``forge.json`` in the work folder, a finished stage
is skipped, a stage that was killed is redone (its trainers resume their own runs). The modules
here import neither PyTorch nor the training stack at import time; the stages import what they
run. See :func:`toonforge.forge.runner.run_recipe` and ``toonforge forge --help``.
"""

from __future__ import annotations

STAGES = ("align", "stage1", "teacher", "pairs", "student", "eval", "card")
