import pytest
import yaml

from pipeline.config import Config, ConfigError, commented_defaults, load_config, parse_config


def test_defaults_hold_the_documented_keys():
    c = Config()
    assert c.language.allowed == [] and c.toxicity.threshold is None
    for value in (c.seed, c.quality.enabled, c.language.min_score, c.dedup.exact, c.dedup.near.enabled,
                  c.dedup.near.threshold, c.tokenizer.enabled, c.tokenizer.vocab_size, c.shards.enabled,
                  c.shards.seq_len, c.shards.val_fraction, c.model.n_layer, c.model.n_head, c.model.n_embd,
                  c.train.max_steps, c.train.batch_size, c.train.eval_interval):
        assert value is not None


def test_unknown_key_is_refused_with_its_name(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("language:\n  alowed: [en]\n")
    with pytest.raises(ConfigError, match="language.alowed"):
        load_config(path)


def test_bad_value_is_refused_with_its_name():
    with pytest.raises(ConfigError, match="shards.val_fraction"):
        parse_config({"shards": {"val_fraction": 2}})


def test_not_a_mapping_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


def test_commented_defaults_round_trip():
    text = commented_defaults()
    assert "# seed for every random choice" in text
    assert parse_config(yaml.safe_load(text)) == Config()


def test_sha_changes_with_config():
    assert Config().sha256() != parse_config({"seed": 1}).sha256()
