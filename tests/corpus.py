"""A small generated corpus for end-to-end tests: English prose that passes the quality filters,
planted exact and near duplicates, a German document, and broken files of every kind."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

NOUNS = ("river miller farmer village harvest stone wheel grain flour bread market road winter summer "
         "garden house window letter story morning evening mountain forest teacher student book school "
         "doctor city child friend family kitchen table music song journey river bridge harbour ship").split()
VERBS = ("carried watched found turned opened closed remembered painted followed crossed built visited "
         "answered noticed gathered described wrote read sold bought measured repaired").split()
ADJECTIVES = ("old quiet bright heavy small golden narrow patient careful distant early late warm cold "
              "green busy honest gentle famous simple").split()
PREPOSITIONS = ("near", "across", "before", "after", "beside", "under", "behind", "along", "inside", "beyond")
TEMPLATES = (
    "The {a} {n} {v} the {n} {p} the {a} {n}.",
    "{P} the {n}, a {a} {n} {v} every {n} that morning.",
    "Nobody {v} why the {n} was so {a} when the {n} came.",
    "Her {n} {v} a {a} {n}, and then the {n} {v} it {p} the {n}.",
    "It is {a} to see how one {n} {v} another {n} {p} a {a} {n}.",
    "They {v} the {a} {n} while our {n} waited {p} the {n}.",
    "Was the {n} really {a}, or had the {n} {v} something {a}?",
    "Some {n}s {v} {a} {n}s, but most of them {v} nothing.",
)


def sentence(rng: random.Random) -> str:
    fill = {"a": lambda: rng.choice(ADJECTIVES), "n": lambda: rng.choice(NOUNS), "v": lambda: rng.choice(VERBS),
            "p": lambda: rng.choice(PREPOSITIONS), "P": lambda: rng.choice(PREPOSITIONS).capitalize()}
    template = rng.choice(TEMPLATES)
    out, i = [], 0
    while i < len(template):
        if template[i] == "{":
            key = template[i + 1]
            out.append(fill[key]())
            i += 3
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


def paragraph(rng: random.Random, sentences: int = 12) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


def english_doc(rng: random.Random) -> str:
    return "\n\n".join(paragraph(rng, rng.randint(6, 10)) for _ in range(rng.randint(2, 4)))


GERMAN = ("Der alte Müller ging am Morgen über die Brücke und sah, dass der Fluss nach dem langen Winter "
          "wieder voller Wasser war. Die Kinder spielten im Garten, während die Mutter in der Küche das Brot "
          "backte und der Vater die Räder der Mühle reparierte. Am Abend saß die ganze Familie am Tisch, und "
          "sie erzählten einander Geschichten von der Stadt, vom Markt und von den Schiffen im Hafen. ") * 2


def make_corpus(root: Path, n_docs: int = 40, seed: int = 0) -> dict[str, int]:
    """Write the corpus under root; return the number of input records each file holds."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    docs = [{"id": f"doc-{i:03d}", "text": english_doc(rng), "url": f"https://example.org/{i}"} for i in range(n_docs)]
    exact = {"id": "copy-of-003", "text": docs[3]["text"]}
    near_text = docs[5]["text"].replace("The ", "A ", 1) + " The end."
    near = {"id": "near-005", "text": near_text}
    german = {"id": "german-1", "text": GERMAN}
    short = {"id": "too-short", "text": "Buy now!"}
    records = docs[: n_docs // 2] + [exact, near, german, short]
    (root / "part1.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    rest = "".join(json.dumps(r) + "\n" for r in docs[n_docs // 2:]).encode()
    (root / "part2.jsonl.gz").write_bytes(gzip.compress(rest))
    counts = {"part1.jsonl": len(records), "part2.jsonl.gz": n_docs - n_docs // 2}

    # Broken inputs beside the good ones.
    (root / "broken.jsonl").write_bytes(json.dumps({"id": "fine-1", "text": english_doc(rng)}).encode()
                                        + b"\n{this is not json\n" + b'{"id": "bad-utf8", "text": "caf\xe9"}\n')
    counts["broken.jsonl"] = 3
    whole = gzip.compress("".join(json.dumps({"id": f"trunc-{i}", "text": english_doc(rng)}) + "\n"
                                  for i in range(30)).encode())
    (root / "truncated.jsonl.gz").write_bytes(whole[: int(len(whole) * 0.6)])
    counts["truncated.jsonl.gz"] = -1  # unknown: the records before the cut plus one invalid row
    (root / "latin1.txt").write_bytes("Caf\xe9 au lait, d\xe9j\xe0 vu.".encode("latin-1"))
    counts["latin1.txt"] = 1
    (root / "empty.jsonl").write_bytes(b"")
    counts["empty.jsonl"] = 0
    (root / "notes.pdf").write_bytes(b"%PDF-1.4 not a text format")
    return counts
