"""Attack files: one Python file per attack recipe, loaded by name.

An attack file defines ``NAME``, ``CITATION``, ``SETTINGS`` (named settings, a dict of values each, with at least
``paper`` and ``original``: the recipe as its authors published it; the four built-in files also define
``authors-code``) and ``build(model_wrapper, settings, parts) -> textattack.Attack``, where ``parts`` is an
:class:`~robustbench_snn.attack_parts.AttackParts` (the resource-backed pieces, replaceable by light ones in tests).
It also defines ``attack(model_wrapper)``, TextAttack's ``--attack-from-file`` entry point (paper settings).

Where they are found, by name: the built-in four (``attacks/`` of a checkout, shipped inside the wheel), then
``./attacks/*.py`` of the working directory, then files given with ``--attack-file`` / ``attack_files``. Files
starting with ``_`` are not loaded. Loading prepares TextAttack's offline setup first; a file is executed once per
process and content (loads are cached by path and sha256). Two files of the same name are a conflict only when
their contents differ (a checkout copy whose ``./attacks`` holds the built-in files is no conflict).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from robustbench_snn.errors import UserError, unknown_name
from robustbench_snn.names import check_name
from robustbench_snn.packaged import packaged_folder
from robustbench_snn.resources import prepare_textattack, sha256_of
from robustbench_snn.wrappers import register_with_textattack

SETTING_NAMES = ("paper", "original")  # every attack file names these; "authors-code" where it differs


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
        from textattack import Attack

        values = self.setting(setting)
        try:
            built = self.module.build(model_wrapper, values, parts)
        except UserError:
            raise
        except (Exception, SystemExit) as err:  # a broken user attack file: say which file, not a traceback
            raise UserError(f"attack file {self.path}: build() failed: {type(err).__name__}: {err}") from None
        if not isinstance(built, Attack):
            raise UserError(f"attack file {self.path}: build() returned {type(built).__name__}, not a "
                            "textattack.Attack; start from attacks/_template.py")
        return built


_LOADED: dict[tuple[Path, str], AttackFile] = {}  # (resolved path, sha256) -> the file, loaded once per process


def load_attack_file(path: str | Path) -> AttackFile:
    """Import one attack file (once per path and content); any problem is a one-line error naming the file."""
    path = Path(path)
    if not path.is_file() or path.suffix != ".py":
        raise UserError(f"attack file {path} not found (an attack file is a .py file; start from "
                        "attacks/_template.py)")
    key = (path.resolve(), sha256_of(path))
    if key not in _LOADED:
        _LOADED[key] = _load(path)
    return _LOADED[key]


def _load(path: Path) -> AttackFile:
    prepare_textattack()
    register_with_textattack()
    spec = importlib.util.spec_from_file_location(f"snn_robust_attack_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:  # sys.exit() in a file must not end the run silently
        raise UserError(f"attack file {path}: {type(err).__name__} at import: {err}") from None
    missing = [a for a in ("NAME", "CITATION", "SETTINGS", "build") if not hasattr(module, a)]
    if missing:
        raise UserError(f"attack file {path} lacks {', '.join(missing)}; start from attacks/_template.py")
    check_name(f"attack file {path}: NAME", module.NAME)
    settings = module.SETTINGS
    if not isinstance(settings, dict) or not all(isinstance(v, dict) for v in settings.values()):
        raise UserError(f"attack file {path}: SETTINGS must be a dict of named settings, each a dict of values")
    for name in settings:
        check_name(f"attack file {path}: setting", name)
    absent = [s for s in SETTING_NAMES if s not in settings]
    if absent:
        raise UserError(f"attack file {path}: SETTINGS lacks {', '.join(absent)} (every attack file names both 'paper' "
                        "and 'original' settings)")
    if not callable(module.build):
        raise UserError(f"attack file {path}: build must be a function (model_wrapper, settings, parts)")
    return AttackFile(module.NAME, path, str(module.CITATION), dict(settings),
                      tuple(getattr(module, "DEVIATIONS", ())), module)


def registry(extra_files: tuple[str, ...] = (), folders: list[Path] | None = None) -> dict[str, AttackFile]:
    """Every attack file in ``folders`` (default :func:`attack_folders`; files not starting with ``_``) plus
    ``extra_files``, by name."""
    files: dict[str, AttackFile] = {}
    found = [p for folder in (attack_folders() if folders is None else folders) for p in sorted(folder.glob("[!_]*.py"))]
    for path in [*found, *map(Path, extra_files)]:
        loaded = load_attack_file(path)
        known = files.get(loaded.name)
        if known is not None and known.path.resolve() != loaded.path.resolve() and \
                sha256_of(known.path) != sha256_of(loaded.path):
            raise UserError(f"attack name {loaded.name!r} is defined twice, differently: {known.path} and {path}; "
                            "rename one (its NAME)")
        files.setdefault(loaded.name, loaded)
    return files


def load_attack(name: str, extra_files: tuple[str, ...] = ()) -> AttackFile:
    """The attack file called ``name`` (see :func:`registry`)."""
    files = registry(extra_files)
    if name not in files:
        raise unknown_name("attack", name, files)
    return files[name]
