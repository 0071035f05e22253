"""The main job end to end on ML-100K with tiny sizes and the real embedded model: interrupt
it while a model server is up, check nothing is left running, rerun, and check the table."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, assert_clean_error, run_script

TINY = ["--dataset", "ml-100k", "--rerank_users", "3", "--test_users", "3", "--epochs", "2", "--finetune_epochs", "1",
        "--lora_epochs", "1"]


def servers_of(run_dir):
    """Command lines of live llamafactory-cli api processes started for this run."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace").replace("\0", " ")
        except OSError:
            continue
        if "llamafactory-cli api" in cmd or ("llamafactory-cli" in cmd and " api " in cmd):
            out.append(cmd)
    return out


def test_configs_parse_and_name_registered_datasets_and_templates():
    from llamafactory.data.template import TEMPLATES
    built = {"solarlm_ml", "solarlm_books", "solarlm_movies"}
    for f in sorted((ROOT / "configs").glob("*.yaml")):
        cfg = yaml.safe_load(f.read_text())
        assert cfg["template"] in TEMPLATES, f
        assert cfg["finetuning_type"] == "lora", f
        if f.name.endswith("_sft.yaml"):
            assert cfg["dataset"] in built and cfg["lora_target"] == "all" and cfg["lora_rank"] == 8, f
            assert cfg["lora_alpha"] == 16 and cfg["cutoff_len"] == 1024, f
        if f.name.startswith("solar_") and f.name.endswith("_sft.yaml"):
            assert cfg["bf16"] is True and cfg["per_device_train_batch_size"] * cfg["gradient_accumulation_steps"] == 32
            assert cfg["num_train_epochs"] == {"ml": 25, "books": 20, "movies": 25}[f.name.split("_")[1]]
        if f.name.startswith("solar_") and f.name.endswith("_deploy.yaml"):
            assert cfg["infer_backend"] == "vllm"


def test_config_naming_an_unregistered_dataset_is_a_clean_error(tmp_path):
    (tmp_path / "sft_data").mkdir()
    (tmp_path / "sft_data" / "dataset_info.json").write_text("{}")
    assert_clean_error(run_script("-m", "solar.configs", "configs/smollm2_cpu_sft.yaml", "--run_dir", tmp_path,
                                  "--out", tmp_path / "x.yaml"), "not registered")


@pytest.mark.slow
def test_main_job_interrupt_no_orphans_rerun(tmp_path):
    run_dir = tmp_path / "run"
    args = [sys.executable, "pipeline.py", *TINY, "--run_dir", str(run_dir)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    # wait until the reranker's model server answers, then interrupt like a user's Ctrl-C
    deadline = time.time() + 900
    while time.time() < deadline and not list(run_dir.glob("server-*.log")):
        assert proc.poll() is None, "pipeline ended before the rerank stage"
        time.sleep(1)
    time.sleep(20)
    assert servers_of(run_dir), "no model server was running"
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(120)
    time.sleep(2)
    assert not servers_of(run_dir), "a model server outlived the interrupted pipeline"
    assert (run_dir / "stages" / "export.done").is_file() and not (run_dir / "stages" / "rerank.done").exists()

    p = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "export: done earlier" in p.stdout
    assert not servers_of(run_dir)
    table = pd.read_csv(run_dir / "results" / "results.csv")
    models = ["random", "most-popular", "SASRec (relevance)", "SASRec (serendipity)", "SmolLM2 zero-shot",
              "SOLAR (SmolLM2 + LoRA)"]
    for s in ("accuracy", "serendipity"):
        sub = table[table["testset"] == s].set_index("model")
        assert list(sub.index) == models
        assert ((sub[["HR@1", "HR@5", "NDCG@5"]] >= 0) & (sub[["HR@1", "HR@5", "NDCG@5"]] <= 1)).all().all()
        assert (sub["HR@1"] <= sub["HR@5"]).all() and (sub["users"] == 3).all()
    for f in ("sasrec/curves.png", "sasrec_ser/curves.png", "lora/training_loss.png", "results/results.png",
              "results/results.md", "sft_data/solarlm_ml.json", "testset/ml-100k_accuracy.pkl"):
        assert (run_dir / f).is_file(), f


def test_unknown_dataset_is_a_clean_error(tmp_path):
    assert_clean_error(run_script("pipeline.py", "--dataset", tmp_path / "nothing", "--run_dir", tmp_path / "run"),
                       "not a processed folder")


def test_prepared_folder_skips_preparation_and_paths_are_absolute(ml100k, tmp_path, monkeypatch):
    import argparse
    sys.path.insert(0, str(ROOT))
    import pipeline
    monkeypatch.chdir(tmp_path)  # stages run from the repository root: no path may depend on the user's folder
    a = argparse.Namespace(dataset=str(ml100k.root), paper_sasrec=False, epochs=1, eval_every=1, finetune_epochs=1,
                           rerank_users=1, num_icls=1, understanding="none", lenient_parse=True,
                           profile_temperature=0.7, test_users=1, lora_epochs=1)
    st = pipeline.stages(a, (tmp_path / "run").resolve())
    assert st[0].name == "sasrec"
    paths = [x for s in st for x in s.args if isinstance(x, Path)]
    assert paths and all(x.is_absolute() for x in paths)
    a.dataset = "ml-100k"
    assert pipeline.stages(a, tmp_path / "run")[0].name == "prepare"
