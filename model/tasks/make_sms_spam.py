"""Write model/tasks/sms_spam.jsonl: 100 real SMS messages as a two-choice task (is it spam?).

Source: the UCI SMS Spam Collection (Almeida & Hidalgo 2011, CC BY 4.0), as in
../shared/data/finetune/sms_spam_dev.tsv. Items are the first 50 spam and the first 50 ham
messages among the rows benchmarks/finetune.py holds out for testing (every fifth row, i % 5 == 4),
so the classifier benchmark never trains on them.

    python model/tasks/make_sms_spam.py ../shared/data/finetune/sms_spam_dev.tsv model/tasks/sms_spam.jsonl
"""

import csv
import json
import sys

PER_CLASS = 50


def main(source: str, out: str) -> None:
    with open(source, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    taken = {"spam": [], "ham": []}
    for i, row in enumerate(rows):
        if i % 5 == 4 and len(taken[row["label"]]) < PER_CLASS:
            taken[row["label"]].append(row["text"])
    items = [(text, label) for label in ("ham", "spam") for text in taken[label]]
    items.sort(key=lambda item: rows.index({"label": item[1], "text": item[0]}))  # file order
    with open(out, "w", encoding="utf-8") as f:
        for text, label in items:
            f.write(json.dumps({"context": f"Message: {text}\nIs this message spam? Answer:",
                                "choices": [" no", " yes"], "answer": int(label == "spam"),
                                "source": "UCI SMS Spam Collection, CC BY 4.0"}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
