"""Names and paths read from input files, checked before they touch the file system.

A label file, a run's CSVs or a URL list can name anything; the kit only ever reads an
image inside the data root it was given and only writes files inside the folder it was
asked to write to. Two shapes are allowed:

* a plain name (an image id, a task name): used as one file name, so no path
  separator, not ``.`` or ``..``, no NUL;
* a relative image path (``Images/skirt/1.jpg``): not absolute, and it stays inside
  its root after ``..`` parts are resolved.
"""
import ntpath
import os
import posixpath

_SEPARATORS = ("/", "\\", "\0")


def is_plain_name(text):
    """True when ``text`` can be used as one file name inside a folder."""
    text = str(text)
    return bool(text.strip()) and text not in (".", "..") and not any(s in text for s in _SEPARATORS)


def check_plain_name(text, what="name"):
    """``text`` unchanged, or ``ValueError`` saying why it cannot be a file name."""
    if not is_plain_name(text):
        raise ValueError(f"{what} {str(text)!r} cannot be used as a file name "
                         "(empty, '.', '..', or contains a path separator or NUL)")
    return str(text)


def is_inside_path(rel):
    """True when ``rel`` is a relative path that stays inside the folder it is joined to
    (``a/../b`` is fine, ``../b``, ``/etc/passwd`` and ``C:\\x`` are not)."""
    rel = str(rel)
    if not rel or "\0" in rel or posixpath.isabs(rel) or ntpath.isabs(rel) or ntpath.splitdrive(rel)[0]:
        return False
    parts = posixpath.normpath(rel.replace("\\", "/")).split("/")
    return parts[0] != ".." and parts != ["."]


def file_in(folder, name, what="name"):
    """``folder/name`` for a plain ``name`` (``ValueError`` otherwise): an output file
    named after data (a task name) cannot land outside ``folder``."""
    return os.path.join(folder, check_plain_name(name, what))
