"""The downloader against a local HTTP server that misbehaves in every way it can."""
import csv
import io
import os
import subprocess
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image, ImageFile

from gluonfashion.data import download
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
    /short (declares the full length, sends half, closes), /html, /slow; hostile ones:
    /trickle (20 bytes every 50 ms), /endless (no length, 1 MiB of zeros: four
    times the tests' cap), /big (declares 1 TB), /redirect (to /ok1.jpg), /loop (to itself), /tofile
    (to file:///etc/passwd), /busy (429 + Retry-After: 1, once), /busydate (408 +
    Retry-After as a date 2 s ahead, once), /busylong (429 + Retry-After: 3600)."""
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
            elif route == "trickle":
                self._head(200, length=len(JPEG))
                for i in range(0, len(JPEG), 20):
                    self.wfile.write(JPEG[i:i + 20])
                    self.wfile.flush()
                    time.sleep(0.05)
            elif route == "endless":
                self._head(200)
                for _ in range(16):            # bounded, so a client without a cap still ends
                    self.wfile.write(bytes(64 * 1024))
            elif route == "big":
                self._head(200, length=10 ** 12)
            elif route in ("redirect", "loop", "tofile"):
                target = {"redirect": "/ok1.jpg", "loop": "/loop.jpg", "tofile": "file:///etc/passwd"}[route]
                self._head(302, length=0, Location=target)
            elif route in ("busy", "busydate", "busylong"):
                first = self.hits[self.path] == 1
                if route == "busylong" or first:
                    wait = {"busy": "1", "busylong": "3600",
                            "busydate": formatdate(time.time() + 2, usegmt=True)}[route]
                    self._head(429 if route != "busydate" else 408, length=0, **{"Retry-After": wait})
                else:
                    self._send(200, JPEG)
            else:
                self._send(404, b"unknown route")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): expected

    def _send(self, code, body, length=None, kind="image/jpeg"):
        self._head(code, len(body) if length is None else length, kind)
        self.wfile.write(body)

    def _head(self, code, length=None, kind="image/jpeg", **headers):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

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
    report = download_images(["a", "m", "c"], urls, tmp_path / "out", **FAST, file_roots=[src])
    assert report.ok == ["a"] and (tmp_path / "out" / "a.jpg").read_bytes() == JPEG
    assert report.failed == {"m": "file not found", "c": "truncated after 3 tries"}


def test_truncation_is_caught_even_if_pil_is_lenient(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    (tmp_path / "cut.jpg").write_bytes(JPEG[: len(JPEG) // 2])
    assert image_problem(tmp_path / "cut.jpg") == "truncated"
    report = download_images(["x"], [(tmp_path / "cut.jpg").as_uri()], tmp_path / "out",
                             **{**FAST, "retries": 0}, file_roots=[tmp_path])
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


# ------------------------------------------------------------------ hostile input

@pytest.fixture
def waits(monkeypatch):
    """The waits between tries, recorded instead of slept."""
    seen = []
    monkeypatch.setattr(download, "_sleep", seen.append)
    return seen


def test_a_trickling_server_is_cut_off_at_the_deadline(server, tmp_path):
    # /trickle sends the whole JPEG, 20 bytes every 50 ms: each read comes well within
    # the 0.3 s socket timeout, so only the per-image deadline (0.5 s) can stop it; the
    # full body would take len(JPEG) / 20 * 0.05 s, about 11 s.
    assert len(JPEG) / 20 * 0.05 > 5
    start = time.monotonic()
    report = _fetch(server, tmp_path, ["trickle.jpg"], deadline=0.5)
    assert time.monotonic() - start < 0.5 + TIMEOUT + 0.5
    assert report.failed == {"trickle": "deadline of 0.5 s passed while reading"}
    assert server.hits["/trickle.jpg"] == 1 and not list(tmp_path.iterdir())


def test_bodies_over_the_size_cap_are_refused(server, tmp_path):
    # 256 KiB cap = 0.25 MB: /big declares 1 TB (refused from its header, nothing read),
    # /endless has no length and sends 1 MiB (refused once more than 256 KiB arrived).
    report = _fetch(server, tmp_path, ["big.jpg", "endless.jpg", "ok1.jpg"], max_bytes=256 * 1024)
    assert report.failed == {"big": "larger than 0.25 MB", "endless": "larger than 0.25 MB"}
    assert report.ok == ["ok1"] and sorted(p.name for p in tmp_path.iterdir()) == ["ok1.jpg"]


def test_file_urls_only_read_regular_files_under_the_allowed_folders(tmp_path):
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    allowed.mkdir()
    other.mkdir()
    (other / "secret.jpg").write_bytes(JPEG)
    (allowed / "a.jpg").write_bytes(JPEG)
    os.symlink(other / "secret.jpg", allowed / "link.jpg")   # inside by name, outside in fact
    urls = [(allowed / "a.jpg").as_uri(), (other / "secret.jpg").as_uri(), (allowed / "link.jpg").as_uri(),
            (allowed / ".." / "other" / "secret.jpg").as_uri(), "file:///dev/zero", "file:///etc/passwd"]
    ids = ["a", "outside", "link", "dotdot", "zero", "passwd"]
    report = download_images(ids, urls, tmp_path / "out", **FAST, file_roots=[allowed])
    outside = "file URL outside the allowed folders"
    assert report.ok == ["a"]
    assert report.failed == {"outside": outside, "link": outside, "dotdot": outside, "zero": outside,
                             "passwd": outside}
    # With /dev allowed, /dev/zero is still no file to read: not a regular file.
    report = download_images(["zero"], ["file:///dev/zero"], tmp_path / "out", **FAST, file_roots=["/dev"])
    assert report.failed == {"zero": "file URL of something that is not a regular file"}
    # No roots at all (the default): no file:// URL is read.
    report = download_images(["a"], [(allowed / "a.jpg").as_uri()], tmp_path / "out2", **FAST)
    assert report.failed == {"a": outside}


def test_redirects_are_followed_a_few_times_and_only_to_http(server, tmp_path):
    report = _fetch(server, tmp_path, ["redirect.jpg", "loop.jpg", "tofile.jpg"], max_redirects=3)
    assert report.ok == ["redirect"] and (tmp_path / "redirect.jpg").read_bytes() == JPEG
    assert report.failed == {"loop": "more than 3 redirects", "tofile": "HTTP 302: redirect not followed"}
    assert server.hits["/loop.jpg"] == 4       # the first request and 3 redirects, no retries
    assert server.hits["/ok1.jpg"] == 1 and server.hits["/tofile.jpg"] == 1


def test_retry_after_is_honoured_within_bounds(server, tmp_path, waits):
    report = _fetch(server, tmp_path, ["busy.jpg", "busydate.jpg", "busylong.jpg"], workers=1, max_wait=60)
    assert sorted(report.ok) == ["busy", "busydate"]
    # busy asked for 1 s; busydate for a date about 2 s ahead (1 s resolution, so 1..2 s
    # are left by the time it is read); busylong's 3600 s is over max_wait: no wait, no retry.
    assert report.failed == {"busylong": "HTTP 429 (Retry-After 3600 s is longer than the 60 s allowed)"}
    assert waits[0] == 1.0 and 0.5 < waits[1] <= 2.0 and len(waits) == 2
    assert server.hits["/busy.jpg"] == 2 and server.hits["/busydate.jpg"] == 2 and server.hits["/busylong.jpg"] == 1


def test_a_wait_past_the_deadline_gives_up_at_once(server, tmp_path, waits):
    report = _fetch(server, tmp_path, ["busy.jpg"], deadline=0.5)
    assert report.failed == {"busy": "HTTP 429; deadline of 0.5 s reached after 1 try"}
    assert waits == [] and server.hits["/busy.jpg"] == 1


def test_part_files_of_a_killed_run_are_removed_and_live_ones_kept(server, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()                                    # a process id that no longer runs
    stale = tmp_path / f".ok1.jpg.{dead.pid}.k2x9_a.part"
    older = tmp_path / ".ok2.jpg.abc123.part"      # no process id in the name: an older layout
    live = tmp_path / f".ok3.jpg.{os.getpid()}.q7z1b0.part"   # this process: still running
    for p in (stale, older, live):
        p.write_bytes(JPEG[:100])
    report = _fetch(server, tmp_path, ["ok1.jpg", "ok2.jpg"])
    assert report.all_ok and report.removed_parts == 2
    assert not stale.exists() and not older.exists() and live.exists()
    assert "removed 2 partial files of an interrupted run" in report.summary()


def test_download_verb_fails_when_images_failed_unless_allowed(tmp_path, capsys):
    from gluonfashion.cli import main
    root = tmp_path / "jd"
    (root / "source").mkdir(parents=True)
    (root / "source" / "a.jpg").write_bytes(JPEG)
    missing = (root / "source" / "gone.jpg").as_uri()
    (root / "train.txt").write_text(f"a,{(root / 'source' / 'a.jpg').as_uri()},1,0\nb,{missing},0,1\n")
    args = ["download", "--set", "family=jd", "--set", f"data_root={root}", "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"1 of 2 images failed to download (listed in {root / 'download_report.csv'})" in err
    assert "--allow-failed" in err
    assert (root / "images" / "a.jpg").read_bytes() == JPEG
    assert main(args + ["--allow-failed"]) == 0
