"""``snn-robust`` command line. Errors users can fix print one line and exit with status 2."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from robustbench_snn.errors import UserError


def _cmd_doctor(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from robustbench_snn.data import dataset_names
    from robustbench_snn.resources import bundle_root, doctor, home, offline
    from robustbench_snn.runtime import compute_device, cpu_kernels, device_kind

    dataset_names()  # registers every dataset's files with the resource catalogue
    if args.print_env:
        return _print_env(args)
    checks = doctor(args.bundle, download=args.download)
    kernels = cpu_kernels()
    print(f"bundle: {bundle_root(args.bundle) or '(none: set SNN_ROBUST_BUNDLE)'}   cache: {home()}   "
          f"downloads: {'off (SNN_ROBUST_OFFLINE)' if offline() else 'on'}   device: {device_kind(compute_device())}   "
          f"CPU kernels: torch {kernels['aten']}, oneDNN capped at {kernels['onednn_max_isa']} (set by "
          f"{kernels['onednn_cap_set_by']})")
    rows = [("ok" if c.ok else "MISSING", c.name, c.kind, c.where, c.detail) for c in checks]
    print(tabulate(rows, headers=["status", "resource", "kind", "found", "note / fix"], maxcolwidths=[None] * 4 + [70]))
    missing = [c for c in checks if not c.ok]
    if missing:
        print(f"\n{len(missing)} missing; each line above says how to fix it.")
        return 1
    print(f"\nall {len(checks)} checks passed ({sum(c.kind == 'stand-in' for c in checks)} stand-ins, recorded in "
          "every result).")
    return 0


def _print_env(args: argparse.Namespace) -> int:
    """The exports that make TextAttack's own CLI (``textattack attack ...``) run offline with this bundle."""
    import shlex

    from robustbench_snn.resources import bundle_root, prepare_textattack

    settings = prepare_textattack(args.bundle)
    exports = {"SNN_ROBUST_BUNDLE": str(bundle_root(args.bundle) or ""), "NLTK_DATA": settings["NLTK_DATA"],
               "TA_CACHE_DIR": settings["TA_CACHE_DIR"]}
    exports |= {flag: "1" for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")}
    print("# paste into a shell before `textattack ...` (or eval \"$(snn-robust doctor --print-env)\")")
    for name, value in exports.items():
        if value:
            print(f"export {name}={shlex.quote(value)}")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from robustbench_snn.data import dataset_names, describe, load_dataset

    names = args.names or dataset_names()
    rows = [describe(load_dataset(name, split_seed=args.split_seed, bundle=args.bundle)) for name in names]
    print(tabulate(rows, headers="keys"))
    print(f"\nsplits: SST standard files; others seeded (split seed {args.split_seed}): 10% test, 10% of the rest "
          "dev. 'dropped': empty texts and texts published with both labels.")
    return 0


def _add_model_options(sub: argparse.ArgumentParser, random_embeddings_help: str, no_train: bool = True) -> None:
    """The options every command that builds a model takes (read back by :func:`_model_config`)."""
    sub.add_argument("--dataset", required=True, help="mr, sst2, sst5, subj, chnsenti or waimai")
    sub.add_argument("--seed", type=int, default=0, help="model seed (for `run` also example selection and spikes)")
    sub.add_argument("--split-seed", type=int, default=0)
    sub.add_argument("--random-embeddings", action="store_true", help=random_embeddings_help)
    if no_train:
        sub.add_argument("--no-train", action="store_true", help="fail instead of training a missing model")
    from robustbench_snn.config import CLI_MODEL_OPTIONS

    for flag, (path, kind, helptext) in CLI_MODEL_OPTIONS.items():
        if path.startswith("evaluate_at.") and not no_train:
            continue  # `train` trains; evaluation settings belong to evaluate, energy and run
        extra = {"action": argparse.BooleanOptionalAction} if kind is bool else {"type": kind}
        sub.add_argument(flag, dest=path, help=helptext, **extra)


def _model_config(args: argparse.Namespace, kind: str):
    from robustbench_snn.config import CLI_MODEL_OPTIONS, ModelConfig, with_option
    from robustbench_snn.data import get_spec
    from robustbench_snn.zoo import check_kind

    get_spec(args.dataset)
    config = ModelConfig(args.dataset, check_kind(kind), seed=args.seed, split_seed=args.split_seed,
                         random_embeddings=args.random_embeddings)
    for path, _, _ in CLI_MODEL_OPTIONS.values():
        if getattr(args, path, None) is not None:
            config = with_option(config, path, getattr(args, path))
    return config


def _cmd_train(args: argparse.Namespace) -> int:
    from robustbench_snn.zoo import build_model

    built = build_model(_model_config(args, args.model))
    print(f"ready: {built.provenance.get('checkpoint', 'converted from ' + str(built.provenance.get('from', {}).get('checkpoint')))}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from robustbench_snn.evaluate import evaluate, record_path

    config = _model_config(args, args.model)
    record = evaluate(config, train=not args.no_train, results=_results(args))
    print(f"{config.dataset} {config.kind} seed {config.seed}: test accuracy {100 * record['test_accuracy']:.2f}% "
          f"(dev {100 * record['dev_accuracy']:.2f}%) -> {record_path(config, _results(args))}")
    return 0


def _cmd_energy(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from robustbench_snn.energy import CONVENTIONS, convention
    from robustbench_snn.evaluate import energy_path, evaluate_energy
    from robustbench_snn.tables import render_results

    rules = [convention(name) for name in _names(args.conventions) or list(CONVENTIONS)]
    if args.e_mac is not None or args.e_ac is not None:
        rules.append(convention("custom", args.e_mac, args.e_ac))
    config = _model_config(args, args.model)
    record = evaluate_energy(config, rules, train=not args.no_train, results=_results(args))
    rows = [(x["layer"], x["input"], x["flops"], f"{x['input_rate']:.4f}", f"{x['snn_ops']:.0f}")
            for x in record["layers"]]
    print(f"{args.dataset} seed {args.seed}, per test example, T={record['steps']}: tailored TextCNN vs "
          f"{record['model_name']}{' (' + record['options'] + ')' if record['options'] else ''}")
    print(tabulate(rows, headers=["layer", "SNN input", "ANN MACs", "SNN input rate", "SNN ops (AC, or MAC on rates)"]))
    print(f"neuron updates: {record['neuron_updates']:,}")
    for name, energy in record["energy"].items():
        rule = energy["convention"]
        print(f"{name} (E_MAC {rule['e_mac_pj']} pJ, E_AC {rule['e_ac_pj']} pJ): ANN {energy['ann_pj'] / 1e6:.4f} µJ, "
              f"SNN {energy['snn_pj'] / 1e6:.4f} µJ, reduction {energy['reduction']:.3f}x, break-even T "
              f"{energy['break_even_steps']:.1f}; first layer as MACs: {energy['first_layer_mac']['reduction']:.3f}x")
    print(f"-> {energy_path(config, rules, _results(args))}")
    render_results(_results(args), "table5")
    return 0


def _results(args: argparse.Namespace) -> Path:
    """The results folder: --results, else $SNN_ROBUST_RESULTS, else ./results of the working folder."""
    from robustbench_snn.records import RESULTS

    return Path(args.results) if getattr(args, "results", None) else RESULTS


def _add_results_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--results", help="results folder (default: $SNN_ROBUST_RESULTS, else ./results of the working "
                     "folder)")


def _add_repair_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--repair", action="store_true", help="keep the valid rows of a damaged per-example file and "
                     "attack the rest again (default: refuse it, naming file:line)")


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [x for x in text.split(",") if x]


def _cmd_grid(args: argparse.Namespace) -> int:
    from robustbench_snn.config import load_study
    from robustbench_snn.grid import check_study, make_executor, run_study
    from robustbench_snn.tables import render, render_results

    try:
        seeds = None if args.seeds is None else [int(s) for s in _names(args.seeds)]
    except ValueError:
        raise UserError(f"--seeds takes comma-separated integers, e.g. 0,1,2 (got {args.seeds!r})") from None
    study = check_study(load_study(args.recipe, datasets=_names(args.datasets), models=_names(args.models),
                                   seeds=seeds, attacks=_names(args.attacks), num_examples=args.num_examples,
                                   shard_size=args.shard_size))
    results = _results(args)
    if args.plan:
        import tempfile

        from robustbench_snn.grid.costs import calibrate, describe_plan, plan_costs

        if args.calibrate is not None and args.calibrate < 1:
            raise UserError(f"--calibrate takes the examples per kind of run, at least 1 (got {args.calibrate})")
        with tempfile.TemporaryDirectory(prefix="snn-robust-calibration-") as scratch:
            if args.calibrate:
                for line in calibrate(study, results, args.calibrate, Path(scratch)):
                    print(line, flush=True)
            print(describe_plan(plan_costs(study, results, calibration=Path(scratch))))
        return 0
    if args.calibrate is not None:
        raise UserError("--calibrate prices a plan: use it with --plan")
    executor = make_executor(args.executor, args.address, args.workers)
    try:
        report = run_study(study, executor, results, train=not args.no_train, repair=args.repair)
    finally:
        executor.close()
    render_results(results, study.table)  # the folder's table, every configuration in it kept apart
    print(f"{study.name} ({len(report.existing)} runs found done, {len(report.records)} written):")
    print(render(report.existing + report.records, study.table))
    if study.table == "table2":
        render_results(results, "paired")
        print(render(report.existing + report.records, "paired"))
    return 0


def _cmd_attacks(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from robustbench_snn.attack_files import registry

    attack_files = registry(tuple(args.attack_file))
    rows = [(a.name, a.citation, a.path.name, name, ", ".join(f"{k}={v}" for k, v in values.items()) or "(defaults)")
            for a in attack_files.values() for name, values in a.settings.items()]
    print(tabulate(rows, headers=["attack", "citation", "file", "settings", "values"], maxcolwidths=[None] * 4 + [60]))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tabulate import tabulate

    from robustbench_snn.config import AttackConfig
    from robustbench_snn.harness import run
    from robustbench_snn.records import held_up_text
    from robustbench_snn.tables import render_results
    from robustbench_snn.zoo import check_kind

    kinds = [check_kind(k) for k in _names(args.models) or []]
    if not kinds:
        raise UserError("--models needs at least one model kind, e.g. textcnn,snn-ft")
    attack = AttackConfig(args.attack, settings=args.settings, sampling=args.sampling,
                          num_examples=args.num_examples, rescore_draws=args.rescore_draws, masked_lm=args.mlm,
                          attack_files=tuple(args.attack_file), query_budget=args.query_budget)
    if getattr(args, "population", None) is None:
        args.population = 1  # the paper's Table 2 SNN has no "ensemble" output (section 4.4)
    base = _model_config(args, kinds[0])
    configs = [replace(base, kind=kind).normalized() for kind in kinds]  # options a kind ignores: no split
    from robustbench_snn.grid.executors import check_workers

    check_workers(args.workers)
    workers = args.workers or os.cpu_count() or 1
    if workers > 1:
        from robustbench_snn.grid.pipeline import attack_pipelined
        from robustbench_snn.planning import check_run

        for config in configs:  # refuse bad input here, in one line, before any worker starts
            check_run(config, attack)
        records = attack_pipelined([(config, attack) for config in configs], workers, _results(args),
                                   train=not args.no_train, repair=args.repair)
    else:
        records = [run(config, attack, _results(args), not args.no_train, repair=args.repair) for config in configs]
    rows = []
    for kind, record in zip(kinds, records):
        raw, again = record["metrics"], record["rescored"]["metrics"]
        percent = [None if m[k] is None else 100 * m[k] for m in (raw, again) for k in ("cln", "boa", "suc")]
        rows.append((kind, record["sampling"]["protocol"], raw["n"], *percent,
                     held_up_text(record["rescored"]["held_up"]["succeeded"]),
                     f"{record['mean_queries']:.0f}", record["examples_per_minute"]))
        print(f"-> {record['examples_file']} and its record (.json), under {_results(args) / 'table2'}", flush=True)
    print(tabulate(rows, headers=["model", "sampling", "N", "Cln", "Boa", "Suc", "Cln (R)", "Boa (R)", "Suc (R)",
                                  "successes held", "queries", "examples/min"], floatfmt=".1f"))
    render_results(_results(args), "table2")
    render_results(_results(args), "paired")
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    from robustbench_snn.tables import render_results

    print(render_results(_results(args), args.table, write=not args.no_write))
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from robustbench_snn.records import SCHEMA_VERSION, add_similarity, migrate_folder

    results = _results(args)
    if not results.is_dir():
        raise UserError(f"no results folder {results}; give the folder with --results")
    migrated, current = migrate_folder(results)
    print(f"{results}: {migrated} record(s) migrated to schema {SCHEMA_VERSION}, {current} already current")
    if args.similarity:
        print(f"{results}: mean sentence similarity added to {add_similarity(results)} attack record(s)")
    if args.retire:
        from robustbench_snn.evaluate import EVALUATION_CODE_VERSION
        from robustbench_snn.planning import ATTACK_CODE_VERSION
        from robustbench_snn.records import retire_superseded
        from robustbench_snn.train import TRAINING_CODE_VERSION

        current = {"training_code": TRAINING_CODE_VERSION, "evaluation_code": EVALUATION_CODE_VERSION,
                   "attack_code": ATTACK_CODE_VERSION}
        moved = retire_superseded(results, current)
        for path, why in moved:
            print(f"retired {path.relative_to(results)} ({why})")
        print(f"{results}: {len(moved)} record(s) made by older code moved under legacy/superseded/")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from robustbench_snn.report import write_results_readme

    print(f"-> {write_results_readme(_results(args))} (and every table under tables/)")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from robustbench_snn.plots import plot

    for path in plot(args.name, _results(args), _names(args.datasets)):
        print(f"-> {path}")
    return 0


def _cmd_rederive(args: argparse.Namespace) -> int:
    from robustbench_snn.rederive import plan, read_paths, rederive

    records = read_paths([Path(p) for p in args.records])
    if args.plan:
        print("\n".join(plan(records, _results(args))))
        return 0
    checked = rederive(records)
    differ = sum(not c.matches for c in checked)
    print(f"{len(checked)} checkpoint(s): {len(checked) - differ} re-derived, {differ} not")
    return 1 if differ else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    from robustbench_snn.tables import TABLES

    parser = argparse.ArgumentParser(prog="snn-robust", description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", help="offline bundle folder (default: $SNN_ROBUST_BUNDLE)")
    parser.add_argument("--device", help="where models train and answer queries: auto (CUDA when present, else the "
                        "CPU), cpu, cuda or cuda:N (default: $SNN_ROBUST_DEVICE, else auto); part of every "
                        "checkpoint's identity")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    doctor = commands.add_parser("doctor", help="show every resource: found where, verified, stand-in or real")
    doctor.add_argument("--download", action="store_true", help="download missing resources that have a source")
    doctor.add_argument("--print-env", action="store_true", help="print the shell exports that make TextAttack's "
                        "own command line work offline with these resources")
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
        _add_model_options(sub, "Table 3 ablation: U[0,1] word vectors", no_train=name == "evaluate")
        sub.add_argument("--model", required=True,
                         help="textcnn, tailored, snn-direct, snn-conv, snn-conv-mn, snn-conv-dn or snn-ft")
        if name == "evaluate":
            _add_results_option(sub)
        sub.set_defaults(run=run)

    energy = commands.add_parser("energy", help="Table 5: ANN FLOPs vs SNN synaptic operations and energy")
    _add_model_options(energy, "use the Table 3 (random vectors) models")
    energy.add_argument("--model", default="snn-ft", help="the SNN kind (default: %(default)s)")
    energy.add_argument("--conventions", help="comma-separated: 45nm (4.6 / 0.9 pJ, Horowitz 2014), neuromorphic "
                        "(12.5 pJ / 77 fJ, the paper's citations); default: both")
    energy.add_argument("--e-mac", type=float, help="add a custom convention: pJ per multiply-accumulate")
    energy.add_argument("--e-ac", type=float, help="add a custom convention: pJ per accumulate")
    _add_results_option(energy)
    energy.set_defaults(run=_cmd_energy)

    run = commands.add_parser("run", help="attack models of a dataset; per-example JSONL + run records (Table 2)")
    _add_model_options(run, "attack the Table 3 models")
    run.add_argument("--attack", required=True, help="a registered attack (see `snn-robust attacks`)")
    run.add_argument("--models", default="textcnn,snn-ft", help="comma-separated model kinds (default: %(default)s)")
    run.add_argument("--num-examples", type=int, default=1000, help="test examples to attack (paper: 1000)")
    run.add_argument("--sampling", default="seeded", help="SNN sampling protocol: seeded, fresh, frozen or eot:K "
                     "(default: %(default)s; frozen is the authors' code's)")
    run.add_argument("--settings", default="paper", help="paper (Lv et al.: the paper's text as their code did it), "
                     "authors-code (also their code's other choices) or original (the recipe as its authors "
                     "published it)")
    run.add_argument("--rescore-draws", type=int, default=10, help="fresh draws per example when re-scoring")
    run.add_argument("--query-budget", type=int, default=None, help="model queries per example before an attack "
                     "gives up (default: unlimited, as the paper), so attacks can be compared at equal cost")
    run.add_argument("--mlm", help="masked LM for BERT-Attack: name or path (default: bert-base-uncased, "
                     "offline: the bundle's stand-in)")
    run.add_argument("--attack-file", action="append", default=[], help="an extra attack file (repeatable)")
    run.add_argument("--workers", type=int, help="worker processes: each model is trained by one while the others "
                     "attack the models already trained, in shards (default: the machine's cores; 1: everything in "
                     "this process, one model after another)")
    _add_results_option(run)
    _add_repair_option(run)
    run.set_defaults(run=_cmd_run)

    attacks = commands.add_parser("attacks", help="list registered attack recipes with citations and settings")
    attacks.add_argument("--attack-file", action="append", default=[], help="an extra attack file (repeatable)")
    attacks.set_defaults(run=_cmd_attacks)

    grid = commands.add_parser("grid", help="run every job of a recipe (locally, on worker processes or on Ray), "
                               "then render its table")
    grid.add_argument("recipe", help="a recipe file, e.g. recipes/table1.yaml or recipes/paper-table2.yaml")
    grid.add_argument("--datasets", help="comma-separated; overrides the recipe's datasets")
    grid.add_argument("--models", help="comma-separated; overrides the recipe's models")
    grid.add_argument("--seeds", help="comma-separated; overrides the recipe's seeds")
    grid.add_argument("--attacks", help="comma-separated; overrides a table2 recipe's attacks")
    grid.add_argument("--num-examples", type=int, help="overrides a table2 recipe's examples per run")
    grid.add_argument("--shard-size", type=int, help="overrides a table2 recipe's examples per task")
    grid.add_argument("--executor", default="local", help="local (default: one task at a time, in this process), "
                      "process (local worker processes) or ray (pip install 'snn-robust[ray]')")
    grid.add_argument("--workers", type=int, help="parallel tasks (process: default all cores; ray: CPUs of the "
                      "local cluster it starts)")
    grid.add_argument("--address", help="Ray cluster to join, e.g. ray://head:10001 or auto (default: start one)")
    _add_results_option(grid)
    _add_repair_option(grid)
    grid.add_argument("--no-train", action="store_true", help="fail instead of training a missing model")
    grid.add_argument("--plan", action="store_true", help="only list the jobs, which are done, and the CPU time the "
                      "rest would take from rates in the records under --results (nothing is run)")
    grid.add_argument("--calibrate", type=int, metavar="N", help="with --plan: first attack N examples for each kind "
                      "of run no record has a rate for (trained models only; scratch records, deleted after)")
    grid.set_defaults(run=_cmd_grid)

    table = commands.add_parser("table", help="render a table from stored records (Markdown + CSV)")
    table.add_argument("table", choices=list(TABLES))
    table.add_argument("--no-write", action="store_true", help="print only; do not update results/tables/")
    _add_results_option(table)
    table.set_defaults(run=_cmd_table)

    migrate = commands.add_parser("migrate", help="rewrite the records of older schemas under --results in the "
                                  "current schema (identities, measurements and outcomes unchanged)")
    _add_results_option(migrate)
    migrate.add_argument("--similarity", action="store_true", help="also give attack records written before it was "
                         "recorded the mean sentence similarity of their successful texts (from their per-example "
                         "files, by the offline sentence encoder)")
    migrate.add_argument("--retire", action="store_true", help="also move records made by older training, "
                         "evaluation or attack code (which can no longer re-derive them) to legacy/superseded/, out "
                         "of every table, figure and claim")
    migrate.set_defaults(run=_cmd_migrate)

    rederive = commands.add_parser("rederive", help="train every checkpoint the given records name again, in a "
                                   "scratch cache, and compare each weights sha256 with the record's (exit 1 if any "
                                   "differs)")
    rederive.add_argument("records", nargs="+", help="record files, or folders of them (e.g. results/table1/sst2)")
    rederive.add_argument("--plan", action="store_true", help="only list the checkpoints and what retraining each "
                          "would cost, from the training rates of the records under --results (nothing is trained)")
    _add_results_option(rederive)
    rederive.set_defaults(run=_cmd_rederive)

    from robustbench_snn.plots import PLOTS

    report = commands.add_parser("report", help="render every table and results/README.md, the page that shows "
                                 "them with the claims table and the commands that regenerate each")
    _add_results_option(report)
    report.set_defaults(run=_cmd_report)

    plot = commands.add_parser("plot", help="render a figure from stored records into results/figures/ (PNG + PDF)")
    plot.add_argument("name", help=", ".join(f"{name} ({spec.title.split(':')[0]})" for name, spec in PLOTS.items()))
    plot.add_argument("--datasets", help="comma-separated; default: every dataset with records")
    _add_results_option(plot)
    plot.set_defaults(run=_cmd_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``snn-robust`` console script."""
    args = build_parser().parse_args(argv)
    from robustbench_snn.runtime import keep_freed_memory

    keep_freed_memory()
    from robustbench_snn.runtime import DEVICE_SETTING, compute_device

    previous = {name: os.environ.get(name) for name in ("SNN_ROBUST_BUNDLE", DEVICE_SETTING)}
    try:
        if args.bundle:  # every command, and the workers it starts, read resources from this bundle
            from robustbench_snn.resources import bundle_root

            os.environ["SNN_ROBUST_BUNDLE"] = str(bundle_root(args.bundle))
        if args.device:  # and run on this device
            os.environ[DEVICE_SETTING] = args.device
        compute_device()  # a bad setting is a one-line error before any work starts
        return args.run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # everyday file-system problems: one line naming the path, never a traceback
        where = f" {err.filename}" if err.filename else ""
        if err.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            advice = ("free space (or raise the file-size limit), then rerun: finished work is kept and the run "
                      "resumes; or write elsewhere with --results / SNN_ROBUST_HOME")
        else:
            advice = "check that the folder exists and is writable (or choose another with --results / SNN_ROBUST_HOME)"
        print(f"error: cannot write or read{where}: {err.strerror or err}; {advice}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: not enough memory for what was asked (time steps, population or batch too large for this "
              "machine); ask for less", file=sys.stderr)
        return 2
    except RuntimeError as err:  # torch reports a refused allocation as a RuntimeError
        if "allocate" not in str(err):
            raise
        print(f"error: not enough memory for what was asked ({str(err).splitlines()[0][:200]}); use fewer time "
              "steps, a smaller population or a smaller batch", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:  # a library call (tests, notebooks) leaves the process's settings as it found them
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


if __name__ == "__main__":
    sys.exit(main())
