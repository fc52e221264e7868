"""toonforge forge: the shipped `sketch` recipe's line (DCT-Net teacher in two phases -> pairs ->
translator student -> eval -> card) at toy scale, end to end, resumable; bad recipes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from conftest import synthetic_face
from toonforge.cli.main import main
from toonforge.forge.recipe import load_recipe
from toonforge.forge.stages import check_options
from toonforge.io.outputs import MARKER
from toonforge.training.paired_data import split_names

pytestmark = pytest.mark.usefixtures("small_model_cpu")

SKETCH = Path(__file__).resolve().parents[1] / "examples" / "recipes" / "sketch.toml"

# The shape of examples/recipes/sketch.toml (phase a, then phase b with its loss weights, the
# small student), shrunk to tiny sizes and a few steps.
TOY = """
name = "toy-sketch"
[data]
photos = "photos"
styles = "styles"
heldout_photos = 0.25
heldout_styles = 0.25
[align]
photos = false
styles = false
[teacher.options]
size = 32
channels = 4
num-blocks = 1
d-channels = 4
batch-size = 2
gan-start = 1
workers = 0
val-fraction = 0
eval-every = 0
[[teacher.phases]]
steps = 2
options = { w-content = 2 }
[[teacher.phases]]
steps = 3
options = { w-content = 0.5, w-texture = 2.0, w-surface = 1.0 }
[pairs]
options = { batch-size = 4 }
[student]
steps = 2
[student.options]
tier = "tiny"
size = 16
batch-size = 2
workers = 0
val-fraction = 0
gan-start = 1
eval-every = 0
head-resolution = 64
full-resolution = 128
[eval]
compare = []
options = { size = 64, detector = "none", speed-photos = 0, sheet-rows = 2 }
[card]
"""

# A second line beside the first: its splits, teacher and pairs reused, a student grown from the
# first line's frozen student (`{work}` is the work folder). The student options follow from TOY.
GROWN = """
name = "toy-grown"
[align]
reuse = "{work}/../work"
[teacher]
reuse = "{work}/../work"
[pairs]
reuse = "{work}/../work"
[student]
steps = 1
start = "{work}/../work/student.pt"
start_as = "init"
"""


def _data(root: Path) -> None:
    for kind, n, offset in (("photos", 12, 0), ("styles", 8, 100)):
        (root / kind).mkdir()
        for i in range(n):
            img, _ = synthetic_face(48, seed=i + offset)
            if kind == "styles":
                img = (img // 64) * 64  # posterised "drawings"
            Image.fromarray(img).save(root / kind / f"{kind[0]}{i:02d}.png")


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1, err
    return err


def test_forge_runs_the_sketch_line_at_toy_scale_and_a_rerun_skips_it(tmp_path, capsys):
    _data(tmp_path)
    recipe = tmp_path / "toy.toml"
    recipe.write_text(TOY)
    work = tmp_path / "work"
    assert main(["forge", str(recipe), "-o", str(work), "--until", "teacher", "--quiet"]) == 0
    states = json.loads((work / "forge.json").read_text())["stages"]
    assert {k: v["state"] for k, v in states.items()} == {"align": "done", "teacher": "done"}
    # The held-out photos are the seed-0 hash split, as links to the user's files (never copies).
    held = sorted(p.stem for p in (work / "data" / "photos-heldout").iterdir())
    assert held == split_names([f"p{i:02d}" for i in range(12)], 0.25, seed=0)[1]
    assert all(p.is_symlink() for p in (work / "data" / "photos-heldout").iterdir())
    # Phase 2 continued phase 1's frozen checkpoint in its own run folder, to its own steps.
    phase2 = json.loads((work / "teacher/phase-2/00000-dctnet/config.json").read_text())
    assert (work / "teacher/phase-1.pt").is_file() and (work / "teacher/phase-2.pt").is_file()
    assert phase2["task"]["w_texture"] == 2.0 and phase2["task"]["w_content"] == 0.5
    steps = [json.loads(line)["step"] for line in (work / "teacher/phase-2/00000-dctnet/stats.jsonl").open()]
    assert max(steps) == 3

    assert main(["forge", str(recipe), "-o", str(work), "--quiet"]) == 0
    trained = set(map(str, (work / "data" / "photos-train-src").iterdir()))
    assert sorted(p.name for p in (work / "pairs" / "photo").iterdir()) == \
        sorted(Path(p).stem + ".png" for p in trained)
    style = work / "style-toy-sketch"
    assert json.loads((style / "config.json").read_text())["name"] == "toy-sketch"
    assert (style / "head.onnx").is_file()
    report = json.loads((work / "eval" / "report.json").read_text())
    names = [r["name"] for r in report["rows"]]
    assert names[1:] == ["style-toy-sketch", "style-teacher"] and report["photo_count"] == len(held)
    assert all(r["fd"] > 0 for r in report["rows"])
    card = (style / "card.md").read_text()
    assert "toonforge:metrics:start" in card and "| style-toy-sketch |" in card

    # A rerun finds every stage done and runs nothing (no file is touched).
    stamps = {p: p.stat().st_mtime_ns for p in work.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["forge", str(recipe), "-o", str(work)]) == 0
    out = capsys.readouterr().out
    assert out.count("done already, skipped") == 6 and "0 stage(s) run, 6 skipped" in out
    assert {p: p.stat().st_mtime_ns for p in work.rglob("*") if p.is_file()} == stamps

    # A student killed while writing its style folder: the stage is found "running" and redone
    # (its run resumed at its last step, the half-written folder replaced); the stages before it are
    # not touched, and the records of those after it are dropped, so the next call redoes them.
    manifest = json.loads((work / "forge.json").read_text())
    manifest["stages"]["student"]["state"] = "running"
    (work / "forge.json").write_text(json.dumps(manifest))
    (style / "config.json").unlink()
    capsys.readouterr()
    assert main(["forge", str(recipe), "-o", str(work), "--until", "student"]) == 0
    out = capsys.readouterr().out
    assert "student: was stopped before it ended; running it again" in out and "1 stage(s) run, 3 skipped" in out
    assert json.loads((style / "config.json").read_text())["name"] == "toy-sketch"
    assert len(list((work / "student").iterdir())) == 1  # the same run, resumed
    assert (work / "teacher/phase-2/00000-dctnet/generator.safetensors").stat().st_mtime_ns == \
        stamps[work / "teacher/phase-2/00000-dctnet/generator.safetensors"]
    assert list(json.loads((work / "forge.json").read_text())["stages"]) == ["align", "pairs", "student",
                                                                             "teacher"]

    # A recipe run beside it takes its splits, teacher and pairs and grows a student from its frozen one.
    assert (work / "student.pt").is_file()
    grown = tmp_path / "grown.toml"
    grown.write_text(GROWN + TOY[TOY.index("[student.options]"):TOY.index("[eval]")])
    assert main(["forge", str(grown), "-o", str(tmp_path / "grown"), "--quiet"]) == 0
    made = sorted(p.name for p in (tmp_path / "grown").iterdir() if p.name != MARKER)  # the safety marker aside
    assert made == ["forge.json", "student", "student.pt", "style-toy-grown"]
    conf = json.loads(next((tmp_path / "grown" / "student").glob("*-translator/config.json")).read_text())
    assert str(work / "student.pt") in json.dumps(conf)  # started from the first line's student

    # A changed recipe is refused in the old work folder: nothing is mixed or replaced.
    recipe.write_text(TOY.replace("steps = 3", "steps = 4"))
    capsys.readouterr()
    assert main(["forge", str(recipe), "-o", str(work), "--quiet"]) == 2
    assert "stage teacher" in _one_error(capsys)


def test_stage1_feeds_the_teacher_samples_of_its_generator(tmp_path):
    _data(tmp_path)
    recipe = tmp_path / "s1.toml"
    stage1 = ("[stage1]\nsteps = 2\n[stage1.options]\nsize = 16\nbatch-size = 2\nstyle-dim = 16\nn-mlp = 1\n"
              "channel-max = 16\nchannel-multiplier = 1\neval-every = 0\nworkers = 0\n")
    text = TOY.replace("[teacher.options]", stage1 + "[teacher.options]\ncalibration-samples = 4")
    recipe.write_text(text.replace("[[teacher.phases]]\nsteps = 3", "[[teacher.phases]]\nsteps = 3\nignore = 1"))
    assert main(["forge", str(recipe), "-o", str(tmp_path / "w"), "--until", "teacher", "--quiet"]) == 2  # (typo)
    recipe.write_text(text)
    assert main(["forge", str(recipe), "-o", str(tmp_path / "w"), "--until", "teacher", "--quiet"]) == 0
    states = json.loads((tmp_path / "w" / "forge.json").read_text())["stages"]
    assert list(states) == ["align", "stage1", "teacher"]
    generator = tmp_path / "w" / states["stage1"]["outputs"][0]
    assert generator.name == "last.safetensors" and generator.is_file()
    conf = json.loads((tmp_path / "w/teacher/phase-1/00000-dctnet/config.json").read_text())
    assert str(generator) in json.dumps(conf)  # the teacher's style domain has the stage-1 samples
    assert len(list((tmp_path / "w/teacher/phase-1/calibration").glob("*/*.png"))) == 4


def test_a_teacher_cut_short_stops_the_line_and_a_rerun_continues_its_run(tmp_path, capsys):
    _data(tmp_path)
    recipe, work = tmp_path / "r.toml", tmp_path / "w"
    recipe.write_text(TOY.replace("[teacher.options]", "[teacher]\nminutes = 0\n[teacher.options]"))
    assert main(["forge", str(recipe), "-o", str(work), "--until", "teacher", "--quiet"]) == 3
    assert "stopped before step 2; rerun the recipe to continue it" in _one_error(capsys)
    assert json.loads((work / "forge.json").read_text())["stages"]["teacher"]["state"] == "running"
    assert not (work / "teacher" / "phase-1.pt").exists()  # frozen only once the phase is complete
    recipe.write_text(TOY)  # the time limit lifted
    assert main(["forge", str(recipe), "-o", str(work), "--until", "teacher", "--quiet"]) == 0
    assert [p.name for p in (work / "teacher" / "phase-1").glob("*-dctnet")] == ["00000-dctnet"]  # continued
    assert json.loads((work / "forge.json").read_text())["stages"]["teacher"]["state"] == "done"


@pytest.mark.parametrize("change, words", [
    (("name = \"toy-sketch\"", "name = \"a/b\""), "name"),
    (("[card]", "[card]\nbogus = 1"), "unknown keys bogus"),
    (("steps = 2\noptions = { w-content = 2 }", "steps = 5\noptions = { w-content = 2 }"), "growing steps"),
    (("options = { batch-size = 4 }", "options = { out = \"x\" }"), "set by the line itself"),
    (("photos = \"photos\"", "photos = \"nowhere\""), "folder not found"),
    (("[pairs]", "[pairs"), "not valid TOML"),
    (("[eval]", "[evaluation]"), "unknown keys or tables"),
])
def test_a_bad_recipe_is_one_error_line(tmp_path, capsys, change, words):
    _data(tmp_path)
    recipe = tmp_path / "bad.toml"
    recipe.write_text(TOY.replace(*change))
    assert main(["forge", str(recipe), "-o", str(tmp_path / "work")]) == 2
    assert words in _one_error(capsys)
    assert not (tmp_path / "work").exists()


def test_a_bad_option_and_a_foreign_work_folder_are_one_error_line(tmp_path, capsys):
    _data(tmp_path)
    recipe = tmp_path / "r.toml"
    recipe.write_text(TOY.replace("workers = 0\nval", "wrokers = 0\nval"))
    assert main(["forge", str(recipe), "-o", str(tmp_path / "w"), "--quiet"]) == 2
    assert "[teacher] options: toonforge train-dctnet" in _one_error(capsys)
    assert not (tmp_path / "w").exists()  # checked before any stage ran
    recipe.write_text(TOY.replace('tier = "tiny"', 'tier = "huge"'))
    assert main(["forge", str(recipe), "-o", str(tmp_path / "w"), "--quiet"]) == 2
    assert "[student] options" in _one_error(capsys)
    recipe.write_text(TOY)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("a user's file")
    assert main(["forge", str(recipe), "-o", str(mine)]) == 2
    assert "not a forge work folder" in _one_error(capsys) and (mine / "keep.txt").read_text() == "a user's file"
    assert main(["forge", str(tmp_path / "missing.toml")]) == 2
    _one_error(capsys)
    grown = tmp_path / "grown.toml"  # a line started beside a folder that is not there yet
    grown.write_text(GROWN + TOY[TOY.index("[student.options]"):TOY.index("[eval]")])
    assert main(["forge", str(grown), "-o", str(tmp_path / "grown")]) == 2
    assert "[align] reuse:" in _one_error(capsys) and not (tmp_path / "grown").exists()


def test_the_shipped_sketch_recipe_is_the_cartoon_lines_first_style():
    from toonforge.forge.recipe import tomllib

    raw = tomllib.loads(SKETCH.read_text())
    # examples/cartoon_style.sh's defaults for `sketch`: phases a and b, then the small student.
    assert [p["steps"] for p in raw["teacher"]["phases"]] == [1400, 3300]
    assert raw["teacher"]["phases"][1]["options"]["w-content"] == 0.5
    assert raw["student"]["steps"] == 800 and raw["student"]["options"]["tier"] == "small"
    assert (raw["data"]["heldout_photos"], raw["data"]["heldout_styles"]) == (0.05, 0.12)
    if not (SKETCH.parent / raw["data"]["photos"][0]).is_dir():
        pytest.skip("the recipe's data folders are absent on this machine: checked its text only")
    recipe = load_recipe(SKETCH)
    assert recipe.stages() == ["align", "teacher", "pairs", "student", "eval", "card"]
    check_options(recipe)


def test_the_cartoon_and_anime_line_recipes_chain_and_their_options_parse():
    import re

    recipes = {p.stem: p for p in SKETCH.parent.glob("*.toml")}
    assert {"sketch", "colour-sketch", "flat-sketch", "cartoon-small", "cartoon"} <= set(recipes)
    for stem in ("colour-sketch", "flat-sketch", "cartoon-small", "cartoon", "anime"):
        recipe = load_recipe(recipes[stem])  # these reuse another folder's data: no data needed here
        check_options(recipe)
        # Every `{work}/../X` names a recipe of the line (run into a sibling folder named after it).
        for other in re.findall(r"\{work\}/\.\./([\w-]+)", recipes[stem].read_text()):
            assert other in recipes and other != stem
    grown = load_recipe(recipes["cartoon"]).tables["student"]
    assert (grown["start_as"], grown["options"]["tier"]) == ("init", "small-hd")
    from toonforge.forge.recipe import tomllib

    anime = tomllib.loads(recipes["anime-small"].read_text())  # examples/anime_style.sh's teacher phases
    assert [p["steps"] for p in anime["teacher"]["phases"]] == [1862, 2382, 3001]
    assert anime["align"]["styles"] is False and anime["student"]["options"]["lr-decay-steps"] == 1400
