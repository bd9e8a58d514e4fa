"""One definition per variant: configs/<name>.yaml. Everything else is derived from it, and a
variant added in one place but not the others fails here."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import hear_byols
from helpers.variants import ALL_VARIANTS
from hear_byols.cli import build_parser
from hear_byols.variants import configs_dir, variant_names, variant_spec
from hear_byols.weights import registry_variants

PACKAGE_DIR = Path(hear_byols.__file__).parent
REPO = PACKAGE_DIR.parent
BINDING = re.compile(r'variant_api\("([^"]+)"\)')


def bound_modules() -> dict[str, str]:
    """``hear_byols/<file>.py`` modules that bind a variant: file stem -> variant bound."""
    found = {}
    for path in PACKAGE_DIR.glob("*.py"):
        match = BINDING.search(path.read_text(encoding="utf-8"))
        if match:
            found[path.stem] = match.group(1)
    return found


def test_every_config_has_its_module_and_every_module_its_config() -> None:
    modules = bound_modules()
    assert sorted(modules) == variant_names(), "a config without hear_byols/<name>.py, or a module without a config"
    assert all(stem == variant for stem, variant in modules.items()), "a module binds another variant than its name"


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_module_loads_its_own_variant(variant: str, checkpoint_path) -> None:
    module = importlib.import_module(f"hear_byols.{variant}")
    model = module.load_model(str(checkpoint_path(variant)))
    assert model.variant == variant
    assert model.scene_embedding_size == model.timestamp_embedding_size == variant_spec(variant).embedding_size


def test_lists_are_derived_from_the_configs() -> None:
    names = variant_names()
    assert sorted(path.stem for path in configs_dir().glob("*.yaml")) == names
    assert [info.name for info in hear_byols.list_variants()] == names
    assert registry_variants() == names
    parser = build_parser()
    embed = parser._subparsers._group_actions[0].choices["embed"]  # noqa: SLF001 - argparse has no public accessor
    model_choices = next(action.choices for action in embed._actions if action.dest == "model")  # noqa: SLF001
    assert list(model_choices) == names


def test_bench_list_comes_from_the_configs() -> None:
    spec = importlib.util.spec_from_file_location("bench", REPO / "benchmarks" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    chosen = bench.default_variants()
    assert set(chosen) <= set(variant_names())
    assert {variant_spec(name).encoder_type for name in chosen} == {
        variant_spec(name).encoder_type for name in variant_names()
        if variant_spec(name).weight_files and variant_spec(name).hear_model_id
    }


def test_readme_variant_table_is_generated_from_the_configs() -> None:
    pytest.importorskip("pandas")
    from evaluation.marked_blocks import replace_block
    from evaluation.variants_table import BLOCK, variants_table

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert replace_block(readme, BLOCK, variants_table()) == readme, "run `make docs-tables` and commit README.md"
    for name in variant_names():
        assert f"`hear_byols.{name}`" in readme
