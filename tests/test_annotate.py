from pipeline.annotate import Annotator
from pipeline.config import parse_config
from pipeline.documents import Document, InvalidRecord


class ExplodingFilter:
    """Stands for a filter that meets input it cannot handle."""

    name = "exploding"

    def filter(self, doc):
        if "boom" in doc.text:
            raise ValueError("cannot handle this")
        return True


class BatchFilter(ExplodingFilter):
    """A filter with a batch path that fails for the whole batch when one document is odd."""

    name = "batched"

    def filter_batch(self, docs):
        return [self.filter(doc) for doc in docs]


def annotator_with(*filters) -> Annotator:
    annotator = Annotator(parse_config({"language": {"enabled": False}, "toxicity": {"enabled": False}}))
    annotator.filters = list(filters)
    return annotator


def test_a_filter_error_quarantines_the_document_instead_of_ending_the_run():
    [row] = annotator_with(ExplodingFilter()).rows([Document(id="d2", text="boom")])
    assert row["drop_reason"] == "invalid:filter_error:exploding:ValueError"
    assert row["text"] is None


def test_an_error_inside_a_batch_quarantines_only_its_document():
    records = [Document(id="a", text="fine"), Document(id="b", text="boom"), InvalidRecord(id="c", source="s", reason="bad", detail="x"),
               Document(id="d", text="  "), Document(id="e", text="also fine")]
    rows = annotator_with(BatchFilter()).rows(records)
    assert [r["doc_id"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert [r["drop_reason"] for r in rows] == [None, "invalid:filter_error:batched:ValueError", "invalid:bad", "empty", None]
    assert rows[0]["text"] == "fine" and rows[4]["text"] == "also fine"
