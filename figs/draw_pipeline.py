"""Draw the SOLAR pipeline diagram (figs/pipeline.png) with matplotlib.

  python figs/draw_pipeline.py
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

STAGES = [
    ("Data", "prepare_data.py\nratings >= 4\nuser split 70/10/20\nserendipity labels / proxy", "#dbe9f6"),
    ("1. ID-based model", "SASRec (relevance)\n-> fine-tune last block\non serendipity labels", "#dbe9f6"),
    ("Top-20 export", "export_id_model_result.py\nhistory masked", "#dbe9f6"),
    ("2. LLM reranking", "llm_rerank.py\nLLM plays the user,\npicks serendipitous IDs", "#fde2c8"),
    ("SUN instructions", "profiles (6 fields)\n+ 8 task families\n-> alpaca JSON", "#fde2c8"),
    ("3. LoRA fine-tuning", "llamafactory-cli train\nconfigs/*.yaml", "#d5f0d5"),
    ("Serve + test", "OpenAI-compatible API\ntest.py on 20 candidates\nHR/NDCG + serendipity", "#d5f0d5"),
]


def main(out=Path(__file__).with_name("pipeline.png")):
    fig, ax = plt.subplots(figsize=(15, 3.2))
    ax.set_xlim(0, len(STAGES) * 2.1)
    ax.set_ylim(0, 3)
    ax.axis("off")
    for i, (title, body, color) in enumerate(STAGES):
        x = i * 2.1 + 0.1
        ax.add_patch(FancyBboxPatch((x, 0.4), 1.75, 2.2, boxstyle="round,pad=0.05", fc=color, ec="#444"))
        ax.text(x + 0.875, 2.3, title, ha="center", va="center", fontsize=10, weight="bold")
        ax.text(x + 0.875, 1.35, body, ha="center", va="center", fontsize=8)
        if i < len(STAGES) - 1:
            ax.annotate("", xy=(x + 2.05, 1.5), xytext=(x + 1.85, 1.5), arrowprops=dict(arrowstyle="->", lw=1.5))
    ax.text(0.1, 0.1, "blue: ID-based model   orange: LLM data generation   green: LLM alignment and evaluation",
            fontsize=8, color="#333")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(out)


if __name__ == "__main__":
    main()
