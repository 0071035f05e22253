"""The converted embedded model: tokenizer ids equal the GGUF's own vocabulary and merges,
the chat template is present, and the eos/pad/BOS fixes are in place."""
import json

import pytest

from solar import embedded

TEXTS = ["Toy Story (1995)", "Pick the 10 most serendipitous movies: [12, 7, 3]",
         "Amélie, naïve café — 東京 🎬", "  leading spaces\nand\ttabs  "]


@pytest.fixture(scope="module")
def folder():
    return embedded.model_dir()


def gguf_tokenizer(path):
    """A byte-level BPE built straight from the GGUF's tokenizer.ggml.* fields."""
    from gguf import GGUFReader
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    r = GGUFReader(str(path))

    def strings(name):
        f = r.fields[name]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    tokens, merges = strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges")
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)},
                               merges=[tuple(m.split(" ", 1)) for m in merges]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    eos = int(r.fields["tokenizer.ggml.eos_token_id"].parts[-1][0])
    return tok, tokens, eos


def test_tokenizer_matches_gguf(folder):
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(folder)
    ref, tokens, eos = gguf_tokenizer(embedded.cache_dir() / embedded.GGUF_NAME)
    for t in TEXTS:
        assert hf(t, add_special_tokens=True).input_ids == ref.encode(t).ids, t
    assert hf.eos_token == "<|im_end|>" == tokens[eos] and hf.pad_token == "<|im_end|>"
    assert hf.convert_tokens_to_ids("<|im_start|>") == tokens.index("<|im_start|>")


def test_chat_template_and_generation_config(folder):
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(folder)
    text = hf.apply_chat_template([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
                                  tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    gen = json.loads((folder / "generation_config.json").read_text())
    assert gen["eos_token_id"] == 2 and gen.get("bos_token_id") is None
    assert not (folder / "tokenizer.model").exists()
