"""Checkpoint and progress files: a finished checkpoint folder holds ``checkpoint.json`` (its identity, the weights'
sha256, the training history) and ``weights.pt``; training writes ``progress.pt`` into a ``.partial`` folder after
every epoch, and the finished folder replaces it atomically. Every read is checked and loads with
``weights_only=True``; a damaged or foreign file is a one-line error naming the fix."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from robustbench_snn.errors import UserError
from robustbench_snn.identity import describe_differences
from robustbench_snn.resources import sha256_of


def _damaged(path: Path, err: Exception, fix: str) -> UserError:
    return UserError(f"{path} is damaged ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                     f"{fix}")


def read_checkpoint(folder: Path, expected: dict) -> tuple[dict, dict]:
    """(metadata, state dict) of a finished checkpoint; refuses one whose identity differs from ``expected``,
    and damaged files, in one line each."""
    fix = f"delete {folder} to retrain it"
    try:
        meta = json.loads((folder / "checkpoint.json").read_text())
        found, recorded = meta["identity"], meta["weights_sha256"]
        if not isinstance(meta["history"], list) or not all(isinstance(h, dict) and "dev_accuracy" in h
                                                               for h in meta["history"]) or not meta["history"]:
            raise ValueError("its training history is missing or damaged")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise _damaged(folder / "checkpoint.json", err, fix) from None
    if found != expected:
        raise UserError(f"checkpoint {folder} does not match the requested configuration "
                        f"({describe_differences(expected, found)} differ); {fix}")
    weights = folder / "weights.pt"
    digest = sha256_of(weights) if weights.is_file() else "missing"
    if digest != recorded:
        raise UserError(f"checkpoint {folder} is corrupt (weights sha256 {digest[:12]}… != recorded "
                        f"{recorded[:12]}…); {fix}")
    try:
        return meta, torch.load(weights, weights_only=True, map_location="cpu")
    except Exception as err:  # a pickle that passed its digest yet fails to load: written by another torch
        raise _damaged(weights, err, fix) from None


def write_checkpoint(folder: Path, partial: Path, ident: dict, state: dict, history: list[dict], extra: dict) -> dict:
    # CPU tensors whatever the device trained them: the file reads anywhere (its identity still names the device)
    torch.save({k: v.detach().cpu() for k, v in state.items()}, partial / "weights.pt")
    meta = {"identity": ident, "weights_sha256": sha256_of(partial / "weights.pt"), "history": history, **extra}
    (partial / "checkpoint.json").write_text(json.dumps(meta, indent=1))
    (partial / "progress.pt").unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)
    return meta


def read_progress(progress_file: Path, ident: dict) -> dict:
    fix = f"delete {progress_file} to restart this training from its first epoch"
    try:
        saved = torch.load(progress_file, weights_only=True, map_location="cpu")
        found = saved["identity"]
    except Exception as err:
        raise _damaged(progress_file, err, fix) from None
    if found != ident:
        raise UserError(f"{progress_file} holds progress for another configuration "
                        f"({describe_differences(ident, found)} differ); {fix}")
    return saved
