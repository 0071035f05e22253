"""LLaMA-Factory YAML configs: fill ${EMBEDDED_MODEL} / ${RUN_DIR} and key=value overrides
(LLaMA-Factory 0.9.2 reads a YAML or flags, not both), and check a config before a long run.

  python -m solar.configs configs/smollm2_cpu_sft.yaml --run_dir runs/ml-1m --out runs/ml-1m/sft.yaml \
      --set num_train_epochs=3 dataset=solarlm_ml [--train]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from .errors import SolarError, cli


def resolve(path, run_dir=None, overrides: dict | None = None) -> dict:
    from .embedded import model_dir
    path = Path(path)
    if not path.is_file():
        raise SolarError(f"config not found: {path}")
    text = path.read_text()
    if "${EMBEDDED_MODEL}" in text:
        text = text.replace("${EMBEDDED_MODEL}", str(model_dir()))
    if "${RUN_DIR}" in text:
        if run_dir is None:
            raise SolarError(f"{path} needs --run_dir (it uses ${{RUN_DIR}})")
        text = text.replace("${RUN_DIR}", str(run_dir))
    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SolarError(f"{path}: invalid YAML: {e}") from None
    cfg.update(overrides or {})
    return cfg


def check(cfg: dict, *, need_dataset_files: bool = True) -> None:
    """The template exists in LLaMA-Factory; for training, every dataset is registered in
    dataset_dir/dataset_info.json and its file exists."""
    from llamafactory.data.template import TEMPLATES
    if cfg.get("template") not in TEMPLATES:
        raise SolarError(f"template '{cfg.get('template')}' is not one of LLaMA-Factory's templates")
    if cfg.get("do_train") and need_dataset_files:
        ddir = Path(cfg.get("dataset_dir", "data"))
        info_path = ddir / "dataset_info.json"
        if not info_path.is_file():
            raise SolarError(f"dataset_dir {ddir} has no dataset_info.json: build it with "
                             f"datagen/instgen/build_instructions.py --out_dir {ddir}")
        info = json.loads(info_path.read_text())
        for name in str(cfg["dataset"]).split(","):
            name = name.strip()
            if name not in info:
                raise SolarError(f"dataset '{name}' is not registered in {info_path} (has {sorted(info)})")
            if "file_name" in info[name] and not (ddir / info[name]["file_name"]).exists():
                raise SolarError(f"dataset file {ddir / info[name]['file_name']} is missing")


def write(cfg: dict, out) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out


def parse_overrides(pairs) -> dict:
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise SolarError(f"--set expects key=value, got {p!r}")
        k, v = p.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


@cli
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config")
    p.add_argument("--run_dir")
    p.add_argument("--out", required=True)
    p.add_argument("--set", nargs="*", default=[], help="key=value overrides")
    p.add_argument("--no_check", action="store_true")
    p.add_argument("--train", action="store_true", help="then run `llamafactory-cli train OUT`")
    a = p.parse_args(argv)
    cfg = resolve(a.config, a.run_dir, parse_overrides(a.set))
    if not a.no_check:
        check(cfg)
    out = write(cfg, a.out)
    print(out)
    if a.train:
        import os
        import shutil
        import subprocess
        import sys
        exe = shutil.which("llamafactory-cli", path=str(Path(sys.executable).parent)) or "llamafactory-cli"
        rc = subprocess.call([exe, "train", str(out)], env={**os.environ, "HF_HUB_OFFLINE": "1"})
        if rc:
            raise SolarError(f"llamafactory-cli train {out} failed (exit {rc})")


if __name__ == "__main__":
    main()
