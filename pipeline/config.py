"""One pydantic config for the whole path, from raw files to a trained model.

Every key is documented by its Field description: `gristmill config show` prints them as YAML
comments. Unknown keys are refused (extra="forbid") so a typo never silently does nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IngestConfig(Section):
    text_mode: Literal["file", "paragraphs"] = Field(
        "file", description="plain .txt files: one document per file, or one per blank-line-separated block"
    )
    text_field: str = Field("text", description="JSONL/Parquet/HF field that holds the document text")
    id_field: str = Field("id", description="field that holds the document id; missing ids become '<relative path>:<line>'")
    max_record_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="a line/record larger than this is recorded as invalid:too_large, not read"
    )
    workers: int = Field(2, ge=1, description="processes that read and annotate input files in parallel")
    split_bytes: int | None = Field(
        128 * 1024 * 1024, gt=0,
        description="a plain .jsonl/.ndjson file larger than this is annotated in pieces of about this size, "
        "in parallel (null: one piece per file)",
    )


class ExtractConfig(Section):
    method: Literal["gated", "consensus", "trafilatura", "resiliparse"] = Field(
        "gated",
        description="main text of HTML pages: gated (resiliparse alone on pages whose text looks clean, consensus on "
        "the rest; about 2x trafilatura's speed), consensus (trafilatura's lines that resiliparse's main text confirms; "
        "best F1), trafilatura (one careful pass), resiliparse (fastest, keeps more boilerplate)",
    )
    min_shared: float = Field(0.6, ge=0, le=1, description="consensus: share of a line's words resiliparse must also have kept")


class UrlFilterConfig(Section):
    enabled: bool = Field(True, description="drop web documents by their URL (reason 'url:<rule>'); documents without a url pass")
    default_lists: bool = Field(
        True, description="use the block lists shipped inside datatrove (UT1 adult/malware domains and URLs, banned URL words)"
    )
    block_domains: list[str] = Field([], description="your domains to drop (a domain blocks its subdomains)")
    block_domain_files: list[str] = Field([], description="files with one domain a line ('#' comments) to drop")
    block_words: list[str] = Field([], description="words that drop a URL containing them as a word")
    allow_domains: list[str] = Field([], description="domains never dropped by the lists (a domain allows its subdomains)")


class DocumentsConfig(Section):
    enabled: bool = Field(True, description="publish the kept documents as DIR/documents/*.parquet with a dataset card")
    rows_per_file: int = Field(100_000, gt=0, description="documents per Parquet file at most")
    license: str = Field("other", description="licence of the corpus, written in the dataset card (Hugging Face licence id)")
    pretty_name: str | None = Field(None, description="the dataset card's title (null: the build folder's name)")


class CleanConfig(Section):
    enabled: bool = Field(True, description="run the cleaning stage")
    unicode_form: Literal["NFC", "NFKC", "none"] = Field("NFC", description="Unicode normal form applied to every text")
    lowercase: bool = Field(False, description="lowercase every text (classic preprocessing; off for GPT pretraining)")
    strip_special: bool = Field(False, description="remove characters that are not letters, digits, punctuation or whitespace")
    truncate_chars: int | None = Field(None, gt=0, description="cut each text to at most this many characters (null: no limit)")


class GopherQualityConfig(Section):
    enabled: bool = Field(True, description="datatrove GopherQualityFilter")
    min_doc_words: int | None = Field(50, description="fewer words than this: dropped (null: off)")
    max_doc_words: int | None = Field(100000, description="more words than this: dropped (null: off)")
    min_avg_word_length: float | None = Field(3, description="mean word length below this: dropped (null: off)")
    max_avg_word_length: float | None = Field(10, description="mean word length above this: dropped (null: off)")
    max_symbol_word_ratio: float | None = Field(0.1, description="share of '#' and '...' per word above this: dropped (null: off)")
    max_bullet_lines_ratio: float | None = Field(0.9, description="share of lines starting with a bullet above this: dropped (null: off)")
    max_ellipsis_lines_ratio: float | None = Field(0.3, description="share of lines ending with an ellipsis above this: dropped (null: off)")
    max_non_alpha_words_ratio: float | None = Field(
        0.8, description="share of words with at least one letter below this: dropped (null: off)"
    )
    min_stop_words: int | None = Field(2, description="fewer distinct stop words than this: dropped (null: off)")
    stop_words: list[str] | None = Field(
        None, description="the stop words counted by min_stop_words (null: datatrove's: the be to of and that have with)"
    )


class GopherRepetitionConfig(Section):
    enabled: bool = Field(True, description="datatrove GopherRepetitionFilter")
    dup_line_frac: float | None = Field(0.3, description="share of duplicated lines above this: dropped (null: off)")
    dup_para_frac: float | None = Field(0.3, description="share of duplicated paragraphs above this: dropped (null: off)")
    dup_line_char_frac: float | None = Field(0.2, description="share of characters in duplicated lines above this: dropped (null: off)")
    dup_para_char_frac: float | None = Field(
        0.2, description="share of characters in duplicated paragraphs above this: dropped (null: off)"
    )
    top_n_grams: list[tuple[int, float]] = Field(
        [(2, 0.2), (3, 0.18), (4, 0.16)], description="[n, max share of characters in the most frequent n-gram]"
    )
    dup_n_grams: list[tuple[int, float]] = Field(
        [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)],
        description="[n, max share of characters in duplicated n-grams]",
    )


class C4QualityConfig(Section):
    enabled: bool = Field(True, description="datatrove C4QualityFilter (FineWeb settings: all C4 rules but terminal punctuation)")
    split_paragraph: bool = Field(True, description="judge each line (True, as C4) or each sentence (False)")
    remove_citations: bool = Field(True, description="remove wikipedia-style [1] citations")
    filter_no_terminal_punct: bool = Field(False, description="drop lines without terminal punctuation (C4: True, FineWeb: False)")
    min_num_sentences: int = Field(5, description="fewer sentences (in the kept lines) than this: dropped (-1: off)")
    min_words_per_line: int = Field(3, description="drop lines with fewer words (-1: off)")
    max_word_length: int = Field(1000, description="drop lines with a longer word (-1: off)")
    filter_lorem_ipsum: bool = Field(True, description="drop documents containing 'lorem ipsum'")
    filter_javascript: bool = Field(True, description="drop lines mentioning javascript")
    filter_curly_bracket: bool = Field(True, description="drop documents containing '{'")
    filter_policy: bool = Field(True, description="drop lines with cookie/terms-of-use boilerplate")
    edit_text: bool = Field(
        True, description="keep C4's line removals in the text, as FineWeb does (false: C4 only judges, the text stays whole)"
    )


class FineWebQualityConfig(Section):
    enabled: bool = Field(True, description="datatrove FineWebQualityFilter")
    line_punct_thr: float = Field(0.12, description="share of lines ending in punctuation below this: dropped")
    line_punct_exclude_zero: bool = Field(False, description="do not drop documents with no punctuated line at all")
    stop_chars: list[str] | None = Field(None, description="characters that end a punctuated line (null: datatrove's terminal punctuation)")
    short_line_thr: float = Field(0.67, description="share of short lines above this: dropped")
    short_line_length: int = Field(30, description="a line of at most this many characters is short")
    char_duplicates_ratio: float = Field(0.01, description="share of characters in duplicated lines above this: dropped")
    new_line_ratio: float = Field(0.3, description="newlines per word above this: dropped")


class QualityConfig(Section):
    enabled: bool = Field(True, description="run the quality filters (datatrove's FineWeb chain, in FineWeb's order)")
    language: str = Field("eng", description="datatrove language code that picks the word tokenizer (eng: spacy blank English)")
    gopher_repetition: GopherRepetitionConfig = GopherRepetitionConfig()
    gopher_quality: GopherQualityConfig = GopherQualityConfig()
    c4: C4QualityConfig = C4QualityConfig()
    fineweb: FineWebQualityConfig = FineWebQualityConfig()


class LanguageConfig(Section):
    enabled: bool = Field(True, description="label every document's language with langdetect's profiles")
    method: Literal["naive_bayes", "langdetect"] = Field(
        "naive_bayes",
        description="naive_bayes: every n-gram against langdetect's profiles (deterministic, fast); "
        "langdetect: langdetect's own seeded random walk (its exact output, 5-25x slower)",
    )
    allowed: list[str] = Field(
        [],
        description="language codes to keep (langdetect codes, e.g. en, de, zh-cn, or a script-derived code: hy ka km lo my si "
        "dv or sat chr); add 'unknown' to also keep text no known language fits; empty: label only, drop none",
    )
    detect_unknown: bool = Field(
        True,
        description="label 'unknown' (score 0) instead of a wrong language: text in a script none of the 55 languages "
        "writes (unless the script settles its language: Armenian -> hy, Georgian -> ka, ...), and text whose "
        "trigrams fit the best language's profile much worse than that language's own texts do",
    )
    min_score: float = Field(0.65, ge=0, le=1, description="drop a document whose language probability is below this (when allowed is set)")
    sample_chars: int = Field(500, gt=0, description="characters per window that language identification reads")
    sample_windows: int = Field(3, gt=0, description="windows spread over a long document (start, middle, end, ...)")
    min_letters: int = Field(
        20, ge=0, description="texts with fewer letters (a CJK character counts 3) get their score scaled down in proportion"
    )


class ToxicityConfig(Section):
    enabled: bool = Field(True, description="score every document's toxicity in [0,1]")
    threshold: float | None = Field(None, ge=0, le=1, description="drop documents scoring at or above this (null: score only, drop none); the score is a calibrated probability, the README says how to pick it")
    window_words: int = Field(32, gt=0, description="texts of up to this many words are scored whole; longer ones by their worst short window (see TOXICITY_MODEL.md)")


class PIIConfig(Section):
    enabled: bool = Field(True, description="find emails, IP addresses and phone numbers")
    mode: Literal["redact", "drop", "off"] = Field("redact", description="replace PII with placeholders, drop the document, or only count")


class NearDedupConfig(Section):
    enabled: bool = Field(True, description="MinHash + LSH near-duplicate removal (datasketch)")
    threshold: float = Field(0.8, gt=0, le=1, description="word 5-gram Jaccard at or above which two documents are near duplicates")
    num_perm: int = Field(112, gt=0, description="MinHash permutations (an earlier build's index is reused only with the same value)")
    bands: int = Field(20, gt=0, description="LSH bands (bands x rows must not exceed num_perm; FineWeb: 14)")
    rows: int = Field(5, gt=0, description="rows (hashes) per LSH band (FineWeb: 8; 20 x 5 finds a pair at J=0.8 with p=0.9996)")
    ngram: int = Field(5, gt=0, description="word n-gram size of the shingles (lowercased words; punctuation and whitespace fold away)")
    verify: Literal["none", "estimated", "exact"] = Field(
        "exact",
        description="check LSH candidates before merging: estimated (MinHash estimate at most 2.5 standard errors below "
        "the threshold) or exact (the estimate decides clear cases, the texts' n-gram Jaccard the rest; pairs with an "
        "earlier build's document keep the estimate's verdict)",
    )

    @model_validator(mode="after")
    def _bands_fit(self) -> "NearDedupConfig":
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands} x {self.rows}) exceeds num_perm ({self.num_perm})")
        return self


class DedupConfig(Section):
    exact: bool = Field(True, description="drop exact duplicates (same lowercased words in the same order; 128-bit hash)")
    near: NearDedupConfig = NearDedupConfig()
    against: list[str] = Field([], description="earlier build folders whose documents count as already published (their <build>/dedup index is reused)")
    workers: int = Field(2, ge=1, description="processes computing MinHash signatures in parallel")


class TokenizerConfig(Section):
    # `from` is a Python keyword: the attribute is from_, the YAML key and the schema say `from`
    model_config = ConfigDict(extra="forbid", validate_assignment=True, serialize_by_alias=True, validate_by_name=True)

    enabled: bool = Field(True, description="train a tokenizer on the kept documents")
    from_: str | None = Field(
        None, alias="from",
        description="path of an existing tokenizer.json (or a build folder) to reuse instead of training one, so "
        "several builds share one vocabulary (null: train on this build's kept documents)",
    )
    model: Literal["bpe", "wordpiece"] = Field("bpe", description="byte-level BPE (GPT-2 style) or WordPiece")
    vocab_size: int = Field(8192, ge=300, le=1_000_000, description="vocabulary size, special tokens included")
    min_frequency: int = Field(2, ge=1, description="a merge must occur at least this often")
    sample_bytes: int = Field(200_000_000, gt=0, description="at most this many bytes of kept text train the tokenizer (deterministic sample)")
    mask_token: bool = Field(False, description="add a [MASK] special token (on by itself when model.objective is mlm)")


class ShardsConfig(Section):
    enabled: bool = Field(True, description="tokenize the kept documents and write packed Arrow shards")
    seq_len: int = Field(256, ge=8, description="tokens a model sees per row; rows hold seq_len + 1 ids (inputs and shifted targets)")
    val_fraction: float = Field(0.05, ge=0, lt=1, description="share of documents held out for validation (split by document)")
    rows_per_shard: int = Field(65536, gt=0, description="rows in one shard file at most")
    workers: int = Field(2, ge=1, description="processes that encode documents in parallel (byte-level BPE; small inputs use one)")


class ModelConfig(Section):
    preset: Literal["tiny", "mini", "small", "base", "gpt2-124m", "gpt2-350m", "gpt2-774m", "gpt2-1558m"] | None = Field(
        None, description="named shape that sets n_layer, n_head and n_embd (tiny 2/2/32 ... gpt2-124m 12/12/768); null: use those keys"
    )
    n_layer: int = Field(4, ge=1, description="transformer blocks")
    n_head: int = Field(4, ge=1, description="attention heads per block")
    n_embd: int = Field(256, ge=8, description="embedding width (divisible by n_head)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout probability")
    bias: bool = Field(True, description="biases in Linear and LayerNorm layers (GPT-2: True)")
    rope: bool = Field(False, description="rotary position embeddings instead of GPT-2's learned table (no HF GPT-2 export)")
    objective: Literal["clm", "mlm"] = Field(
        "clm", description="clm: next-token prediction (GPT); mlm: BERT's masked tokens, no causal mask (model/mlm.py)"
    )


class TrainConfig(Section):
    max_steps: int = Field(300, ge=1, description="optimizer steps in total (a resumed run continues up to this)")
    max_seconds: float | None = Field(
        None, gt=0, description="wall-clock budget for this call: stop (with a checkpoint) before a step that would end past it (null: no limit)"
    )
    batch_size: int = Field(16, ge=1, description="rows per micro-batch (per process under torchrun)")
    grad_accum: int = Field(1, ge=1, description="micro-batches per optimizer step")
    learning_rate: float = Field(3e-3, gt=0, description="peak learning rate")
    min_lr: float = Field(3e-4, ge=0, description="learning rate at the end of the cosine decay")
    warmup_steps: int = Field(30, ge=0, description="linear warmup steps")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay (matrices only)")
    beta2: float = Field(0.99, gt=0, lt=1, description="AdamW beta2 (0.95 for large models, 0.99 for small batches)")
    grad_clip: float = Field(1.0, ge=0, description="clip the gradient norm to this (0: off)")
    eval_interval: int = Field(100, ge=1, description="evaluate on validation rows every this many steps")
    eval_batches: int = Field(8, ge=1, description="validation batches per periodic evaluation (the same rows each time)")
    log_interval: int = Field(10, ge=1, description="write metrics.jsonl every this many steps")
    checkpoint_interval: int = Field(200, ge=1, description="write a checkpoint every this many steps (and at the end)")
    keep_checkpoints: int = Field(2, ge=1, description="checkpoints kept in run_dir/checkpoints (older ones are deleted)")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N")
    dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description="auto: bf16 autocast on CUDA and on CPUs with AVX512-BF16/AMX, else fp32")
    compile: bool = Field(False, description="torch.compile the model")
    parallel: Literal["ddp", "fsdp"] = Field(
        "ddp", description="under torchrun: DDP (replicas) or FSDP2 (parameters sharded per block)"
    )
    num_threads: int = Field(0, ge=0, description="CPU threads per process (0: the cores this process may use / local processes)")
    init_from: str | None = Field(
        None, description="a run folder whose latest weights a new run starts from (fresh optimizer and schedule; "
        "recorded in the run's checkpoints; null: random initialisation)",
    )
    data_verify: Literal["full", "fast", "none"] = Field(
        "fast", description="check the shards against manifest.json before training: sha256 (full), sizes (fast), or not"
    )


class ExecutorConfig(Section):
    kind: Literal["local", "dask"] = Field(
        "local", description="who runs the build's parallel pieces: local (process pools on this machine, sized by "
        "ingest/dedup/shards.workers) or dask (Prefect's DaskTaskRunner; the output is the same bytes either way)")
    workers: int = Field(2, ge=1, description="dask: worker processes of the LocalCluster started for the build (one thread each)")
    address: str | None = Field(
        None, description="dask: an existing scheduler, e.g. tcp://10.0.0.5:8786 (null: start a LocalCluster on 127.0.0.1); "
        "its workers must see the build folder at the same path")


class Config(Section):
    seed: int = Field(1337, description="seed for every random choice: sampling, shuffles, splits, initialisation")
    ingest: IngestConfig = IngestConfig()
    extract: ExtractConfig = ExtractConfig()
    url_filter: UrlFilterConfig = UrlFilterConfig()
    clean: CleanConfig = CleanConfig()
    quality: QualityConfig = QualityConfig()
    language: LanguageConfig = LanguageConfig()
    toxicity: ToxicityConfig = ToxicityConfig()
    pii: PIIConfig = PIIConfig()
    dedup: DedupConfig = DedupConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    shards: ShardsConfig = ShardsConfig()
    documents: DocumentsConfig = DocumentsConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    executor: ExecutorConfig = ExecutorConfig()

    @model_validator(mode="after")
    def _mlm_needs_a_mask_token(self) -> "Config":
        if self.model.objective == "mlm" and not self.tokenizer.mask_token:
            self.tokenizer.mask_token = True
        return self

    def sha256(self) -> str:
        """Hash of the resolved config: the manifest records it so a build says what made it.

        The executor is left out: where the pieces ran does not change the output, and a build
        started on one machine may be resumed on a cluster."""
        data = self.model_dump(mode="json", exclude={"executor"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class ConfigError(ValueError):
    """A config file that cannot be used; the message names every offending key."""


def _describe(error: ValidationError) -> str:
    lines = []
    for e in error.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}' (see `gristmill config show` for the valid keys)")
        else:
            lines.append(f"bad value for '{key}': {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def parse_config(data: dict[str, Any] | None) -> Config:
    try:
        return Config.model_validate(data or {})
    except ValidationError as e:
        raise ConfigError(_describe(e)) from None


def load_config(path: str | Path | None) -> Config:
    """Read and validate a YAML config; None gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections, not {type(data).__name__}")
    return parse_config(data)


def dump_config(config: Config) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def commented_defaults(model: type[BaseModel] = Config, indent: int = 0) -> str:
    """The default config as YAML with each key's description as a comment."""
    pad = " " * indent
    out: list[str] = []
    defaults = model()
    for name, field in model.model_fields.items():
        value = getattr(defaults, name)
        name = field.alias or name
        if isinstance(value, BaseModel):
            out.append(f"{pad}{name}:")
            out.append(commented_defaults(type(value), indent + 2))
            continue
        rendered = yaml.safe_dump({name: value if not isinstance(value, list) else [list(v) if isinstance(v, tuple) else v for v in value]},
                                 default_flow_style=True, width=10_000).strip()
        if rendered.startswith("{") and rendered.endswith("}"):
            rendered = rendered[1:-1]
        comment = f"  # {field.description}" if field.description else ""
        out.append(f"{pad}{rendered}{comment}")
    return "\n".join(out)
