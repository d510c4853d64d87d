"""Writes N seed-shaped articles, deterministically for a given random seed.

python -m bench.corpus DIR N [--seed 1]
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

TOPICS = [f"Topic {n:02d}" for n in range(40)]
WORDS = [
    "facial",
    "recognition",
    "police",
    "council",
    "ban",
    "technology",
    "city",
    "privacy",
    "data",
    "model",
    "vision",
    "software",
    "bias",
    "report",
    "vote",
    "law",
    "court",
    "market",
    "cloud",
    "network",
    "study",
]


#: Bump when the articles change: the benchmark runner then writes its corpora again.
VERSION = 2


def _sentence(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(WORDS) for _ in range(words)]
    # Like the samples, news text is seldom plain ASCII (’ “ ” —): such text
    # costs more to read (mojibake repair runs on it) and to keep in memory
    # (Python stores it at two bytes a character). Version 1 was all ASCII
    # and hid both.
    if rng.random() < 0.5:
        chosen[rng.randrange(words)] += "’s"
    if words > 4 and rng.random() < 0.3:
        index = rng.randrange(words)
        chosen[index] = f"“{chosen[index]}”"
    if words > 6 and rng.random() < 0.25:
        chosen.insert(rng.randrange(1, words), "—")
    return " ".join(chosen).capitalize()


def article(rng: random.Random, index: int) -> str:
    start = datetime(2019, 1, 1, tzinfo=UTC)
    published = start + timedelta(minutes=rng.randrange(7 * 365 * 24 * 60))
    host = f"news{index % 97}.example.com"
    link = f"https://{host}/{published:%Y/%m/%d}/story-{index}"
    topics = "".join(f"  - {t}\n" for t in rng.sample(TOPICS, rng.randint(1, 3)))
    images = "".join(
        f'  - url: "https://img.example.com/{index}-{n}.jpg"\n'
        f"    width: {rng.choice([600, 720, 1200])}\n    height: {rng.choice([360, 393, 675])}\n"
        "    isCached: true\n"
        for n in range(rng.randint(0, 2))
    )
    related = "".join(
        f'  - title: "{_sentence(rng, 8)}"\n'
        f'    excerpt: "{_sentence(rng, 20)}"\n'
        f"    publishedDateTime: {(published - timedelta(hours=n + 1)).isoformat()}\n"
        f'    webUrl: "https://related{n}.example.org/{index}"\n'
        f"    provider:\n      name: Related {n}\n      domain: related{n}.example.org\n"
        for n in range(rng.randint(0, 4))
    )
    secured = "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl0123456789+/") for _ in range(800)
    )
    return (
        "---\n"
        "category: news\n"
        f'title: "{_sentence(rng, 9)} {index}"\n'
        f'excerpt: "{_sentence(rng, 35)}"\n'
        f"publishedDateTime: {published.isoformat().replace('+00:00', 'Z')}\n"
        f'originalUrl: "{link}"\n'
        f'webUrl: "{link}"\n'
        "type: article\n"
        f"quality: {rng.randint(0, 100)}\n"
        "heat: -1\n"
        "published: false\n\n"
        f"provider:\n  name: {host}\n  domain: {host}\n\n"
        f"topics:\n{topics}\n"
        + (f"images:\n{images}\n" if images else "")
        + (f"related:\n{related}\n" if related else "")
        + f'secured: "{secured}"\n'
        "---\n"
    )


def write_corpus(folder: Path, count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (folder / f"{index:06d}.txt").write_text(article(rng, index), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    write_corpus(args.folder, args.count, args.seed)


if __name__ == "__main__":
    main()
