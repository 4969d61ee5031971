"""Resource lookup, sha256 verification, downloads (against a local HTTP server) and TextAttack's offline setup."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from robustbench_snn import resources
from robustbench_snn.errors import UserError
from robustbench_snn.resources import Resource, Source, locate, prepare_textattack


@pytest.fixture
def server(tmp_path: Path):
    """A local HTTP server over tmp_path/www: stands in for the canonical download hosts."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def _register(monkeypatch: pytest.MonkeyPatch, res: Resource) -> None:
    monkeypatch.setitem(resources._BY_NAME, res.name, res)


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_bundle_files_are_found_and_verified() -> None:
    found = locate("sst2/stsa.binary.dev")
    assert found.origin == "bundle" and found.path.name == "stsa.binary.dev"


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_corrupt_copy_is_refused(tmp_path: Path, bundle: Path) -> None:
    fake = tmp_path / "bundle" / "datasets" / "sst2"
    fake.mkdir(parents=True)
    (fake / "stsa.binary.dev").write_text("1 tampered\n")
    with pytest.raises(UserError, match=r"has sha256 .* expected 02fedc82855d.* for sst2/stsa\.binary\.dev"):
        locate("sst2/stsa.binary.dev", bundle=tmp_path / "bundle")


def test_missing_offline_resource_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNN_ROBUST_BUNDLE", raising=False)
    with pytest.raises(UserError, match="set SNN_ROBUST_BUNDLE .* or unset SNN_ROBUST_OFFLINE to download it from "
                                        "https://raw.githubusercontent.com/harvardnlp"):
        locate("sst2/stsa.binary.dev")
    with pytest.raises(UserError, match="no byte-identical public copy exists"):
        locate("nltk/wordnet")


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_download_plain_file_verifies_and_caches(server, monkeypatch: pytest.MonkeyPatch, bundle: Path) -> None:
    root, url = server
    shutil.copy(bundle / "datasets/sst2/stsa.binary.dev", root / "stsa.binary.dev")
    real = resources.resource("sst2/stsa.binary.dev")
    _register(monkeypatch, Resource("test/dev", "test/stsa.binary.dev", real.sha256, "test",
                                    source=Source(url + "stsa.binary.dev")))
    monkeypatch.delenv("SNN_ROBUST_BUNDLE", raising=False)
    monkeypatch.setenv("SNN_ROBUST_OFFLINE", "0")
    first = locate("test/dev")
    assert first.origin == "download" and resources.sha256_of(first.path) == real.sha256
    (root / "stsa.binary.dev").unlink()  # the cache now answers without the network
    assert locate("test/dev").origin == "cache"


def test_download_extracts_archive_member(server, monkeypatch: pytest.MonkeyPatch) -> None:
    root, url = server
    payload = "the rock is destined to be great\n".encode()
    with tarfile.open(root / "rt-polaritydata.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("rt-polaritydata/rt-polarity.pos")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    digest = hashlib.sha256(payload).hexdigest()
    _register(monkeypatch, Resource("test/pos", "test/rt-polarity.pos", digest, "test",
                                    source=Source(url + "rt-polaritydata.tar.gz", "rt-polaritydata/rt-polarity.pos")))
    assert locate("test/pos", download=True).path.read_bytes() == payload
    _register(monkeypatch, Resource("test/absent", "test/absent", digest, "test",
                                    source=Source(url + "rt-polaritydata.tar.gz", "rt-polaritydata/nope")))
    with pytest.raises(UserError, match="does not contain rt-polaritydata/nope"):
        locate("test/absent", download=True)


def test_download_with_wrong_digest_keeps_nothing(server, monkeypatch: pytest.MonkeyPatch) -> None:
    root, url = server
    (root / "file.txt").write_text("changed upstream\n")
    _register(monkeypatch, Resource("test/file", "test/file.txt", "0" * 64, "test", source=Source(url + "file.txt")))
    with pytest.raises(UserError, match="has sha256 .* expected 000000000000"):
        locate("test/file", download=True)
    cached = resources.home() / "downloads" / "test"
    assert not (cached / "file.txt").exists() and not list(cached.glob(".part-*"))
    _register(monkeypatch, Resource("test/gone", "test/gone.txt", "0" * 64, "test", source=Source(url + "gone")))
    with pytest.raises(UserError, match="could not download .*/gone"):
        locate("test/gone", download=True)


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_prepare_textattack_sets_up_offline_use() -> None:
    settings = prepare_textattack()
    cache = Path(settings["TA_CACHE_DIR"])
    assert (cache / "post_install_check_3").exists()
    assert {p.name for p in (cache / "word_embeddings" / "paragramcf").iterdir()} >= {
        "paragram.npy", "wordlist.pickle", "nn.npy"}
    assert resources.sha256_of(Path(settings["homoglyphs"])) == resources.resource(
        "textattack/intentional_homoglyphs").sha256
    assert os.environ["NLTK_DATA"].endswith("nltk_data") and os.environ["HF_HUB_OFFLINE"] == "1"
    assert prepare_textattack() == settings  # idempotent


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_doctor_reports_every_resource(tmp_path: Path) -> None:
    checks = resources.doctor()
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert {c.name for c in checks} >= {r.name for r in resources.all_resources()}
    assert {c.name for c in checks if c.kind == "stand-in"} == {
        "textattack/paragramcf", "mlm/minilm-l6-mlm-standin", "embeddings/zh-char-tencent-200d"}
    empty = tmp_path / "empty-bundle"
    empty.mkdir()
    missing = [c for c in resources.doctor(bundle=empty) if not c.ok]
    assert len(missing) > 10 and all("SNN_ROBUST_BUNDLE" in c.detail for c in missing)
