"""Archive periods (issue 17) beside a revision that archived by month.

    python -m bench.archives REV [--articles 10000]

1. Outside the archive scheme nothing changes: both trees build the corpus
   from cold; every file not under ``archive/`` is compared byte for byte,
   and one that differs is compared again with its links to archive
   documents masked. Any other difference is printed and the exit code is 1.
2. The archives: how many documents, the largest, the most entries in one.
3. What one save rewrites, for each tree: a new article (the newest), an old
   article retitled, and an article dated into the busiest month; the files
   and bytes a `feeds build` then writes.

The corpus is linked, not copied (``cp -al``); an edited seed is written as a
new file, so the bench's corpus stays as it was.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.compare import REPO, _export
from bench.latency import code_env
from bench.run import WORK, _corpus

#: A link to an archive document, in any format.
_ARCHIVE_LINK = re.compile(rb"archive/[^\"<>\s]+?\.(?:atom\.xml|rss\.xml|json)")
_ENTRY = re.compile(rb"<entry>|<item>")
_DATE = re.compile(rb"^publishedDateTime: (\d{4}-\d{2}).*$", re.M)
_MOMENT = re.compile(rb"^publishedDateTime: (\S+:\d\d):\d\dZ$", re.M)


def _build(code: Path, seeds: Path, work: Path) -> None:
    command = [
        sys.executable, "-m", "feeds", "build", "-q",
        "--seeds", str(seeds), "--output", str(work / "output"), "--cache-dir", str(work / "cache"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=code, env=code_env(code), capture_output=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{code}: feeds build exited {done.returncode}: {done.stderr[-2000:]!r}")


def _identities(output: Path) -> dict[str, tuple[int, int, int]]:
    found = {}
    for path in output.rglob("*"):
        if path.is_file():
            stat = path.stat()
            found[path.relative_to(output).as_posix()] = (
                stat.st_ino,
                stat.st_mtime_ns,
                stat.st_size,
            )
    return found


def outside_archives(before: Path, after: Path) -> tuple[int, int, list[str]]:
    """Files outside archive/ that are identical, that differ only in their
    archive links, and the names of any that differ otherwise."""
    same, links_only, other = 0, 0, []
    names = {p.relative_to(before).as_posix() for p in before.rglob("*") if p.is_file()}
    names |= {p.relative_to(after).as_posix() for p in after.rglob("*") if p.is_file()}
    for name in sorted(n for n in names if not n.startswith("archive/")):
        old, new = before / name, after / name
        if not (old.is_file() and new.is_file()):
            other.append(f"only in one tree: {name}")
        elif old.read_bytes() == new.read_bytes():
            same += 1
        elif _masked(old.read_bytes()) == _masked(new.read_bytes()):
            links_only += 1
        else:
            other.append(f"differs: {name}")
    return same, links_only, other


def _masked(data: bytes) -> bytes:
    return _ARCHIVE_LINK.sub(b"archive/...", data)


def _archive_figures(output: Path) -> str:
    atoms = list((output / "archive").rglob("*.atom.xml"))
    files = [p for p in (output / "archive").rglob("*") if p.is_file()]
    largest = max((p.stat().st_size for p in files), default=0)
    most = max((len(_ENTRY.findall(p.read_bytes())) for p in atoms), default=0)
    return (
        f"{len(files):,} archive files, largest {largest / 1024:,.0f} KiB, at most {most} entries"
    )


def _busiest_month_seed(seeds: Path) -> Path:
    """A seed of the busiest month among the first few thousand."""
    months: Counter[str] = Counter()
    dated: dict[str, Path] = {}
    for path in sorted(seeds.iterdir())[:5000]:
        found = _DATE.search(path.read_bytes())
        if found:
            month = found.group(1).decode()
            months[month] += 1
            dated.setdefault(month, path)
    return dated[months.most_common(1)[0][0]]


def _save(seeds: Path, kind: str) -> None:
    """One save of ``kind``: ``new`` (dated after all others), ``late``
    (another article in the busiest month), ``retitle`` (an old article)."""
    path = _busiest_month_seed(seeds)
    text = path.read_bytes()
    if kind == "retitle":
        path.unlink()  # a new file: the linked corpus stays as it was
        path.write_bytes(text.replace(b'title: "', b'title: "Retitled ', 1))
        return
    text = text.replace(b'webUrl: "https://', b'webUrl: "https://' + kind.encode() + b".", 1)
    if kind == "new":  # a second after the newest, which is in the past
        newest = max(_MOMENT.findall(b"".join(p.read_bytes()[:600] for p in seeds.iterdir())))
        text = _DATE.sub(b"publishedDateTime: " + newest + b":59Z", text, count=1)
    (seeds / f"zz-{kind}.txt").write_bytes(text.replace(b"published: false", b"published: true"))


def _one_save(code: Path, corpus: Path, root: Path, kind: str) -> str:
    seeds = root / f"seeds-{kind}"
    subprocess.run(["cp", "-al", str(corpus / "seeds"), str(seeds)], check=True)
    work = root / f"save-{kind}"
    _build(code, seeds, work)
    before = _identities(work / "output")
    _save(seeds, kind)
    _build(code, seeds, work)
    after = _identities(work / "output")
    written = [name for name, identity in after.items() if before.get(name) != identity]
    size = sum(after[name][2] for name in written)
    shutil.rmtree(seeds)
    shutil.rmtree(work)
    return f"{len(written)} files, {size / 1024:,.0f} KiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("revision")
    parser.add_argument("--articles", type=int, default=10_000)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    corpus = _corpus(args.articles)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        root = Path(tmp)
        trees = {args.revision: _export(args.revision, root / "code"), "working tree": REPO}
        outputs: dict[str, Path] = {}
        for name, code in trees.items():
            work = root / f"cold-{len(outputs)}"
            _build(code, corpus / "seeds", work)
            outputs[name] = work / "output"
            print(f"{name}: {_archive_figures(work / 'output')}", flush=True)
        same, links_only, other = outside_archives(*outputs.values())
        print(
            f"{args.articles:,} articles, outside archive/: {same:,} files identical, "
            f"{links_only:,} differ only in links to archives, {len(other)} otherwise"
        )
        for line in other[:50]:
            print(f"  {line}")
        print(f"\n| one save, {args.articles:,} articles | " + " | ".join(trees) + " |")
        print("|---|" + "---:|" * len(trees))
        for kind in ("new", "retitle", "late"):
            cells = [_one_save(code, corpus, root, kind) for code in trees.values()]
            print(f"| {kind} | " + " | ".join(cells) + " |", flush=True)
    return 1 if other else 0


if __name__ == "__main__":
    sys.exit(main())
