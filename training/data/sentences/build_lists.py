"""Build ``bn.txt`` and ``en.txt`` (``kind<TAB>sentence`` per line) from the written lines and templates.

Deterministic: ``python -m training.data.sentences.build_lists`` rewrites the same files. The
lists are committed; this script documents how they were made.
"""

from __future__ import annotations

import random
from pathlib import Path

from training.data.sentences import templates_bn, templates_en

HERE = Path(__file__).parent
TARGET = {"bn": 1100, "en": 520}


def read_written(path: Path) -> list[tuple[str, str]]:
    """``(kind, sentence)`` pairs from a file with ``## kind`` headings and ``#`` comments."""
    out, kind = [], "statement"
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("## "):
            kind = line[3:].strip()
        elif line and not line.startswith("#"):
            out.append((kind, line))
    return out


def build(lang: str, seed: int = 2026) -> list[tuple[str, str]]:
    module = templates_bn if lang == "bn" else templates_en
    pairs = read_written(HERE / f"{lang}_written.txt")
    seen = {s for _, s in pairs}
    rng = random.Random(seed)
    templates = module.TEMPLATES
    i = 0
    while len(pairs) < TARGET[lang]:
        kind, pattern = templates[i % len(templates)]
        i += 1
        sentence = module.fill(pattern, rng)
        if sentence not in seen:
            seen.add(sentence)
            pairs.append((kind, sentence))
        if i > 100 * TARGET[lang]:
            raise RuntimeError("templates cannot produce enough distinct sentences")
    return pairs


def main() -> None:
    for lang in TARGET:
        pairs = build(lang)
        (HERE / f"{lang}.txt").write_text("".join(f"{k}\t{s}\n" for k, s in pairs), encoding="utf-8")
        print(f"{lang}.txt: {len(pairs)} sentences")


if __name__ == "__main__":
    main()
