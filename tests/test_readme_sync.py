"""The numbers in README.md, README.zh-CN.md and docs/results.md must agree (issue 27).

`benchmarks/results.py` writes docs/results.md and the same tables between README.md's
`<!-- results:start -->` / `<!-- results:end -->` markers; README.zh-CN.md is translated by hand. These
tests parse the Markdown tables of the three files and fail when a results row is missing in one of
them or holds other numbers, and when any other table of the two READMEs (speed, precision, anomaly
AUROC, presets ...) differs in its numbers. Standard library only.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EN = ROOT / "README.md"
ZH = ROOT / "README.zh-CN.md"
RESULTS_MD = ROOT / "docs" / "results.md"
TUTORIALS_MARK = "<!-- tutorials:start -->"  # docs/results.md's tutorials section follows (benchmarks/results.py keeps it)
START, END = "<!-- results:start -->", "<!-- results:end -->"

FENCE = re.compile(r"^```[^\n]*\n.*?^```[ \t]*$", re.S | re.M)
SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
# A number not glued to a preceding ASCII letter, digit, '_' or '.' (so `hinge64_mnist`, `fp32` and
# `4x400`'s 400 are not numbers); CJK characters around a number do not matter. Thousands separators
# are dropped: "3,000,000" is one number. "2-D" is a word ("二维"), not a number.
NUMBER = re.compile(r"(?<![A-Za-z0-9_.])-?\d+(?:,\d{3})*(?:\.\d+)?(?![\d.]*-D\b)")
BACKTICKED = re.compile(r"`([^`]+)`")

# What the parsers must find, so that a test cannot pass on tables it failed to read.
MIN_RESULT_ROWS = 25      # 3 real-data + 17 presets + 4 conditional + 2 toy rows when this was written
MIN_PRESET_ROWS = 15      # rows of the largest results table (the presets)
MIN_README_TABLES = 9     # tables in each README (ingredients, presets, 4 results, anomaly, 2 speed)


def read(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"{path.relative_to(ROOT)} is missing")
    return path.read_text(encoding="utf-8")


def split_row(line: str) -> list[str]:
    """The cells of a Markdown table row (escaped pipes kept inside their cell)."""
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)]


def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table outside fenced code, as a list of body rows (lists of cells); the
    header row and the separator are dropped."""
    out: list[list[list[str]]] = []
    lines = FENCE.sub("", text).splitlines()
    i = 0
    while i < len(lines):
        if (lines[i].lstrip().startswith("|") and i + 1 < len(lines)
                and SEPARATOR.match(lines[i + 1].strip())):
            rows = []
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(split_row(lines[i]))
                i += 1
            out.append(rows)
        else:
            i += 1
    return out


def numbers(cells) -> list[str]:
    return [m.group(0).replace(",", "") for c in cells for m in NUMBER.finditer(c)]


def row_key(first_cell: str) -> str:
    """A results row's name: the backticked preset (`acgan_mnist`) or the bare data set (mnist)."""
    m = BACKTICKED.search(first_cell)
    return m.group(1) if m else first_cell.strip()


def results_section(text: str, name: str) -> str:
    if START not in text or END not in text:
        pytest.fail(f"{name} has no {START} ... {END} section (benchmarks/results.py writes the tables there)")
    return text.split(START, 1)[1].split(END, 1)[0]


def result_rows(markdown: str) -> dict[tuple[int, str], list[str]]:
    """{(table index, row name): the row's numbers, in order} for the results tables."""
    out: dict[tuple[int, str], list[str]] = {}
    for t, rows in enumerate(tables(markdown)):
        for cells in rows:
            key = (t, row_key(cells[0]))
            assert key not in out, f"results table {t + 1} has the row {key[1]!r} twice"
            out[key] = numbers(cells[1:])
    return out


def differences(a: dict, b: dict, name_a: str, name_b: str) -> list[str]:
    """One line per row missing on either side or holding other numbers."""
    lines = []
    for key in sorted(a.keys() - b.keys()):
        lines.append(f"table {key[0] + 1}, row {key[1]!r}: in {name_a}, missing in {name_b}")
    for key in sorted(b.keys() - a.keys()):
        lines.append(f"table {key[0] + 1}, row {key[1]!r}: in {name_b}, missing in {name_a}")
    for key in sorted(a.keys() & b.keys()):
        if a[key] != b[key]:
            lines.append(f"table {key[0] + 1}, row {key[1]!r}: {name_a} {a[key]} != {name_b} {b[key]}")
    return lines


def table_differences(en_tables, zh_tables) -> list[str]:
    """Row by row, the numbers of every table of one README against the same table of the other
    (as multisets: a translation may reorder the words of a cell, not change a number)."""
    if len(en_tables) != len(zh_tables):
        return [f"{EN.name} has {len(en_tables)} tables, {ZH.name} {len(zh_tables)}"]
    lines = []
    for t, (en_rows, zh_rows) in enumerate(zip(en_tables, zh_tables)):
        if len(en_rows) != len(zh_rows):
            lines.append(f"table {t + 1} (first row {en_rows[0][0] if en_rows else ''!r}): "
                         f"{len(en_rows)} rows in {EN.name}, {len(zh_rows)} in {ZH.name}")
            continue
        for en_cells, zh_cells in zip(en_rows, zh_rows):
            en_n, zh_n = Counter(numbers(en_cells)), Counter(numbers(zh_cells))
            if en_n != zh_n:
                lines.append(f"table {t + 1}, row {en_cells[0]!r}: only in {EN.name} "
                             f"{sorted((en_n - zh_n).elements())}, only in {ZH.name} "
                             f"{sorted((zh_n - en_n).elements())}")
    return lines


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    results, _, tutorials = read(RESULTS_MD).partition(TUTORIALS_MARK)
    return {"en": read(EN), "zh": read(ZH), "results": results, "tutorials": tutorials}


def tutorials_section(text: str) -> str:
    """README.md's section "The tutorials, reproduced" (up to the next second-level heading)."""
    assert "\n## The tutorials, reproduced\n" in text, "README.md has no section 'The tutorials, reproduced'"
    return text.split("\n## The tutorials, reproduced\n", 1)[1].split("\n## ", 1)[0]


def test_tutorials_table_matches_docs_results(texts):
    """docs/results.md's tutorials table is the README's, row for row and number for number."""
    readme, docs = tables(tutorials_section(texts["en"])), tables(texts["tutorials"])
    assert len(docs) == 1 and len(docs[0]) >= 8, "docs/results.md: the tutorials table was not found"
    assert readme and readme[0] == docs[0], "the README's tutorials table differs from docs/results.md's"


def test_parser_finds_the_results_tables(texts):
    """The parser reads real rows, so that the comparisons below cannot pass on nothing."""
    for name, text in ((EN.name, results_section(texts["en"], EN.name)),
                       (ZH.name, results_section(texts["zh"], ZH.name)),
                       ("docs/results.md", texts["results"])):
        rows = result_rows(text)
        assert len(rows) >= MIN_RESULT_ROWS, f"{name}: only {len(rows)} results rows parsed: {sorted(rows)}"
        largest = max(len(t) for t in tables(text))
        assert largest >= MIN_PRESET_ROWS, f"{name}: the largest results table has only {largest} rows"
        assert all(rows.values()), f"{name}: results rows without numbers: {[k for k, v in rows.items() if not v]}"
        assert len(rows.get((1, "selfcond_mnist"), [])) >= 10, f"{name}: the selfcond_mnist row was not read"
    for name in ("en", "zh"):
        assert len(tables(texts[name])) >= MIN_README_TABLES, f"{name}: too few tables parsed"


def test_parser_reads_a_row():
    row = ("| `hinge64_mnist` | mnist | dcgan | hinge | SN, EMA 10k, TTUR 0.0001/0.0004, linear lr decay "
           "| 1,400,000 | 14.4 min | 4.58 | -0.50 | 3.3 pp |")
    cells = split_row(row)
    assert row_key(cells[0]) == "hinge64_mnist"
    assert numbers(cells[1:]) == ["10", "0.0001", "0.0004", "1400000", "14.4", "4.58", "-0.50", "3.3"]
    assert numbers(["约 26 分钟，FID 1.95（召回率0.73）"]) == ["26", "1.95", "0.73"]
    assert numbers(["`ring8` 16 + 2, MLP 4x400, fp32, hinge64_mnist, 2-D mixtures"]) == ["16", "2", "4"]


def test_readme_results_match_docs_results(texts):
    """README.md's results section holds the tables of docs/results.md, number for number."""
    en = result_rows(results_section(texts["en"], EN.name))
    md = result_rows(texts["results"])
    diff = differences(md, en, "docs/results.md", EN.name)
    assert not diff, ("README.md's results section differs from docs/results.md (run "
                      "`.venv/bin/python benchmarks/results.py --render-only`):\n" + "\n".join(diff))


def test_chinese_results_match_english(texts):
    en = result_rows(results_section(texts["en"], EN.name))
    zh = result_rows(results_section(texts["zh"], ZH.name))
    diff = differences(en, zh, EN.name, ZH.name)
    assert not diff, f"the results tables of {ZH.name} differ from {EN.name}'s:\n" + "\n".join(diff)


def test_every_table_has_the_same_numbers(texts):
    """All other tables too: the speed, precision and anomaly tables, the presets and ingredients."""
    diff = table_differences(tables(texts["en"]), tables(texts["zh"]))
    assert not diff, f"tables of {ZH.name} differ from {EN.name}'s:\n" + "\n".join(diff)


def test_a_changed_number_is_caught(texts):
    """The comparisons fail on a changed, a missing and an extra number, and on a missing row."""
    zh = texts["zh"]
    section = results_section(zh, ZH.name)
    line = next(l for l in section.splitlines() if l.startswith("| `selfcond_mnist`"))
    en = result_rows(results_section(texts["en"], EN.name))

    changed = line.replace("| 0.74 |", "| 0.75 |")
    assert changed != line
    for mutated in (changed, line.replace("| 0.74 |", "|  |"), line.rstrip("|") + " 1 |"):
        bad = result_rows(section.replace(line, mutated))
        assert differences(en, bad, EN.name, ZH.name), mutated
        assert table_differences(tables(texts["en"]), tables(zh.replace(line, mutated))), mutated
    bad = result_rows(section.replace(line + "\n", ""))
    assert any("missing" in d for d in differences(en, bad, EN.name, ZH.name))
    # a number changed in a non-results table is caught too
    assert "| 0.697 |" in zh or "**0.697**" in zh
    assert table_differences(tables(texts["en"]), tables(zh.replace("**0.697**", "**0.698**")))
