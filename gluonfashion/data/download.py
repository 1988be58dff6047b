"""Concurrent, resumable, verifying image downloader (for the JD ``train.txt`` URLs).

Every image goes to ``<out_dir>/<id>.jpg`` (whatever its real format: the decoders sniff
the content). The rules that make a rerun safe:

* a target that already decodes as an image is skipped and never touched, so a rerun
  after an interruption only fetches what is missing or broken;
* a body is written to a temporary file in the same folder, decoded in full, and only
  then moved into place with ``os.replace``; the final path never holds a partial file;
* an invalid file found at a target (e.g. from an older tool) is replaced by a good
  download, or removed if the download fails, so every ``<id>.jpg`` present is valid.

Transient failures (HTTP 5xx/408/429, connection errors, timeouts, truncated bodies)
are retried with exponential back-off; other 4xx answers and bodies that are not images
are reported at once. Only the standard library is used for fetching.
"""
import contextlib
import csv
import http.client
import io
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError
from tqdm import tqdm

from .jd import atomic_write_text

__all__ = ["download_images", "DownloadReport", "image_problem", "check_id"]

USER_AGENT = "gluonfashion-downloader/1.0"


# --------------------------------------------------------------------------- report

@dataclass
class DownloadReport:
    """Outcome of :func:`download_images`.

    ``ok``: ids fetched in this run; ``skipped``: ids whose file was already valid;
    ``failed``: id -> reason (e.g. ``"HTTP 404"``, ``"not an image"``,
    ``"timeout after 4 tries"``); ``urls``: id -> url for every requested id, in input
    order (the order of the CSV report).
    """
    ok: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)
    urls: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def all_ok(self):
        """True when every requested image is now on disk and valid."""
        return not self.failed

    def write(self, path):
        """Write a CSV report ``id,url,status,reason`` (one row per requested id)."""
        skipped = set(self.skipped)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["id", "url", "status", "reason"])
        for image_id, url in self.urls.items():
            if image_id in self.failed:
                row = ("failed", self.failed[image_id])
            else:
                row = ("skipped", "already valid") if image_id in skipped else ("ok", "")
            writer.writerow([image_id, url, *row])
        atomic_write_text(path, buf.getvalue())

    def summary(self):
        """One line, e.g. ``downloaded 10, skipped 5, failed 2 (HTTP 404: 2) in 1.2 s``."""
        text = (f"downloaded {len(self.ok)}, skipped {len(self.skipped)} (already valid), "
                f"failed {len(self.failed)}")
        if self.failed:
            reasons = Counter(self.failed.values()).most_common()
            text += " (" + ", ".join(f"{r}: {n}" for r, n in reasons) + ")"
        return text + f" in {self.seconds:.1f} s"


# --------------------------------------------------------------------------- checks

def check_id(image_id):
    """Raise ``ValueError`` unless ``image_id`` is safe to use as a file name."""
    text = str(image_id)
    bad = [s for s in ("/", "\\", os.sep, os.altsep, "\0") if s and s in text]
    if not text.strip() or bad or ".." in text:
        raise ValueError(
            f"image id {text!r} cannot be used as a file name "
            "(empty, or contains a path separator, '..' or NUL)")
    return text


@contextlib.contextmanager
def _strict_decoding():
    """Make PIL raise on truncated images while checking.

    ``LOAD_TRUNCATED_IMAGES`` is a PIL-wide switch that other code may turn on to read
    damaged files leniently; here it must be off or a cut body would decode as an image
    padded with grey. The previous value is restored afterwards.
    """
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _decode_problem(path):
    """``None`` if ``path`` decodes completely, else ``"not an image"``/``"truncated"``.

    ``verify()`` checks the structure but not that all pixel data is there, so a full
    ``load()`` follows, which raises on a cut body when truncated loading is off.
    """
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            im.load()
    except UnidentifiedImageError:
        return "not an image"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return "truncated"
    return None


def image_problem(path):
    """Why ``path`` is not a valid image (``"missing"``, ``"not an image"``,
    ``"truncated"``), or ``None`` when it decodes completely."""
    if not os.path.isfile(path):
        return "missing"
    with _strict_decoding():
        return _decode_problem(path)


# --------------------------------------------------------------------------- fetching

class _Transient(Exception):
    """A failure worth retrying (server trouble, network, timeout, cut body)."""


class _Permanent(Exception):
    """A failure that a retry would not fix (4xx, not an image, missing local file)."""


def _is_timeout(exc):
    return isinstance(exc, TimeoutError) or isinstance(
        getattr(exc, "reason", None), TimeoutError)


def _fetch_http(url, timeout):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        # 408 (request timeout) and 429 (too many requests) are worth another try.
        if exc.code >= 500 or exc.code in (408, 429):
            raise _Transient(f"HTTP {exc.code}") from None
        raise _Permanent(f"HTTP {exc.code}") from None
    except http.client.IncompleteRead:
        raise _Transient("truncated") from None
    except (ValueError, http.client.InvalidURL) as exc:  # malformed URL: no retry helps
        raise _Permanent(f"bad URL: {exc}") from None
    except Exception as exc:  # URLError, socket errors, timeouts, protocol errors
        if _is_timeout(exc):
            raise _Transient("timeout") from None
        reason = getattr(exc, "reason", exc)
        raise _Transient(f"connection error: {reason}") from None


def _fetch_file(url):
    path = urllib.request.url2pathname(urllib.parse.urlparse(url).path)
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise _Permanent("file not found") from None
    except OSError as exc:
        raise _Permanent(f"cannot read file: {exc.strerror}") from None


def _fetch(url, timeout):
    """The body at ``url`` (``http``, ``https`` or ``file``); raises _Transient/_Permanent."""
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme in ("http", "https"):
        return _fetch_http(url, timeout)
    if scheme == "file":
        return _fetch_file(url)
    raise _Permanent(f"unsupported URL scheme {scheme!r}")


def _save_verified(data, target):
    """Write ``data`` next to ``target``, decode it, and move it into place if valid."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        problem = _decode_problem(tmp)
        if problem == "not an image":
            raise _Permanent(problem)
        if problem:
            raise _Transient(problem)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _download_one(url, target, retries, backoff, timeout):
    """Fetch one image; returns ``"skipped"``/``"ok"`` or raises _Permanent with a reason."""
    problem = _decode_problem(target) if target.exists() else "missing"
    if problem is None:
        return "skipped"
    tries = retries + 1
    try:
        for attempt in range(tries):
            try:
                _save_verified(_fetch(url, timeout), target)
                return "ok"
            except _Transient as exc:
                if attempt == tries - 1:
                    plural = "tries" if tries > 1 else "try"
                    raise _Permanent(f"{exc} after {tries} {plural}") from None
                time.sleep(backoff * 2 ** attempt)
    except BaseException:
        if problem != "missing" and target.exists():
            target.unlink()  # keep the invariant: every file at a target path is valid
        raise


def _validate_inputs(ids, urls):
    if len(ids) != len(urls):
        raise ValueError(f"{len(ids)} ids but {len(urls)} urls")
    ids = [check_id(i) for i in ids]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    if duplicates:
        raise ValueError(f"duplicate image ids (they would share a file): {duplicates[:5]}")
    return dict(zip(ids, map(str, urls)))


def _record(report, image_id, future):
    """File the outcome of one finished download in ``report``."""
    try:
        (report.ok if future.result() == "ok" else report.skipped).append(image_id)
    except _Permanent as exc:
        report.failed[image_id] = str(exc)
    except Exception as exc:  # e.g. disk full: report it and keep going with the rest
        report.failed[image_id] = f"{type(exc).__name__}: {exc}"


def download_images(ids, urls, out_dir, workers=16, retries=3, backoff=0.5, timeout=10.0,
                    progress=True):
    """Download ``urls`` to ``<out_dir>/<id>.jpg`` concurrently; returns a DownloadReport.

    ``retries`` is the number of extra tries after a transient failure (so at most
    ``retries + 1`` tries, waiting ``backoff * 2**k`` seconds before retry k+1);
    ``timeout`` is the socket timeout of one try in seconds. Safe to rerun: valid files
    are skipped without a request. Ids must be usable as file names (no path separator,
    no ``..``); a ``ValueError`` is raised before anything is fetched otherwise.
    """
    url_of = _validate_inputs(ids, urls)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = DownloadReport(urls=url_of)
    start = time.monotonic()

    def work(image_id):
        return _download_one(url_of[image_id], out_dir / f"{image_id}.jpg",
                             retries, backoff, timeout)

    bar = tqdm(total=len(url_of), unit="img", desc="download", disable=not progress,
               dynamic_ncols=True)
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    with _strict_decoding():
        try:
            futures = {pool.submit(work, i): i for i in url_of}
            for future in as_completed(futures):
                _record(report, futures[future], future)
                bar.update(1)
                if report.failed:
                    bar.set_postfix(failed=len(report.failed), refresh=False)
        finally:
            # On Ctrl-C, drop the queued work; files already in place stay valid.
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
    report.seconds = time.monotonic() - start
    return report
