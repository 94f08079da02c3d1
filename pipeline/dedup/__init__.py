"""Exact and MinHash near-duplicate removal, staged, bounded in memory, incremental across builds.

`deduplicate` runs the three stages in order (see stages.py); the Prefect flow may run them as
separate tasks: `signatures`, `buckets`, `clusters`.
"""

from pipeline.dedup.index import IndexMismatchError
from pipeline.dedup.minhash import SignatureSettings, lean_minhash
from pipeline.dedup.stages import buckets, clusters, deduplicate, signature_settings, signatures

__all__ = ["IndexMismatchError", "SignatureSettings", "buckets", "clusters", "deduplicate", "lean_minhash",
           "signature_settings", "signatures"]
