"""Attack files: one Python file per attack recipe, loaded by name.

An attack file defines ``NAME``, ``CITATION``, ``SETTINGS`` (named settings, a dict of values each, with at least
``paper`` and ``recipe``; the four built-in files also define ``authors-code``) and
``build(model_wrapper, settings, parts) -> textattack.Attack``, where ``parts`` is a
:class:`~robustbench_snn.attack_parts.Components` (the resource-backed pieces, replaceable by light ones in tests).
It also defines ``attack(model_wrapper)``, TextAttack's ``--attack-from-file`` entry point (paper settings).

Where they are found, by name: the built-in four (``attacks/`` of a checkout, shipped inside the wheel), then
``./attacks/*.py`` of the working directory, then files given with ``--attack-file`` / ``attack_files``. Files
starting with ``_`` are not loaded. Loading prepares TextAttack's offline setup first.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from robustbench_snn.errors import UserError, unknown_name
from robustbench_snn.packaged import packaged_folder
from robustbench_snn.resources import prepare_textattack
from robustbench_snn.wrappers import register_with_textattack

SETTING_NAMES = ("paper", "recipe")  # every attack file names these; "authors-code" where it differs


def attack_folders() -> list[Path]:
    """Where attack files are found by name: the built-in ones, then ``./attacks`` (or ``$SNN_ROBUST_ATTACKS``)."""
    user = Path(os.environ.get("SNN_ROBUST_ATTACKS", "attacks")).resolve()
    builtin = packaged_folder("attacks")
    return [builtin] + ([user] if user.is_dir() and user != builtin else [])


@dataclass(frozen=True)
class AttackFile:
    """A loaded attack file."""

    name: str
    path: Path
    citation: str
    settings: dict[str, dict]
    deviations: tuple[str, ...]
    module: ModuleType = field(repr=False)

    def setting(self, name: str) -> dict:
        if name not in self.settings:
            raise unknown_name("setting", name, self.settings)
        return self.settings[name]

    def build(self, model_wrapper, setting: str, parts):
        """The TextAttack ``Attack`` for ``model_wrapper`` under the named settings."""
        values = self.setting(setting)
        try:
            return self.module.build(model_wrapper, values, parts)
        except UserError:
            raise
        except Exception as err:  # a broken user attack file: say which file, not a traceback
            raise UserError(f"attack file {self.path}: build() failed: {type(err).__name__}: {err}") from None


def load_attack_file(path: str | Path) -> AttackFile:
    """Import one attack file; any problem is a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"attack file {path} not found")
    prepare_textattack()
    register_with_textattack()
    spec = importlib.util.spec_from_file_location(f"snn_robust_attack_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise UserError(f"attack file {path}: {type(err).__name__}: {err}") from None
    missing = [a for a in ("NAME", "CITATION", "SETTINGS", "build") if not hasattr(module, a)]
    if missing:
        raise UserError(f"attack file {path} lacks {', '.join(missing)}; start from attacks/_template.py")
    absent = [s for s in SETTING_NAMES if s not in module.SETTINGS]
    if absent:
        raise UserError(f"attack file {path}: SETTINGS lacks {', '.join(absent)} (every attack file names both 'paper' "
                        "and 'recipe' settings)")
    return AttackFile(module.NAME, path, module.CITATION, dict(module.SETTINGS),
                        tuple(getattr(module, "DEVIATIONS", ())), module)


def registry(extra_files: tuple[str, ...] = (), folders: list[Path] | None = None) -> dict[str, AttackFile]:
    """Every attack file in ``folders`` (default :func:`attack_folders`; files not starting with ``_``) plus
    ``extra_files``, by name."""
    files: dict[str, AttackFile] = {}
    found = [p for folder in (attack_folders() if folders is None else folders) for p in sorted(folder.glob("[!_]*.py"))]
    for path in [*found, *map(Path, extra_files)]:
        loaded = load_attack_file(path)
        if loaded.name in files and files[loaded.name].path != loaded.path:
            raise UserError(f"attack name {loaded.name!r} is defined twice: {files[loaded.name].path} and {path}")
        files[loaded.name] = loaded
    return files


def load_attack(name: str, extra_files: tuple[str, ...] = ()) -> AttackFile:
    """The attack file called ``name`` (see :func:`registry`)."""
    files = registry(extra_files)
    if name not in files:
        raise unknown_name("attack", name, files)
    return files[name]
