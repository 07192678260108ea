"""The presets: TOML configs shipped inside the package, found by name.

A preset's name is its path under this folder without ``.toml``: ``dcgan_mnist``,
``tutorials/tutorial1_tf_dcgan_mnist`` (or the bare ``tutorial1_tf_dcgan_mnist`` when no other
preset has that file name). The repository's ``configs/`` is a link to this folder, so
``configs/dcgan_mnist.toml`` names the same file. :func:`resolve` turns what a user typed into a
file: a file that exists wins, then a preset name; anything else is one line with a did-you-mean.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import GanforgeError
from ..registry import did_you_mean

PRESETS_DIR = Path(__file__).resolve().parent


def names() -> list[str]:
    """Every preset's name, top-level ones first, each group sorted."""
    files = sorted(PRESETS_DIR.rglob("*.toml"), key=lambda p: (len(p.relative_to(PRESETS_DIR).parts), str(p)))
    return [p.relative_to(PRESETS_DIR).with_suffix("").as_posix() for p in files]


def _by_stem() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in names():
        out.setdefault(name.rpartition("/")[2], []).append(name)
    return out


def preset_path(name: str) -> Path | None:
    """The file of preset ``name`` (full or bare name, ``.toml`` and a leading ``configs/`` allowed),
    or None when no preset has that name. A bare name shared by several presets is an error."""
    key = name.strip()
    key = key[:-5] if key.endswith(".toml") else key
    key = key[len("configs/"):] if key.startswith("configs/") else key
    if key in names():
        return PRESETS_DIR / f"{key}.toml"
    matches = _by_stem().get(key, [])
    if len(matches) > 1:
        raise GanforgeError(f"preset name '{name}' is ambiguous: {', '.join(matches)}; give the full name")
    return PRESETS_DIR / f"{matches[0]}.toml" if matches else None


def resolve(source: str | Path) -> Path:
    """A config file that exists, else the preset of that name; else a one-line error."""
    path = Path(source).expanduser()
    if path.is_file():
        return path
    found = preset_path(str(source))
    if found is not None:
        return found
    text = str(source)
    stem = Path(text).stem if text.endswith(".toml") else text.rpartition("/")[2]
    hint = did_you_mean(stem, list(_by_stem()))
    if text.endswith(".toml") or "/" in text or "\\" in text:
        raise GanforgeError(f"config file '{text}' not found{hint}; give a TOML file or a preset name "
                            "(ganforge presets lists them)")
    raise GanforgeError(f"unknown preset '{text}'{hint}; ganforge presets lists them (or give a TOML file)")


def describe(name: str) -> str:
    """One line about preset ``name``: its first comment line up to the first colon, semicolon or
    sentence end outside brackets (at most 100 characters)."""
    for line in (PRESETS_DIR / f"{name}.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and line.strip("# "):
            text, depth = line.lstrip("#").strip(), 0
            for i, ch in enumerate(text):
                depth += {"(": 1, ")": -1}.get(ch, 0)
                after = text[i + 1:i + 3]
                if depth == 0 and (ch in ":;" and after[:1] in (" ", "") or ch == "." and after[:1] == " "
                                   and after[1:].isupper()):
                    text = text[:i]
                    break
            text = text.rstrip(" .,")
            return text if len(text) <= 100 else text[:97].rstrip() + "..."
    return ""


def listing() -> str:
    """The text of ``ganforge presets``: one line per preset, name and description."""
    width = max(len(n) for n in names())
    return "\n".join(f"{n:<{width}}  {describe(n)}" for n in names())
