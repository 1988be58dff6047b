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
are retried with exponential back-off, or after the server's ``Retry-After`` when it is
not too long; other 4xx answers and bodies that are not images are reported at once.

A URL list is untrusted input, so every fetch is bounded (:class:`Limits`): a deadline
per image, a size cap, a few redirects to http(s) only, and ``file://`` URLs only
under the folders named as allowed (a ``file:///dev/zero`` or ``file:///etc/passwd`` is
refused). Only the standard library is used for fetching.
"""
import contextlib
import csv
import datetime
import email.utils
import http.client
import io
import os
import re
import stat
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
from .paths import is_plain_name

__all__ = ["download_images", "DownloadReport", "Limits", "image_problem", "check_id", "remove_stale_parts"]

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
    removed_parts: int = 0   # partial files of an interrupted earlier run, removed first
    path: str = None         # where ``write`` put the CSV report

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
        self.path = str(path)

    def summary(self):
        """One line, e.g. ``downloaded 10, skipped 5, failed 2 (HTTP 404: 2) in 1.2 s``."""
        text = (f"downloaded {len(self.ok)}, skipped {len(self.skipped)} (already valid), "
                f"failed {len(self.failed)}")
        if self.failed:
            reasons = Counter(self.failed.values()).most_common()
            text += " (" + ", ".join(f"{r}: {n}" for r, n in reasons) + ")"
        if self.removed_parts:
            text += f"; removed {self.removed_parts} partial files of an interrupted run"
        return text + f" in {self.seconds:.1f} s"


# --------------------------------------------------------------------------- checks

def check_id(image_id):
    """Raise ``ValueError`` unless ``image_id`` is safe to use as a file name."""
    text = str(image_id)
    if not is_plain_name(text) or ".." in text:
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

@dataclass(frozen=True)
class Limits:
    """What one image may cost; every bound is there because a URL list is untrusted.

    ``timeout``: seconds one connect or read may wait; ``deadline``: seconds for the
    whole image, all tries and waits included (a server that trickles bytes is cut
    off; checked between reads, so it is passed by at most one ``timeout``);
    ``max_bytes``: the largest body accepted; ``max_wait``: the longest ``Retry-After``
    honoured (a longer one fails the image at once); ``max_redirects``: redirects
    followed, to http(s) URLs only; ``file_roots``: the folders ``file://`` URLs may
    read from (none: no ``file://`` at all).
    """
    timeout: float = 10.0
    deadline: float = 120.0
    max_bytes: int = 50 * 2 ** 20
    max_wait: float = 60.0
    max_redirects: int = 5
    file_roots: tuple = ()


class _Transient(Exception):
    """A failure worth retrying (server trouble, network, timeout, cut body)."""

    def __init__(self, reason, retry_after=None):
        super().__init__(reason)
        self.retry_after = retry_after   # seconds the server asked to wait, when it did


class _Permanent(Exception):
    """A failure that a retry would not fix (4xx, not an image, missing local file)."""


_sleep = time.sleep   # waits between tries go through here


def _is_timeout(exc):
    return isinstance(exc, TimeoutError) or isinstance(
        getattr(exc, "reason", None), TimeoutError)


def _retry_after(value):
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


def _too_large(limits):
    return _Permanent(f"larger than {limits.max_bytes / 2 ** 20:g} MB")


def _copy(read, out, limits, end):
    """Copy ``read(n)`` chunks into ``out`` until EOF, within the size cap and deadline."""
    total = 0
    while True:
        if time.monotonic() > end:
            raise _Permanent(f"deadline of {limits.deadline:g} s passed while reading")
        chunk = read(64 * 1024)
        if not chunk:
            return
        total += len(chunk)
        if total > limits.max_bytes:
            raise _too_large(limits)
        out.write(chunk)


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows at most ``limit`` redirects, and only to http(s) URLs."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        self.max_redirections = self.max_repeats = limit + 1   # urllib's own loop check never comes first

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        hops = getattr(req, "hops", 0)
        if hops >= self.limit:
            raise _Permanent(f"more than {self.limit} redirects")
        scheme = urllib.parse.urlparse(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise _Permanent(f"redirect to a {scheme or 'relative'} URL not followed")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.hops = hops + 1
        return new


def _fetch_http(url, out, limits, end):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    opener = urllib.request.build_opener(_Redirects(limits.max_redirects))
    timeout = max(0.001, min(limits.timeout, end - time.monotonic()))
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length", "")
            if length.strip().isdigit() and int(length) > limits.max_bytes:
                raise _too_large(limits)
            _copy(response.read1, out, limits, end)
    except (_Transient, _Permanent):
        raise
    except urllib.error.HTTPError as exc:
        # 408 (request timeout), 429 (too many requests) and 5xx are worth another try,
        # after the wait the server asks for (Retry-After) when it names one.
        if exc.code >= 500 or exc.code in (408, 429):
            raise _Transient(f"HTTP {exc.code}", _retry_after(exc.headers.get("Retry-After"))) from None
        if 300 <= exc.code < 400:
            raise _Permanent(f"HTTP {exc.code}: redirect not followed") from None
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


def _inside(path, root):
    return os.path.commonpath([path, root]) == root


def _fetch_file(url, out, limits, end):
    """A ``file://`` URL: only a regular file under one of ``limits.file_roots``."""
    parts = urllib.parse.urlparse(url)
    if parts.netloc not in ("", "localhost"):
        raise _Permanent(f"file URL with a host ({parts.netloc})")
    path = os.path.realpath(urllib.request.url2pathname(parts.path))
    if not any(_inside(path, os.path.realpath(root)) for root in limits.file_roots):
        raise _Permanent("file URL outside the allowed folders")
    try:
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise _Permanent("file URL of something that is not a regular file")
            _copy(f.read, out, limits, end)
    except FileNotFoundError:
        raise _Permanent("file not found") from None
    except OSError as exc:
        raise _Permanent(f"cannot read file: {exc.strerror}") from None


def _fetch(url, out, limits, end):
    """Write the body at ``url`` (``http``, ``https`` or ``file``) to ``out``;
    raises _Transient/_Permanent."""
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme in ("http", "https"):
        return _fetch_http(url, out, limits, end)
    if scheme == "file":
        return _fetch_file(url, out, limits, end)
    raise _Permanent(f"unsupported URL scheme {scheme!r}")


_PART = re.compile(r"^\..+\.(\d+)\.\w+\.part$")


def _part_file(target):
    """A new temporary file next to ``target`` whose name carries this process's id."""
    return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".part")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_parts(folder):
    """Delete the ``.part`` files of downloads that were killed (their process is gone);
    those of a download still running are left alone. Returns how many were removed."""
    removed = 0
    for entry in os.scandir(folder):
        if not (entry.name.startswith(".") and entry.name.endswith(".part") and entry.is_file()):
            continue
        match = _PART.match(entry.name)
        if match and _alive(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed += 1
    return removed


def _save_verified(url, target, limits, end):
    """Fetch ``url`` into a temporary file next to ``target``, decode it, and move it
    into place if valid."""
    fd, tmp = _part_file(target)
    try:
        with os.fdopen(fd, "wb") as f:
            _fetch(url, f, limits, end)
        problem = _decode_problem(tmp)
        if problem == "not an image":
            raise _Permanent(problem)
        if problem:
            raise _Transient(problem)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _wait_before(exc, attempt, backoff, limits, end):
    """Seconds to wait before the next try, or _Permanent when the wait is not allowed."""
    wait = backoff * 2 ** attempt
    if exc.retry_after is not None:
        if exc.retry_after > limits.max_wait:
            raise _Permanent(f"{exc} (Retry-After {exc.retry_after:g} s is longer than the "
                             f"{limits.max_wait:g} s allowed)")
        wait = exc.retry_after
    if time.monotonic() + wait > end:
        raise _Permanent(f"{exc}; deadline of {limits.deadline:g} s reached after {attempt + 1} "
                         f"{'tries' if attempt else 'try'}")
    return wait


def _download_one(url, target, retries, backoff, limits):
    """Fetch one image; returns ``"skipped"``/``"ok"`` or raises _Permanent with a reason."""
    problem = _decode_problem(target) if target.exists() else "missing"
    if problem is None:
        return "skipped"
    tries, end = retries + 1, time.monotonic() + limits.deadline
    try:
        for attempt in range(tries):
            try:
                _save_verified(url, target, limits, end)
                return "ok"
            except _Transient as exc:
                if attempt == tries - 1:
                    plural = "tries" if tries > 1 else "try"
                    raise _Permanent(f"{exc} after {tries} {plural}") from None
                _sleep(_wait_before(exc, attempt, backoff, limits, end))
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
                    progress=True, deadline=120.0, max_bytes=50 * 2 ** 20, file_roots=(),
                    max_wait=60.0, max_redirects=5):
    """Download ``urls`` to ``<out_dir>/<id>.jpg`` concurrently; returns a DownloadReport.

    ``retries`` is the number of extra tries after a transient failure (so at most
    ``retries + 1`` tries, waiting ``backoff * 2**k`` seconds before retry k+1, or what
    the server's ``Retry-After`` asks up to ``max_wait``); ``timeout`` is the socket
    timeout of one connect or read in seconds; ``deadline``, ``max_bytes``,
    ``file_roots`` and ``max_redirects``: see :class:`Limits`. Safe to rerun: valid
    files are skipped without a request, and the ``.part`` files of a killed earlier
    run are removed first. Ids must be usable as file names (no path separator, no
    ``..``); a ``ValueError`` is raised before anything is fetched otherwise.
    """
    url_of = _validate_inputs(ids, urls)
    limits = Limits(timeout, deadline, max_bytes, max_wait, max_redirects, tuple(map(str, file_roots)))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = DownloadReport(urls=url_of, removed_parts=remove_stale_parts(out_dir))
    start = time.monotonic()

    def work(image_id):
        return _download_one(url_of[image_id], out_dir / f"{image_id}.jpg", retries, backoff, limits)

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
