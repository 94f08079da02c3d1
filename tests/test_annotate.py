from pipeline.annotate import Annotator
from pipeline.config import parse_config
from pipeline.documents import Document


class ExplodingFilter:
    """Stands for a filter that meets input it cannot handle."""

    name = "exploding"

    def filter(self, doc):
        raise ValueError("cannot handle this")


def test_a_filter_error_quarantines_the_document_instead_of_ending_the_run():
    annotator = Annotator(parse_config({"language": {"enabled": False}, "toxicity": {"enabled": False}}))
    annotator.filters = [ExplodingFilter()]
    row = annotator.row(Document(id="d2", text="hello"))
    assert row["drop_reason"] == "invalid:filter_error:exploding:ValueError"
    assert row["text"] is None
