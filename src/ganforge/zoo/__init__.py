"""The zoo: trained generators shipped as files, usable wherever a run directory is (``zoo:NAME``).

An entry is two files in a zoo folder: ``NAME.pt`` (the generator's weights in fp16 or bf16, the
run's resolved config, its step) and ``NAME.json``, its card: the preset it was trained from, the
commit, the images seen, its ``ganforge eval`` numbers, the sha256 of ``NAME.pt`` and the dtype.
Folders searched, in order: those in ``$GANFORGE_ZOO`` (separated by ``os.pathsep``), then this
package's folder. Loading checks the sha256 against the card (one line on a mismatch) and gives
back a checkpoint-like dict (float32 weights under ``"g"``) that :mod:`ganforge.sampling` and
``ganforge eval`` read like a run's. Nothing is downloaded. ``benchmarks/make_zoo.py RUN NAME``
writes an entry with :func:`write_entry`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..errors import GanforgeError
from ..files import file_sha256
from ..registry import did_you_mean

PREFIX = "zoo:"
FORMAT = "ganforge-zoo-v1"
PACKAGE_ZOO = Path(__file__).resolve().parent
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def is_zoo(source) -> bool:
    """Whether ``source`` names a zoo entry (``zoo:NAME``) rather than a path."""
    return isinstance(source, str) and source.startswith(PREFIX)


def folders() -> list[Path]:
    """The zoo folders searched, in order."""
    extra = [Path(p).expanduser() for p in os.environ.get("GANFORGE_ZOO", "").split(os.pathsep) if p.strip()]
    return extra + [PACKAGE_ZOO]


def entries() -> dict[str, Path]:
    """Entry name -> its card (``NAME.json``); an earlier folder hides a later one's entry of that name."""
    out: dict[str, Path] = {}
    for folder in folders():
        for card in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            out.setdefault(card.stem, card)
    return out


def card_of(source: str) -> dict:
    """The card of ``zoo:NAME`` (or ``NAME``), with ``path``: the folder it was found in."""
    name = source[len(PREFIX):] if is_zoo(source) else source
    found = entries()
    if name not in found:
        have = ", ".join(found) or "none"
        raise GanforgeError(f"unknown zoo entry '{name}'{did_you_mean(name, found)}; the zoo holds: {have} "
                            "(ganforge zoo lists them; GANFORGE_ZOO adds folders)")
    path = found[name]
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GanforgeError(f"zoo card {path} is unreadable ({' '.join(str(exc).split())[:120]})") from None
    return {**card, "name": name, "path": str(path.parent)}


def load_entry(source: str) -> dict:
    """The checkpoint-like state of zoo entry ``source``: ``g`` (float32), ``g_ema`` None, ``config``,
    ``step``, ``zoo`` (its card). The file's sha256 must match the card's."""
    card = card_of(source)
    weights = Path(card["path"]) / f"{card['name']}.pt"
    if not weights.is_file():
        raise GanforgeError(f"zoo entry '{card['name']}' has a card but no weights file {weights}")
    digest = file_sha256(weights)
    if digest != card.get("sha256"):
        raise GanforgeError(f"zoo entry '{card['name']}': {weights.name} has sha256 {digest[:16]}..., its card says "
                            f"{str(card.get('sha256'))[:16]}...; the file is damaged or was replaced")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001: any unreadable file is the same one-line problem
        raise GanforgeError(f"zoo entry '{card['name']}': {weights} is unreadable ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GanforgeError(f"{weights} is not a ganforge zoo file (no '{FORMAT}' marker)")
    g = {k: v.float() if v.is_floating_point() else v for k, v in state["g"].items()}
    return {"g": g, "g_ema": None, "config": state["config"], "step": state.get("step", 0), "zoo": card,
            "loaded_from": str(weights), "fell_back": False}


def write_entry(folder: str | Path, name: str, g_state: dict, config: dict, card: dict,
                dtype: str = "fp16") -> Path:
    """Write ``NAME.pt`` (``g_state``'s floating-point tensors in ``dtype``) and its card ``NAME.json``
    (``card`` plus the sha256, the dtype and the file's size); returns the card's path."""
    if dtype not in DTYPES:
        raise GanforgeError(f"zoo dtype must be one of {', '.join(DTYPES)}, got '{dtype}'")
    if not name or any(c in name for c in "/\\:") or name.startswith("."):
        raise GanforgeError(f"zoo entry name '{name}' must be a plain file name (no '/', '\\' or ':')")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    small = {k: v.detach().cpu().to(DTYPES[dtype]) if v.is_floating_point() else v.detach().cpu()
             for k, v in g_state.items()}
    weights = folder / f"{name}.pt"
    torch.save({"format": FORMAT, "g": small, "config": config, "step": int(card.get("step", 0))}, weights)
    full = {**card, "dtype": dtype, "sha256": file_sha256(weights), "bytes": weights.stat().st_size}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
    return path


def update_card(source: str, **fields) -> Path:
    """Add ``fields`` to the card of ``source`` (e.g. its ``eval`` numbers); the weights are unchanged."""
    card = card_of(source)
    path = Path(card.pop("path")) / f"{card.pop('name')}.json"
    path.write_text(json.dumps({**card, **fields}, indent=2) + "\n", encoding="utf-8")
    return path


def listing() -> str:
    """The text of ``ganforge zoo``: one block per entry with its card's main fields."""
    found = entries()
    if not found:
        return ("the zoo is empty; benchmarks/make_zoo.py RUN NAME adds a trained run, GANFORGE_ZOO adds folders "
                f"(searched: {', '.join(str(f) for f in folders())})")
    lines = []
    for name in found:
        card = card_of(name)
        numbers = ", ".join(f"{k} {v:.4g}" for k, v in (card.get("eval") or {}).items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("n", "seconds", "step"))
        lines.append(f"zoo:{name}  preset {card.get('preset', '?')}, {card.get('kimg', '?')} kimg, {card.get('dtype')}, "
                     f"{card.get('bytes', 0) / 1e6:.2f} MB, commit {str(card.get('commit', '?'))[:10]}")
        lines.append(f"    eval: {numbers or 'none recorded'}")
    return "\n".join(lines)
