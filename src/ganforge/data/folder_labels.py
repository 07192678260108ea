"""Class labels of an image folder (``data.labels``), checked before any image is decoded.

- ``data.labels = "folders"``: every first-level subfolder of ``data.path`` is a class (hidden
  folders aside), classes named by subfolder name and numbered in sorted order; an image belongs to
  the subfolder it lies under, however deep. Images directly in ``data.path`` beside the subfolders,
  and a subfolder without images, are errors.
- ``data.labels = "dataset.json"`` (any path; a relative one is read relative to ``data.path``):
  StyleGAN2-ADA's form ``{"labels": [["rel/path.png", 3], ...]}``, paths relative to the folder with
  forward slashes, labels class indices 0..K-1; an optional ``"class_names": [...]`` names the K
  classes (else they are named "0", "1", ...). Every image of the folder needs exactly one entry,
  every entry an image, every class an image.
- ``data.labels = ""``: unlabelled.

Every problem is one :class:`GanforgeError` line naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GanforgeError

FOLDERS = "folders"


@dataclass(frozen=True)
class FolderLabels:
    """One label per image file (in :func:`~ganforge.data.folder.list_images` order) and the class names."""

    labels: np.ndarray  # int64, one per file
    class_names: tuple[str, ...]


def _few(items, n: int = 3) -> str:
    items = list(items)
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")


def labels_file(root: Path, spec: str) -> Path:
    """The labels file that ``data.labels = spec`` names (relative paths are inside the folder)."""
    path = Path(spec).expanduser()
    return path if path.is_absolute() else Path(root) / path


def _subfolders(root: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))


# ---------------------------------------------------------------------------- dataset.json
def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise GanforgeError(f"data.labels={path}: no such file (a StyleGAN2-ADA dataset.json, or data.labels=folders)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise GanforgeError(f"labels file {path} is not valid JSON ({' '.join(str(exc).split())}); "
                            'expected {"labels": [["rel/path.png", 0], ...]}') from None
    if not isinstance(doc, dict) or not isinstance(doc.get("labels"), list):
        raise GanforgeError(f'labels file {path} has no "labels" list; expected {{"labels": [["rel/path.png", 0], ...]}} '
                            "(StyleGAN2-ADA's dataset.json)")
    return doc


def _json_class_names(path: Path, doc: dict, labels: list[int]) -> tuple[str, ...]:
    names = doc.get("class_names")
    if names is None:
        if labels and max(labels) >= len(labels):  # K = max + 1 classes need K images at least
            raise GanforgeError(f"labels file {path}: label {max(labels)} is out of range for {len(labels)} images; "
                                'number the classes 0..K-1 without gaps (or name them in "class_names")')
        return tuple(str(i) for i in range(max(labels) + 1)) if labels else ()
    if (not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names)
            or len(set(names)) != len(names)):
        raise GanforgeError(f'labels file {path}: "class_names" must be a list of distinct non-empty strings, '
                            f"got {json.dumps(names)[:80]}")
    return tuple(names)


def _json_entries(path: Path, doc: dict) -> tuple[dict[str, int], tuple[str, ...]]:
    """{relative path: label} and the class names of a dataset.json, every entry checked."""
    entries: dict[str, int] = {}
    for i, entry in enumerate(doc["labels"]):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise GanforgeError(f'labels file {path}: entry {i} is {json.dumps(entry)[:60]}, not a ["rel/path.png", label] pair')
        rel, label = entry
        if isinstance(label, bool) or not isinstance(label, int):
            raise GanforgeError(f"labels file {path}: {rel} has label {json.dumps(label)[:40]}, not a whole number; "
                                "labels are class indices 0, 1, 2, ...")
        if label < 0:
            raise GanforgeError(f"labels file {path}: {rel} has label {label}; labels are class indices 0, 1, 2, ... (not negative)")
        key = posixpath.normpath(rel)
        if key in entries:
            raise GanforgeError(f"labels file {path} lists {rel} twice; keep one entry per image")
        entries[key] = label
    names = _json_class_names(path, doc, list(entries.values()))
    bad = sorted({v for v in entries.values() if v >= len(names)})  # only with "class_names": else K = max + 1
    if bad:
        raise GanforgeError(f'labels file {path}: label {bad[0]} is out of range: "class_names" names {len(names)} '
                            f"classes (0..{len(names) - 1}); fix the label or add its class name")
    return entries, names


# ---------------------------------------------------------------------------- both forms
def class_names(root: Path, spec: str) -> tuple[str, ...]:
    """The class names of ``data.labels = spec`` for the folder ``root`` without listing the images
    (subfolder names, or the dataset.json's classes); () when ``spec`` is ""."""
    if not spec:
        return ()
    if spec == FOLDERS:
        return tuple(_subfolders(root))
    return _json_entries(labels_file(root, spec), _read_json(labels_file(root, spec)))[1]


def labels_key(root: Path, spec: str) -> str:
    """A short key of the labels (for cached statistics): "" unlabelled, "folders", or the labels file's sha1."""
    if not spec:
        return ""
    if spec == FOLDERS:
        return FOLDERS  # the paths, hence the labels, are in the folder's own fingerprint
    return "json" + hashlib.sha1(labels_file(root, spec).read_bytes()).hexdigest()[:12]


def _empty_classes(names: tuple[str, ...], labels: np.ndarray) -> str:
    """The classes without an image, quoted (e.g. "'red', 'grey'"), or ""."""
    counts = np.bincount(labels, minlength=len(names))
    return _few(repr(names[c]) for c in np.flatnonzero(counts == 0))


def read_labels(root: Path, files: list[Path], spec: str) -> FolderLabels:
    """The label of every file of ``files`` (images under ``root``) by ``data.labels = spec``."""
    root = Path(root)
    rel = [f.relative_to(root).as_posix() for f in files]
    if spec == FOLDERS:
        loose = [r for r in rel if "/" not in r]
        subs = _subfolders(root)
        if loose:
            raise GanforgeError(f"data.labels=folders: {len(loose)} image(s) lie directly in {root} "
                                f"({_few(loose)}), not in a class subfolder; move them into one "
                                "(each first-level subfolder is a class) or set data.labels=\"\"")
        names = tuple(subs)
        index = {n: i for i, n in enumerate(names)}
        labels = np.array([index[r.split("/", 1)[0]] for r in rel], np.int64)
        empty = _empty_classes(names, labels)
        if empty:
            raise GanforgeError(f"data.labels=folders: class subfolder {empty} of {root} holds no images; "
                                "add images to it or remove it")
        return FolderLabels(labels, names)
    path = labels_file(root, spec)
    entries, names = _json_entries(path, _read_json(path))
    found = set(rel)
    missing = [r for r in entries if r not in found]
    if missing:
        raise GanforgeError(f"labels file {path} names {len(missing)} file(s) that are not images under {root} "
                            f"({_few(missing)}); fix the paths (relative to the folder, forward slashes) or drop "
                            "those entries")
    unlabelled = [r for r in rel if r not in entries]
    if unlabelled:
        raise GanforgeError(f"{len(unlabelled)} image(s) under {root} have no label in {path} ({_few(unlabelled)}); "
                            "add them to its labels or move them out of the folder")
    labels = np.array([entries[r] for r in rel], np.int64)
    empty = _empty_classes(names, labels)
    if empty:
        raise GanforgeError(f"labels file {path}: class {empty} has no images under {root}; give it images "
                            '(or, without "class_names", number the classes 0..K-1 without gaps)')
    return FolderLabels(labels, names)
