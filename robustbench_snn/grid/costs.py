"""Cost plans (``snn-robust grid RECIPE --plan``): every job a recipe would run, which are done already, and the CPU
time the rest would take, estimated from rates measured on this machine: the records' own timings (seconds per
training epoch and epochs run, from every trained model's provenance; seconds per attacked example, from Table 2
records). Nothing is trained or attacked, unless ``--calibrate N`` asks: then every kind of attack run with no
measured rate (and a trained model) is run on N examples into a scratch folder first, and priced from those
timings. A job with no measured rate of its kind, nor of a named stand-in, says so instead of guessing.

Rates carry over between datasets in proportion to the work: training per training example and padded token (and
per time step for SNNs), attacks per padded token (the padded length). Per example alone priced Waimai's
fine-tuning epoch (48 characters) at 117 s from SST-2's (25 words); it took 248 s. Per padded token, the plan
priced it at 175 s from MR's records (``grid recipes/table1.yaml --seeds 0 --plan`` before Waimai had records of its
own): closer, still 30% low.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from robustbench_snn.config import ModelConfig, Study, options_label
from robustbench_snn.records import read_records



@dataclass
class Job:
    what: str
    done: bool
    seconds: float | None  # estimated CPU seconds; None: no rate measured for it
    basis: str


@dataclass(frozen=True)
class _Trained:
    dataset: str
    kind: str
    seconds_per_epoch: float
    epochs: int
    train_size: int | None
    steps: int | None


def _trainings(node, record: dict, found: dict) -> None:
    """Every trained model in a record's provenance (a converted or fine-tuned model nests its source's), once per
    checkpoint."""
    from robustbench_snn.zoo import checkpoint_model

    if not isinstance(node, dict):
        return
    model = checkpoint_model(str(node.get("checkpoint", "")))
    # a rate of 0.0 is a measurement too (an epoch under 0.05 s: the tiny test data), not a missing one
    if model and node.get("seconds_per_epoch") is not None and node.get("epochs_run"):
        sizes = (record.get("split") or {}).get("sizes") or {}
        steps = (record.get("config") or {}).get("snn", {}).get("steps")
        found[node["checkpoint"]] = _Trained(*model, node["seconds_per_epoch"], node["epochs_run"],
                                             sizes.get("train"), steps)
    _trainings(node.get("from"), record, found)


class Rates:
    """What this machine's records say training and attacks cost."""

    def __init__(self, *folders: Path):
        records = [r for folder in folders if folder.exists() for r in read_records(folder, skip=("legacy",))]
        trained: dict[str, _Trained] = {}
        for record in records:
            _trainings(record.get("model_provenance"), record, trained)
        self.trained = list(trained.values())
        self.attacks = [r for r in records if r["table"] == "table2" and r.get("attack_seconds") is not None]

    def training(self, config: ModelConfig, train_size: int) -> tuple[float | None, str]:
        here, stand_in = self._nearest_trainings(config)
        if not here:
            return None, f"no {config.kind} trained in these records: train one to calibrate"
        per_example = statistics.mean(t.seconds_per_epoch / (t.train_size or train_size) *
                                      _length_ratio(config.dataset, t.dataset) for t in here)
        steps_ratio = 1.0
        if config.stochastic and all(t.steps for t in here):
            steps_ratio = config.snn.steps / statistics.mean(t.steps for t in here)
        # a stand-in's epoch count says nothing of this kind's: it runs its configured epochs
        measured = config.train.direct_epochs if stand_in else round(statistics.mean(t.epochs for t in here))
        # at most the configured epochs (a user's kind: as many as its records ran); early stopping: as many as ran
        epochs = {"textcnn": config.train.ann_epochs, "tailored": config.train.ann_epochs,
                  "snn-ft": config.train.ft_epochs, "snn-direct": config.train.direct_epochs}.get(config.kind, measured)
        if config.train.early_stopping:
            epochs = min(epochs, measured)
        seconds = per_example * train_size * steps_ratio * epochs
        source = here[0].dataset if here[0].dataset == config.dataset else \
            f"{here[0].dataset}, scaled by size and padded length"
        return seconds, f"{epochs} epochs x {seconds / epochs:.0f} s ({source}; {len(here)} trained{stand_in})"

    def _nearest_trainings(self, config: ModelConfig) -> tuple[list[_Trained], str]:
        """The trainings whose epochs price ``config``'s best, and a note when they are of a stand-in kind: its own
        kind on its dataset; else the stand-in there (the directly-trained SNN: fine-tuning, the same network and
        loop); else either on datasets with its word vectors (their width sets the first layer's work); else
        anywhere. Priced from MR's directly-trained SNN by size and padded length, ChnSenti's took 57 s an epoch;
        it took 180 s, as ChnSenti's fine-tuning epochs do (200-d character vectors against GloVe's 50)."""
        from robustbench_snn.data import get_spec
        from robustbench_snn.errors import UserError

        def vectors(dataset: str) -> str | None:
            try:
                return get_spec(dataset).vectors
            except UserError:  # a dataset this process has not registered
                return None

        kinds = [(config.kind, "")]
        if config.kind == "snn-direct":
            kinds.append(("snn-ft", "; epochs priced as fine-tuning's"))
        wanted = config.vectors or vectors(config.dataset)
        for alike in (lambda t: t.dataset == config.dataset,
                      lambda t: wanted is not None and vectors(t.dataset) == wanted,
                      lambda t: True):
            for kind, note in kinds:
                found = [t for t in self.trained if t.kind == kind and alike(t)]
                if found:
                    return found, note
        return [], ""

    def attack(self, config: ModelConfig, attack: str, settings: str, sampling: str, examples: int
               ) -> tuple[float | None, str]:
        for kind, protocol, factor, note in _stand_ins(config.kind, sampling):
            same = [r for r in self.attacks if (r["attack"], r["settings"], r["model"], r["sampling"]["protocol"]) ==
                    (attack, settings, kind, protocol)]
            if same:
                seconds, basis = self._attack_rate(same, config, examples)
                return seconds * factor, basis + (f"; {note}" if note else "")
        return None, f"no {attack} {settings} run against {config.kind} ({sampling}) or a stand-in in these records"

    def _attack_rate(self, same: list[dict], config: ModelConfig, examples: int) -> tuple[float, str]:
        here = [r for r in same if r["dataset"] == config.dataset]
        if here:
            per_example, source = sum(r["attack_seconds"] for r in here) / sum(r["metrics"]["n"] for r in here), \
                config.dataset
        else:
            per_example = statistics.mean(r["attack_seconds"] / r["metrics"]["n"] *
                                          _length_ratio(config.dataset, r["dataset"]) for r in same)
            source = f"{same[0]['dataset']}, scaled by padded length"
        return per_example * examples, f"{examples} x {per_example:.2f} s ({source})"


def _length_ratio(dataset: str, measured_on: str) -> float:
    """How much more work a padded example of ``dataset`` is than one of ``measured_on``; 1 where either is a
    dataset this process has not registered (a record written by a process that had)."""
    from robustbench_snn.data import get_spec
    from robustbench_snn.errors import UserError

    try:
        return get_spec(dataset).max_len / get_spec(measured_on).max_len
    except UserError:
        return 1.0


def _stand_ins(kind: str, sampling: str) -> list[tuple[str, str, float, str]]:
    """(kind, protocol, cost factor, note) whose measured rate prices a run of ``kind`` under ``sampling``: itself
    first, then the nearest measured relative (each named in the plan, so an estimate says what it rests on)."""
    found = [(kind, sampling, 1.0, "")]
    if kind == "tailored":  # the same convolutions as the TextCNN, pooled by averages
        found.append(("textcnn", sampling, 1.0, "priced as the TextCNN (the same convolutions)"))
    if sampling == "frozen":
        found.append((kind, "seeded", 1.0, "frozen priced as seeded: both score each distinct text once"))
    if sampling.startswith("eot:"):
        draws = int(sampling.split(":")[1])
        found.append((kind, "fresh", float(draws), f"priced as fresh x {draws} draws per query (an upper bound)"))
    if sampling == "fresh":
        found += [(kind, "frozen", 1.0, "fresh priced as frozen (a lower bound: no text is scored twice there)"),
                  (kind, "seeded", 1.0, "fresh priced as seeded (a lower bound)")]
    return found


def calibrate(study: Study, results: Path, examples: int, scratch: Path, parts_factory: str | None = None) -> list[str]:
    """Attack ``examples`` examples for every kind of attack run of ``study`` that has no measured rate (no
    training: a model not trained yet is reported, not trained), writing real runs under ``scratch`` whose timings
    then price the plan (:func:`plan_costs`'s ``calibration``). One line per kind of run."""
    from dataclasses import replace

    from robustbench_snn.errors import UserError
    from robustbench_snn.grid.plan import plan_jobs
    from robustbench_snn.harness import run
    from robustbench_snn.references import resolve

    parts = resolve(parts_factory)() if parts_factory else None
    rates, lines, seen = Rates(results), [], set()
    for job, _ in plan_jobs(study, results, parts_factory):
        model, attack = job.model, job.attack
        protocol = attack.sampling if model.stochastic else "deterministic"
        key = (model.dataset, model.kind, attack.attack, attack.settings, protocol)
        if key in seen or rates.attack(model, attack.attack, attack.settings, protocol, 1)[0] is not None:
            continue
        seen.add(key)
        try:
            record = run(model, replace(attack, num_examples=examples), scratch, train=False, progress=False,
                         parts=parts)
        except UserError as err:
            lines.append(f"not calibrated: {job.describe()}: {err}")
            continue
        lines.append(f"calibrated {job.describe()}: {record['attack_seconds'] / examples:.2f} s per example "
                     f"({examples} examples)")
    return lines


def plan_costs(study: Study, results: Path, parts_factory: str | None = None, calibration: Path | None = None
               ) -> list[Job]:
    """The jobs of ``study`` with their state and estimated CPU seconds (see the module's docstring);
    ``parts_factory``: the attack parts the runs are planned with (``module:attribute``; tests pass light ones);
    ``calibration``: a folder of :func:`calibrate`'s runs, whose rates count too."""
    from robustbench_snn.evaluate import energy_path, record_path
    from robustbench_snn.grid.plan import plan_jobs

    rates = Rates(results, *([calibration] if calibration else []))
    configs = study.model_configs()
    runs, unfinished = [], []  # each run's job; the models of the runs not done, in study order
    if study.table == "table2":
        for job, plan in plan_jobs(study, results, parts_factory):
            done = plan.finished_record() is not None
            model, attack = job.model, job.attack
            protocol = attack.sampling if model.stochastic else "deterministic"
            seconds, basis = (0.0, "record exists") if done else rates.attack(
                model, attack.attack, attack.settings, protocol, attack.num_examples)
            runs.append(Job(f"attack {job.describe()} ({attack.num_examples} examples)", done, seconds, basis))
            unfinished += [] if done else [model]
    else:
        from robustbench_snn.energy import convention

        rules = [convention(name) for name in study.conventions]
        for config in configs:
            path = energy_path(config, rules, results) if study.table == "table5" else record_path(config, results)
            options = options_label(asdict(config))  # a sweep's points apart
            measure = "energy" if study.table == "table5" else "evaluate"
            runs.append(Job(f"{measure} {config.dataset} {config.kind} seed {config.seed}" +
                            (f" ({options})" if options else ""), path.exists(), 0.0,
                            "record exists" if path.exists() else "seconds once trained (not counted)"))
            unfinished += [] if path.exists() else [config]
    # Training only for what an unfinished run needs, as the grid does: on a machine without the model cache, a
    # finished study costs nothing, though each of its checkpoints would have to be trained to exist here.
    training, seen = [], set()
    for config in unfinished:
        for needed, folder, seconds, basis in priced_trainings(config, rates):
            if folder in seen:
                continue
            seen.add(folder)
            done = (folder / "checkpoint.json").exists()
            seconds, basis = (0.0, "checkpoint in the cache") if done else (seconds, basis)
            training.append(Job(f"train {needed.dataset} {needed.kind} seed {needed.seed} ({folder.name})", done,
                                seconds, basis))
    return training + runs


def priced_trainings(config: ModelConfig, rates: Rates) -> list[tuple[ModelConfig, Path, float | None, str]]:
    """Each checkpoint building ``config`` trains, prerequisites first: (its configuration, its cache folder, the CPU
    seconds training it would take by ``rates`` or None, and what that estimate rests on)."""
    from robustbench_snn.prepared import prepare_for
    from robustbench_snn.zoo import checkpoint_dir, trained_models

    priced = []
    for needed in trained_models(config):
        needed = needed.normalized()
        prepared = prepare_for(needed)
        priced.append((needed, checkpoint_dir(needed, prepared), *rates.training(needed, len(prepared.ids["train"]))))
    return priced


def describe_plan(jobs: list[Job]) -> str:
    """The plan as a table and a total line."""
    from tabulate import tabulate

    rows = [(j.what, "done" if j.done else "to do", "" if j.seconds is None else f"{j.seconds / 3600:.2f}", j.basis)
            for j in jobs]
    todo = [j for j in jobs if not j.done]
    known = sum(j.seconds for j in todo if j.seconds is not None)
    unknown = sum(j.seconds is None for j in todo)
    total = (f"{len(jobs)} jobs: {len(jobs) - len(todo)} done, {len(todo)} to do; estimated "
             f"{known / 3600:.1f} CPU-hours for the ones with a measured rate"
             + (f", {unknown} without one (see their lines)" if unknown else ""))
    return tabulate(rows, headers=["job", "state", "CPU-hours", "estimate from"], maxcolwidths=[70, None, None, 60]) \
        + "\n\n" + total
