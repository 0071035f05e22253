"""The whole SOLAR pipeline on one dataset, resumably (README's main command).

  python pipeline.py                          # MovieLens-1M, embedded model, CPU-sized defaults
  python pipeline.py --dataset ml-100k --rerank_users 8
  python pipeline.py --force rerank           # rerun from a stage (and everything after it)

Each stage runs the project's own script; a finished stage is recorded in
<run_dir>/stages/ and skipped on a rerun; an interrupted stage resumes from its checkpoint.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from solar.data import BUILTIN  # noqa: E402
from solar.errors import SolarError, cli  # noqa: E402
from solar.pipeline import Stage, run, stage_times  # noqa: E402
from solar.sasrec import format_report  # noqa: E402

# A CPU-sized SASRec (the paper's: hidden 512, maxlen 100, lr 1e-4, 200 epochs; --paper_sasrec)
SMALL = dict(hidden_units=64, maxlen=50, num_blocks=2, num_heads=2, batch_size=128, lr=1e-3)
PAPER = dict(hidden_units=512, maxlen=100, num_blocks=2, num_heads=2, batch_size=128, lr=1e-4)


def stages(a, run_dir: Path) -> list[Stage]:
    prepared = Path(a.dataset, "meta.json").is_file()  # a processed folder: nothing to prepare
    if not prepared and a.dataset not in BUILTIN:
        raise SolarError(f"--dataset {a.dataset}: not a processed folder (no meta.json) and not one of "
                         f"{list(BUILTIN)}; prepare your data with datagen/prepare_data.py first")
    ds_dir = (Path(a.dataset) if prepared else Path("data") / a.dataset).resolve()
    sas = {**(PAPER if a.paper_sasrec else SMALL)}
    flags = [x for k, v in sas.items() for x in (f"--{k}", str(v))]
    rel, ser = run_dir / "sasrec", run_dir / "sasrec_ser"
    name = ds_dir.name
    testsets = [run_dir / "testset" / f"{name}_{k}" for k in ("accuracy", "serendipity")]

    def test_outputs(label):
        return [run_dir / "test" / f"{name}_{k}_{label}{ext}" for k in ("accuracy", "serendipity")
                for ext in (".json", ".jsonl")]
    out = [] if prepared else [
        Stage("prepare", ["datagen/prepare_data.py", "--dataset", a.dataset, "--out", ds_dir], [ds_dir / "meta.json"]),
    ]
    out += [
        Stage("sasrec", ["datagen/train_id_model.py", "--dataset", ds_dir, "--train_dir", rel, *flags,
                         "--num_epochs", a.epochs, "--eval_every", a.eval_every], [rel]),
        Stage("finetune", ["datagen/train_id_model.py", "--dataset", ds_dir, "--train_dir", ser, "--finetune",
                           "--state_dict_path", rel / "best.pt", "--num_epochs", a.finetune_epochs, "--eval_every", "1",
                           "--lr", str(sas["lr"])], [ser]),
        Stage("export", ["datagen/export_id_model_result.py", "--dataset", ds_dir, "--ckpt", ser / "best.pt",
                         "--topk", "20", "--output", run_dir / "candidates.csv"], [run_dir / "candidates.csv"]),
        Stage("rerank", ["llm_rerank.py", "--dataset", ds_dir, "--res_path", run_dir / "candidates.csv",
                         "--output_file", run_dir / "rerank.csv", "--num_samples", a.rerank_users,
                         "--num_icls", a.num_icls, "--understanding", a.understanding, "--max_tokens", "96",
                         "--max_retries", "1",
                         *(["--lenient_parse"] if a.lenient_parse else [])],
              [run_dir / "rerank.csv", run_dir / "rerank.csv.jsonl"]),
        Stage("profiles", ["datagen/instgen/gen_profiles.py", "--dataset", ds_dir, "--rerank_csv",
                           run_dir / "rerank.csv", "--output", run_dir / "profiles.jsonl", "--temperature",
                           a.profile_temperature, "--max_tokens", "64", "--max_retries", "1"],
              [run_dir / "profiles.jsonl"]),
        Stage("instructions", ["datagen/instgen/build_instructions.py", "--dataset", ds_dir, "--rerank_csv",
                               run_dir / "rerank.csv", "--profiles", run_dir / "profiles.jsonl", "--out_dir",
                               run_dir / "sft_data", "--name", "solarlm_ml"], [run_dir / "sft_data"]),
        Stage("testsets", ["datagen/instgen/build_testsets.py", "--dataset", ds_dir, "--out_dir", run_dir / "testset",
                           "--name", name, "--max_users", a.test_users], [run_dir / "testset"]),
        Stage("lora", ["-m", "solar.configs", "configs/smollm2_cpu_sft.yaml", "--run_dir", run_dir, "--out",
                       run_dir / "sft.yaml", "--set", f"num_train_epochs={a.lora_epochs}", "--train"],
              [run_dir / "lora"]),
        Stage("test_base", ["test.py", "--data", ds_dir, "--testset", *testsets, "--output_dir", run_dir / "test",
                            "--label", "base", "--try_num", "1", "--gen_max_length", "100"], test_outputs("base")),
        Stage("test_solar", ["test.py", "--data", ds_dir, "--testset", *testsets, "--output_dir", run_dir / "test",
                             "--label", "solar", "--adapter", run_dir / "lora", "--try_num", "1",
                             "--gen_max_length", "100"],
              test_outputs("solar")),
        Stage("results", ["make_results.py", "--data", ds_dir, "--testsets", *testsets, "--sasrec", rel / "best.pt",
                          "--sasrec_ser", ser / "best.pt", "--llm",
                          f"SmolLM2 zero-shot={run_dir}/test/{name}_{{set}}_base.json",
                          f"SOLAR (SmolLM2 + LoRA)={run_dir}/test/{name}_{{set}}_solar.json",
                          "--out_dir", run_dir / "results"], [run_dir / "results"]),
    ]
    return out


@cli
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="ml-1m", help="ml-1m, ml-100k, or a processed dataset folder")
    p.add_argument("--run_dir", help="default: runs/<dataset name>")
    p.add_argument("--epochs", type=int, default=60, help="SASRec relevance epochs (about 2.5 s each on ML-1M here)")
    p.add_argument("--eval_every", type=int, default=5, help="validate every N epochs (paper: 5)")
    p.add_argument("--finetune_epochs", type=int, default=10)
    p.add_argument("--paper_sasrec", action="store_true", help="the paper's SASRec size (slow on CPU)")
    p.add_argument("--rerank_users", type=int, default=8, help="train users reranked (and profiled) by the LLM")
    p.add_argument("--num_icls", type=int, default=2)
    p.add_argument("--understanding", default="none", choices=["shared", "per_user", "none"],
                   help="none by default: the 135M embedded model parrots the two understanding turns")
    p.add_argument("--strict_parse", dest="lenient_parse", action="store_false",
                   help="only accept a bracketed ID list (the embedded model rarely writes one)")
    p.add_argument("--profile_temperature", type=float, default=0.7, help="paper: 1.5 (too wild for a 135M model)")
    p.add_argument("--test_users", type=int, default=25, help="test users per test set")
    p.add_argument("--lora_epochs", type=float, default=2.0)
    p.add_argument("--force", help="rerun from this stage on")
    a = p.parse_args(argv)
    # absolute, because every stage runs from the repository root, wherever the user is
    run_dir = Path(a.run_dir or Path("runs") / Path(a.dataset).name).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    st = stages(a, run_dir)
    run([Stage(s.name, [str(x) for x in s.args], s.outputs) for s in st], run_dir, a.force)

    print("\n== results on the 20-candidate test sets (top-5 lists) ==")
    print((run_dir / "results" / "results.md").read_text())
    summary = {"sasrec (relevance)": json.loads((run_dir / "sasrec" / "summary.json").read_text()),
               "sasrec (serendipity fine-tuned)": json.loads((run_dir / "sasrec_ser" / "summary.json").read_text())}
    print("\n== SASRec, full ranking over the catalogue and 100 sampled negatives (test users) ==")
    rows = {f"{name} / {k.split('_')[1]}": v for name, s in summary.items() for k, v in s.items() if k.startswith("test_")}
    print(format_report(rows))
    print("\n== stage times (s) ==")
    print(json.dumps({k: round(v) for k, v in stage_times(run_dir).items()}))
    print(f"this run: {time.perf_counter() - t0:.0f}s; outputs in {run_dir}")


if __name__ == "__main__":
    main()
