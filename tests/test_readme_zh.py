"""README.zh-CN.md must not drift from README.md (issue 13).

Both files must show the same shell commands, presets, images and in-page anchors, README.md must
link to the Chinese one, and the Chinese one must really be Chinese. Standard library only.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EN = ROOT / "README.md"
ZH = ROOT / "README.zh-CN.md"

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
COMMENT = re.compile(r"(^|\s)#.*$")
LINK_LINE = re.compile(r"\[[^\]]*\]\([^)]*\)")
IMAGE = re.compile(r"\]\((docs/images/[^)\s]+)\)")
ANCHOR_LINK = re.compile(r"\]\(#([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
PRESETS = sorted(p.stem for p in (ROOT / "configs").glob("*.toml"))


def read(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"{path.name} is missing (expected at {path})")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def docs() -> dict[str, str]:
    return {EN.name: read(EN), ZH.name: read(ZH)}


def without_code(text: str) -> str:
    """The text with fenced code blocks and inline code spans removed."""
    return INLINE_CODE.sub(" ", FENCE.sub("", text))


def inline_spans(text: str) -> list[str]:
    """Contents of the inline code spans outside fenced blocks, whitespace collapsed."""
    return [" ".join(m.group(2).split()) for m in INLINE_CODE.finditer(FENCE.sub("", text))]


def first_lines(text: str, n: int = 2) -> list[str]:
    """The first n non-empty lines that are not link lines (`[English](README.md) | 简体中文`)."""
    lines = [l.strip() for l in text.splitlines() if l.strip() and not LINK_LINE.search(l)]
    return lines[:n]


def commands(text: str) -> set[str]:
    """Every line of every fenced block, trailing `# comment` and whitespace stripped, plus the
    first two non-link lines (`make demo`, `make test`)."""
    found = set(first_lines(text))
    for block in FENCE.findall(text):
        for line in block.splitlines():
            line = COMMENT.sub("", line).rstrip()
            if line.strip():
                found.add(line)
    return found


def presets_in_backticks(text: str) -> set[str]:
    """Preset names written as `NAME`."""
    return {s for s in inline_spans(text) if s in PRESETS}


def presets_mentioned(text: str) -> set[str]:
    """Preset names written as `NAME` or inside a span holding `configs/NAME.toml`."""
    spans = inline_spans(text)
    return {p for p in PRESETS if p in spans or any(f"configs/{p}.toml" in s for s in spans)}


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped (CJK kept), spaces to '-'."""
    text = INLINE_CODE.sub(lambda m: m.group(2), heading).lower()
    kept = "".join(c for c in text
                   if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(FENCE.sub("", text)):
        slug = github_slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def is_cjk(c: str) -> bool:
    o = ord(c)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF
            or 0xF900 <= o <= 0xFAFF)


def describe(label: str, items) -> str:
    return f"{label}: " + (", ".join(repr(i) for i in sorted(items)) or "(none)")


def assert_same(what: str, en: set, zh: set) -> None:
    """``en`` (from the English README) equals ``zh``; the message names what each one lacks."""
    assert en == zh, (f"{what} differ\n" + describe(f"in {EN.name} but missing in {ZH.name}", en - zh) + "\n"
                      + describe(f"in {ZH.name} but missing in {EN.name}", zh - en))


def test_same_commands(docs):
    en, zh = docs[EN.name], docs[ZH.name]
    assert first_lines(zh) == first_lines(en), (
        f"the first two non-link lines differ: {EN.name} starts with {first_lines(en)}, "
        f"{ZH.name} with {first_lines(zh)}")
    assert_same("the shell commands / code lines of the two READMEs", commands(en), commands(zh))


def test_same_presets(docs):
    en, zh = docs[EN.name], docs[ZH.name]
    missing = presets_mentioned(en) - presets_mentioned(zh)
    assert not missing, describe(
        f"configs/*.toml presets named in backticks in {EN.name} but missing in {ZH.name}", missing)
    assert_same("the backticked preset names", presets_in_backticks(en), presets_in_backticks(zh))


def test_same_images_and_they_exist(docs):
    assert_same("the referenced images", *(set(IMAGE.findall(docs[n])) for n in (EN.name, ZH.name)))
    for name, text in docs.items():
        absent = {p for p in IMAGE.findall(text) if not (ROOT / p).is_file()}
        assert not absent, describe(f"images referenced in {name} that do not exist", absent)


def test_anchor_links_resolve(docs):
    for name, text in docs.items():
        targets = set(ANCHOR_LINK.findall(text))
        broken = targets - anchors(text)
        assert not broken, (
            describe(f"in-page links in {name} that match no heading", broken) + "\n"
            + describe("headings' anchors", anchors(text)))


def test_english_readme_links_to_chinese(docs):
    assert f"]({ZH.name})" in docs[EN.name], (
        f"{EN.name} does not link to {ZH.name}: add a line such as "
        f"`English | [简体中文]({ZH.name})` at its top")


def test_chinese_readme_is_chinese(docs):
    prose = without_code(docs[ZH.name])
    prose = re.sub(r"\]\([^)]*\)", "]", prose)  # link targets are paths, not prose
    prose = re.sub(r"<!--.*?-->", "", prose, flags=re.S)
    chars = [c for c in prose if c.isalnum()]
    cjk = sum(map(is_cjk, chars))
    share = cjk / max(len(chars), 1)
    assert share >= 0.30, (
        f"only {share:.0%} of the letters and digits outside code in {ZH.name} are Chinese "
        f"({cjk} of {len(chars)}); is it translated?")
