"""Named manifests come from the package (importlib.resources), from $BERTBENCH_MANIFESTS folders, or by path."""

import shutil
from pathlib import Path

import pytest

from bertbench.errors import InvalidArchitecture, InvalidRecipe, InvalidSearchSpace
from bertbench.manifest_files import known, packaged_dir
from bertbench.space import SearchSpace
from bertbench.space.grids import load_grid
from bertbench.training.recipe import load_recipe


def test_the_package_ships_its_manifests_and_launch_scripts():
    import bertbench

    root = Path(bertbench.__file__).parent
    assert packaged_dir() == root / "manifests"
    assert {"tiny", "paper-2023"} <= set(known("grids")) and {"tiny", "mlm", "paper-2023"} <= set(known("recipes"))
    assert known("spaces") == ["nas-bench-bert-2023"]
    assert SearchSpace.named("nas-bench-bert-2023").size() == 10_621_440
    assert (root / "training" / "launch" / "slurm_array.sh").exists()
    # the wheel gets them as package data
    text = (root.parent / "pyproject.toml").read_text() if (root.parent / "pyproject.toml").exists() else ""
    if text:
        assert '"manifests/**/*"' in text and '"training/launch/*.sh"' in text


def test_a_user_folder_adds_manifests_and_paths_work(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    (mine / "grids").mkdir(parents=True)
    (mine / "recipes").mkdir()
    shutil.copy(packaged_dir() / "grids" / "tiny.yaml", mine / "grids" / "my-grid.yaml")
    shutil.copy(packaged_dir() / "recipes" / "tiny.yaml", mine / "recipes" / "my-recipe.yaml")
    with pytest.raises(InvalidArchitecture, match="grid 'my-grid' not found; known grids: .*'tiny'"):
        load_grid("my-grid")
    monkeypatch.setenv("BERTBENCH_MANIFESTS", str(mine))
    assert len(load_grid("my-grid").architectures) == len(load_grid("tiny").architectures)
    assert load_recipe("my-recipe").pretrain.steps == load_recipe("tiny").pretrain.steps
    assert "my-grid" in known("grids") and "tiny" in known("grids")
    assert load_grid(mine / "grids" / "my-grid.yaml").name == "tiny"
    with pytest.raises(InvalidRecipe, match="recipe 'nope' not found; known recipes: .*'my-recipe'"):
        load_recipe("nope")
    with pytest.raises(InvalidSearchSpace, match="search space 'nope' not found"):
        SearchSpace.named("nope")
    with pytest.raises(InvalidRecipe, match="not found"):
        load_recipe(tmp_path / "missing.yaml")
