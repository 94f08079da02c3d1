"""URL filter: drop web documents whose address is on a block list, as datatrove's URLFilter does.

Rules, in order (the reason is `url:<rule>`):
- `domain`: the host or any domain above it (`a.b.example.com`, `b.example.com`, `example.com`) is
  blocked, by the user's domains or by the UT1 lists (adult, malware, ...) shipped in datatrove;
- `url`: the address itself is on UT1's URL list;
- `word`: a banned word is one of the URL's words; `soft_words`: two or more "soft" banned words;
- `subword`: a banned sub-word occurs anywhere in the URL's letters and digits.
The word lists are datatrove's (its assets folder) plus `url_filter.block_words`. Documents without
a URL (JSONL, text) pass untouched. Nothing is downloaded: the lists are files inside datatrove.

Memory: UT1 lists 4.6 M domains; as a Python set that is about 0.5 GB per worker, so they are
kept as a sorted array of 64-bit hashes (36 MB), built once and cached on disk.
"""

from __future__ import annotations

import os
import re
import tarfile
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import xxhash

from pipeline.config import UrlFilterConfig
from pipeline.documents import Document, FilterResult

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
UT1_ARCHIVE = "url_filterblacklistsv0_3_0.tar.gz"
SOFT_WORD_THRESHOLD = 2  # datatrove's


def datatrove_assets() -> Path:
    from datatrove.utils._import_utils import ASSETS_PATH

    return Path(ASSETS_PATH)


def _normalize(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def _read_words(path: Path) -> set[str]:
    words = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {_normalize(w) for w in words if w and not w.startswith("#")} - {""}


def _hash(text: str) -> int:
    return xxhash.xxh64_intdigest(text.encode("utf-8"))


def _cache_dir() -> Path:
    return Path(os.environ.get("GRISTMILL_CACHE", Path.home() / ".cache" / "gristmill"))


def ut1_hashes(member: str) -> np.ndarray:
    """Sorted 64-bit hashes of UT1's `domains` or `urls` list, cached beside the user's other caches."""
    archive = datatrove_assets() / UT1_ARCHIVE
    cache = _cache_dir() / f"ut1-{member}-{archive.stat().st_size}.npy"
    if cache.is_file():
        return np.load(cache)
    with tarfile.open(archive, "r:gz") as tar:
        stream = tar.extractfile(member)
        assert stream is not None, f"{archive} has no '{member}' list"
        hashes = np.fromiter((_hash(line.strip().decode("utf-8", "replace").lower()) for line in stream if line.strip()),
                             dtype=np.uint64)
    hashes = np.unique(hashes)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp.npy")
    np.save(tmp, hashes)
    os.replace(tmp, cache)
    return hashes


def _contains(sorted_hashes: np.ndarray, keys: list[str]) -> bool:
    if not keys or not len(sorted_hashes):
        return False
    wanted = np.array([_hash(k) for k in keys], dtype=np.uint64)
    at = np.searchsorted(sorted_hashes, wanted).clip(max=len(sorted_hashes) - 1)
    return bool((sorted_hashes[at] == wanted).any())


def host_of(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


def domain_chain(host: str) -> list[str]:
    """`a.b.example.com` → [a.b.example.com, b.example.com, example.com] (never the bare TLD)."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]


class URLFilter:
    name = "url"

    def __init__(self, config: UrlFilterConfig) -> None:
        self.block_domains = {d.strip().lower().lstrip(".") for d in config.block_domains if d.strip()}
        for file in config.block_domain_files:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
            self.block_domains |= {ln.strip().lower() for ln in lines if ln.strip() and not ln.startswith("#")}
        self.allow_domains = {d.strip().lower().lstrip(".") for d in config.allow_domains if d.strip()}
        self.banned_words = {_normalize(w) for w in config.block_words} - {""}
        self.soft_words: set[str] = set()
        self.subwords: set[str] = set()
        self.ut1_domains = np.empty(0, dtype=np.uint64)
        self.ut1_urls = np.empty(0, dtype=np.uint64)
        self._subword_pattern: re.Pattern[str] | None = None
        # The default lists load at the first document with a URL: a build of JSONL never pays for them.
        self._defaults_pending = config.default_lists

    def _load_default_lists(self) -> None:
        assets = datatrove_assets()
        self.banned_words |= _read_words(assets / "banned_words.txt")
        self.soft_words = _read_words(assets / "soft_banned_words.txt")
        self.subwords = _read_words(assets / "banned_subwords.txt")
        self._subword_pattern = re.compile("|".join(sorted(map(re.escape, self.subwords))))
        self.ut1_domains = ut1_hashes("domains")
        self.ut1_urls = ut1_hashes("urls")
        self._defaults_pending = False

    def filter(self, doc: Document) -> FilterResult:
        url = doc.metadata.get("url")
        if not isinstance(url, str) or not url:
            return True
        host = host_of(url)
        if host is None:
            return True  # metadata:// and file:// addresses of archive tooling: nothing to judge
        if self._defaults_pending:
            self._load_default_lists()
        chain = domain_chain(host)
        if any(d in self.allow_domains for d in chain):
            return True
        if any(d in self.block_domains for d in chain) or _contains(self.ut1_domains, chain):
            return False, "url:domain"
        without_scheme = url.split("://", 1)[-1]
        if _contains(self.ut1_urls, [without_scheme, without_scheme.rstrip("/")]):
            return False, "url:url"
        words = set(_NOT_ALNUM.split(url.lower()))
        if words & self.banned_words:
            return False, "url:word"
        if len(words & self.soft_words) >= SOFT_WORD_THRESHOLD:
            return False, "url:soft_words"
        if self._subword_pattern is not None and self._subword_pattern.search(_normalize(url)):
            return False, "url:subword"
        return True
