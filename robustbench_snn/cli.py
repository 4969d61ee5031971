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


def _model_config(args: argparse.Namespace):
    from dataclasses import replace

    from robustbench_snn.config import ModelConfig, TrainConfig
    from robustbench_snn.data import get_spec
    from robustbench_snn.train import check_kind

    get_spec(args.dataset)
    train = TrainConfig()
    overrides = {k: getattr(args, k) for k in ("ann_epochs", "ft_epochs", "direct_epochs", "patience")
                 if getattr(args, k) is not None}
    return ModelConfig(args.dataset, check_kind(args.model), seed=args.seed, split_seed=args.split_seed,
                       random_embeddings=args.random_embeddings, train=replace(train, **overrides))


def _cmd_train(args: argparse.Namespace) -> int:
    from robustbench_snn.train import build_model

    built = build_model(_model_config(args))
    print(f"ready: {built.provenance.get('checkpoint', 'converted from ' + str(built.provenance.get('from', {}).get('checkpoint')))}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from robustbench_snn.evaluate import evaluate, record_path

    config = _model_config(args)
    record = evaluate(config, train=not args.no_train)
    print(f"{config.dataset} {config.kind} seed {config.seed}: test accuracy {100 * record['test_accuracy']:.2f}% "
          f"(dev {100 * record['dev_accuracy']:.2f}%) -> {record_path(config)}")
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    from pathlib import Path

    from robustbench_snn.records import RESULTS
    from robustbench_snn.tables import render

    folder = RESULTS / args.table
    print(render(folder, None if args.no_write else RESULTS / "tables" / args.table))
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

    for name, helptext, run in (("train", "train a model kind (and its prerequisites), cached by configuration",
                                 _cmd_train),
                                ("evaluate", "test accuracy of a model kind, written as a record under results/",
                                 _cmd_evaluate)):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--dataset", required=True, help="mr, sst2, sst5, subj, chnsenti or waimai")
        sub.add_argument("--model", required=True,
                         help="textcnn, tailored, snn-direct, snn-conv, snn-conv-mn, snn-conv-dn or snn-ft")
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--split-seed", type=int, default=0)
        sub.add_argument("--random-embeddings", action="store_true", help="Table 3 ablation: U[0,1] word vectors")
        for option in ("ann-epochs", "ft-epochs", "direct-epochs", "patience"):
            sub.add_argument(f"--{option}", type=int, help="override the training default")
        if name == "evaluate":
            sub.add_argument("--no-train", action="store_true", help="fail instead of training a missing model")
        sub.set_defaults(run=run)

    table = commands.add_parser("table", help="render a table from stored records (Markdown + CSV)")
    table.add_argument("table", choices=["table1", "table3"])
    table.add_argument("--no-write", action="store_true", help="print only; do not update results/tables/")
    table.set_defaults(run=_cmd_table)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``snn-robust`` console script."""
    args = build_parser().parse_args(argv)
    from robustbench_snn.runtime import keep_freed_memory

    keep_freed_memory()
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
