"""The downloader against a local HTTP server that misbehaves in every way it can."""
import csv
import io
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image, ImageFile

from gluonfashion.data.download import download_images, image_problem

TIMEOUT = 0.3
FAST = dict(workers=8, retries=2, backoff=0.02, timeout=TIMEOUT, progress=False)


def _jpeg(seed=0, size=64):
    """A noisy JPEG, large enough that cutting it in half leaves pixel data missing."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    return buf.getvalue()


JPEG = _jpeg()
HTML = b"<html><body>Not found, but with a 200</body></html>"


class _Handler(BaseHTTPRequestHandler):
    """Routes: /ok*.jpg, /404, /403, /flaky (500 once), /cut (honest length, body cut),
    /short (declares the full length, sends half, closes), /html, /slow."""
    hits = None  # Counter, set per server
    lock = threading.Lock()

    def do_GET(self):
        with self.lock:  # Counter updates are not atomic across handler threads
            self.hits[self.path] += 1
        route = self.path.strip("/").split(".")[0]
        try:
            if route.startswith("ok"):
                self._send(200, JPEG)
            elif route in ("404", "403"):
                self._send(int(route), b"no")
            elif route == "flaky":
                self._send(500 if self.hits[self.path] == 1 else 200, JPEG)
            elif route == "cut":
                self._send(200, JPEG[: len(JPEG) // 2])
            elif route == "short":
                self._send(200, JPEG[: len(JPEG) // 2], length=len(JPEG))
                self.close_connection = True
            elif route == "html":
                self._send(200, HTML, kind="text/html")
            elif route == "slow":
                time.sleep(3 * TIMEOUT)
                self._send(200, JPEG)
            else:
                self._send(404, b"unknown route")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): expected

    def _send(self, code, body, length=None, kind="image/jpeg"):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) can overflow when all workers connect at once; the
    # kernel then drops the SYN and the client sees a timeout before any request.
    request_queue_size = 64


@pytest.fixture
def server():
    """Base URL of a fresh local server; its per-path hit counts are ``server.hits``."""
    handler = type("Handler", (_Handler,), {"hits": Counter()})
    httpd = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()

    class Server:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        hits = handler.hits
    yield Server
    httpd.shutdown()
    httpd.server_close()


def _fetch(server, out, names, **kw):
    ids = [n.split(".")[0] for n in names]
    return download_images(ids, [f"{server.url}/{n}" for n in names], out, **{**FAST, **kw})


def test_every_failure_mode_is_handled_and_reported(server, tmp_path):
    names = ["ok1.jpg", "ok2.jpg", "404.jpg", "403.jpg", "flaky.jpg", "cut.jpg",
             "short.jpg", "html.jpg", "slow.jpg"]
    (tmp_path / "ok2.jpg").write_bytes(b"garbage from an earlier, broken run")
    report = _fetch(server, tmp_path, names)

    assert sorted(report.ok) == ["flaky", "ok1", "ok2"]
    for i in report.ok:
        assert image_problem(tmp_path / f"{i}.jpg") is None
    assert (tmp_path / "ok2.jpg").read_bytes() == JPEG  # corrupt file replaced
    assert report.failed == {
        "404": "HTTP 404", "403": "HTTP 403", "html": "not an image",
        "cut": "truncated after 3 tries", "short": "truncated after 3 tries",
        "slow": "timeout after 3 tries"}
    hits = server.hits
    assert hits["/404.jpg"] == hits["/403.jpg"] == hits["/html.jpg"] == 1  # no retries
    assert hits["/flaky.jpg"] == 2 and hits["/cut.jpg"] == 3 and hits["/slow.jpg"] == 3
    # Nothing but the good images is left: no partial file, no temp file.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flaky.jpg", "ok1.jpg", "ok2.jpg"]
    assert report.summary().startswith("downloaded 3, skipped 0 (already valid), failed 6")


def test_rerun_skips_valid_files_without_fetching_or_touching_them(server, tmp_path):
    names = ["ok1.jpg", "ok2.jpg", "flaky.jpg"]
    assert _fetch(server, tmp_path, names).all_ok
    before_hits = Counter(server.hits)
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    time.sleep(0.01)

    report = _fetch(server, tmp_path, names)
    assert sorted(report.skipped) == ["flaky", "ok1", "ok2"] and not report.ok
    assert server.hits == before_hits
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == mtimes


def test_valid_file_is_never_refetched_and_invalid_one_removed_on_failure(server, tmp_path):
    good = Image.new("RGB", (8, 8), (1, 2, 3))
    good.save(tmp_path / "404.jpg")  # valid already: the 404 url is never asked
    (tmp_path / "403.jpg").write_bytes(JPEG[:100])  # invalid, and its download fails
    report = _fetch(server, tmp_path, ["404.jpg", "403.jpg"])
    assert report.skipped == ["404"] and server.hits["/404.jpg"] == 0
    assert report.failed == {"403": "HTTP 403"}
    assert not (tmp_path / "403.jpg").exists()


def test_file_urls(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jpg").write_bytes(JPEG)
    (src / "cut.jpg").write_bytes(JPEG[: len(JPEG) // 2])
    urls = [(src / n).as_uri() for n in ("a.jpg", "missing.jpg", "cut.jpg")]
    report = download_images(["a", "m", "c"], urls, tmp_path / "out", **FAST)
    assert report.ok == ["a"] and (tmp_path / "out" / "a.jpg").read_bytes() == JPEG
    assert report.failed == {"m": "file not found", "c": "truncated after 3 tries"}


def test_truncation_is_caught_even_if_pil_is_lenient(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    (tmp_path / "cut.jpg").write_bytes(JPEG[: len(JPEG) // 2])
    assert image_problem(tmp_path / "cut.jpg") == "truncated"
    report = download_images(["x"], [(tmp_path / "cut.jpg").as_uri()], tmp_path / "out",
                             **{**FAST, "retries": 0})
    assert report.failed == {"x": "truncated after 1 try"}
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored
    assert image_problem(tmp_path / "nothing.jpg") == "missing"


@pytest.mark.parametrize("bad_id", ["../evil", "a/b", "a\\b", "..", "", "x..y"])
def test_ids_that_are_not_plain_file_names_are_rejected(server, tmp_path, bad_id):
    with pytest.raises(ValueError, match="file name"):
        download_images(["fine", bad_id], [f"{server.url}/ok1.jpg"] * 2, tmp_path, **FAST)
    assert not server.hits and not list(tmp_path.iterdir())


def test_bad_call_arguments(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        download_images(["a", "a"], ["file:///x", "file:///y"], tmp_path, **FAST)
    with pytest.raises(ValueError, match="2 ids but 1 urls"):
        download_images(["a", "b"], ["file:///x"], tmp_path, **FAST)


def test_report_csv(server, tmp_path):
    (tmp_path / "ok2.jpg").write_bytes(JPEG)
    report = _fetch(server, tmp_path, ["ok1.jpg", "ok2.jpg", "404.jpg"])
    report.write(tmp_path / "report" / "download.csv")
    with open(tmp_path / "report" / "download.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["id"], r["status"], r["reason"]) for r in rows] == [
        ("ok1", "ok", ""), ("ok2", "skipped", "already valid"), ("404", "failed", "HTTP 404")]
    assert rows[2]["url"] == f"{server.url}/404.jpg"
    assert "failed 1 (HTTP 404: 1)" in report.summary()
