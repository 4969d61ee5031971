"""Identities: the JSON-able description of everything that determines a result, its digest, and how two differ.

A checkpoint, a run record, its per-example file and its shards are named by a readable stem plus
:func:`short_digest` of their identity, so one configuration's files are never read as another's; where an
identity is compared (resume, cached checkpoints, grid skips), :func:`differences` names the fields that differ.
"""

from __future__ import annotations

import hashlib
import json

DIGEST_CHARS = 10  # 40 bits: a collision among a study's few thousand runs is ~1e-6 likely


def canonical(identity) -> str:
    """``identity`` as canonical JSON (sorted keys, no spaces): the text that is hashed."""
    return json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(identity) -> str:
    """sha256 of the canonical JSON of ``identity``."""
    return hashlib.sha256(canonical(identity).encode()).hexdigest()


def short_digest(identity) -> str:
    return digest(identity)[:DIGEST_CHARS]


def differences(expected, found, prefix: str = "") -> list[str]:
    """Dotted paths of the fields where ``found`` differs from ``expected`` (nested mappings are compared by
    field), e.g. ``["model.train.ann_epochs", "attack.rescore_draws"]``."""
    if isinstance(expected, dict) and isinstance(found, dict):
        paths = []
        for key in sorted(set(expected) | set(found), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in expected or key not in found:
                paths.append(where)
            else:
                paths += differences(expected[key], found[key], where)
        return paths
    return [] if expected == found else [prefix or "(whole value)"]


def describe_differences(expected, found, limit: int = 6) -> str:
    """At most ``limit`` differing fields as one phrase, for one-line errors."""
    paths = differences(expected, found)
    shown = ", ".join(paths[:limit]) + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
    return shown or "nothing"
