"""``snn-robust`` command line. Errors users can fix print one line and exit with status 2."""

from __future__ import annotations

import argparse
import sys

from robustbench_snn.errors import UserError


def _cmd_doctor(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from robustbench_snn.resources import bundle_root, doctor, home, offline

    checks = doctor(args.bundle, download=args.download)
    print(f"bundle: {bundle_root(args.bundle) or '(none: set SNN_ROBUST_BUNDLE)'}   cache: {home()}   "
          f"downloads: {'off (SNN_ROBUST_OFFLINE)' if offline() else 'on'}")
    rows = [("ok" if c.ok else "MISSING", c.name, c.kind, c.where, c.detail) for c in checks]
    print(tabulate(rows, headers=["status", "resource", "kind", "found", "note / fix"], maxcolwidths=[None] * 4 + [70]))
    missing = [c for c in checks if not c.ok]
    if missing:
        print(f"\n{len(missing)} missing; each line above says how to fix it.")
        return 1
    print(f"\nall {len(checks)} checks passed ({sum(c.kind == 'stand-in' for c in checks)} stand-ins, recorded in "
          "every result).")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from robustbench_snn.data import DATASETS, describe, load_dataset

    names = args.names or list(DATASETS)
    rows = [describe(load_dataset(name, split_seed=args.split_seed, bundle=args.bundle)) for name in names]
    print(tabulate(rows, headers="keys"))
    print(f"\nsplits: SST standard files; others seeded (split seed {args.split_seed}): 10% test, 10% of the rest "
          "dev. 'dropped': empty texts and texts published with both labels.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(prog="snn-robust", description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", help="offline bundle folder (default: $SNN_ROBUST_BUNDLE)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    doctor = commands.add_parser("doctor", help="show every resource: found where, verified, stand-in or real")
    doctor.add_argument("--download", action="store_true", help="download missing resources that have a source")
    doctor.set_defaults(run=_cmd_doctor)

    datasets = commands.add_parser("datasets", help="sizes, label balance and lengths of the registered datasets")
    datasets.add_argument("names", nargs="*", help="dataset names (default: all)")
    datasets.add_argument("--split-seed", type=int, default=0, help="seed of the random test/dev split")
    datasets.set_defaults(run=_cmd_datasets)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``snn-robust`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
