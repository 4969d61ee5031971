"""The files that ship with the package: the built-in attack files and the experiment recipes.

In a checkout they are the top-level ``attacks/`` and ``recipes/`` folders; a wheel carries them inside the package
(``robustbench_snn/_attacks``, ``robustbench_snn/_recipes``, mapped in pyproject.toml), so a plain
``pip install`` can attack and run the paper's recipes from any working directory.
"""

from __future__ import annotations

from pathlib import Path

from robustbench_snn.errors import UserError

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def packaged_folder(name: str) -> Path:
    """``attacks`` or ``recipes``: the checkout's folder when running from one, else the wheel's copy."""
    installed = _PACKAGE / f"_{name}"
    if installed.is_dir():
        return installed
    return _CHECKOUT / name


def find_recipe(path: str | Path) -> Path:
    """A recipe file: ``path`` as given when it exists, else the packaged recipe of that name (``table1``,
    ``recipes/table1.yaml``)."""
    given = Path(path)
    if given.is_file():
        return given
    stem = given.name[:-len(given.suffix)] if given.suffix in (".yaml", ".yml") else given.name
    packaged = packaged_folder("recipes") / f"{stem}.yaml"
    if packaged.is_file():
        return packaged
    names = ", ".join(sorted(p.stem for p in packaged_folder("recipes").glob("*.yaml")))
    raise UserError(f"recipe {path} not found; give a path, or one of the packaged recipes: {names}")
