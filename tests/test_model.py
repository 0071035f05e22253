import torch

from solar.model import SASRec, attention_mask


def small(n_items=50, **kw):
    torch.manual_seed(0)
    m = SASRec(n_items, hidden_units=16, num_blocks=2, num_heads=2, maxlen=8, dropout_rate=0.0, **kw)
    return m.eval()


def test_causal_mask_blocks_the_future():
    m = small()
    seq = torch.tensor([[0, 0, 3, 7, 9, 11, 4, 5]])
    changed = seq.clone()
    changed[0, 5:] = torch.tensor([40, 41, 42])
    a, b = m.features(seq), m.features(changed)
    assert torch.allclose(a[0, :5], b[0, :5], atol=1e-6)  # earlier positions untouched
    assert not torch.allclose(a[0, 5:], b[0, 5:])          # the changed positions do change


def test_mask_is_boolean_causal_and_hides_padding():
    mask = attention_mask(torch.tensor([[0, 0, 3, 7]]))[0, 0]
    assert mask.dtype == torch.bool
    expected = torch.tensor([[1, 0, 0, 0],   # padded query: itself only (no NaN)
                             [0, 1, 0, 0],
                             [0, 0, 1, 0],   # first item: not the padding before it
                             [0, 0, 1, 1]], dtype=torch.bool)
    assert torch.equal(mask, expected)


def test_all_padding_rows_are_finite():
    out = small().features(torch.tensor([[0, 0, 0, 3, 7], [0, 0, 0, 0, 0]]))
    assert torch.isfinite(out).all()


def test_scores_match_between_full_and_candidate_scoring():
    m = small()
    seq = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7]])
    cands = torch.tensor([[9, 3, 20]])
    assert torch.allclose(m.score_all(seq)[0, cands[0]], m.score_items(seq, cands)[0], atol=1e-5)


def test_finetune_changes_only_last_block_attention_and_ffn():
    m = small()
    m.train()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    m.freeze_for_finetune()
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-2)
    seq = torch.randint(1, 50, (4, 8))
    m.features(seq).pow(2).mean().backward()
    opt.step()
    changed = {k for k, v in m.state_dict().items() if not torch.equal(v, before[k])}
    assert changed, "nothing was trained"
    allowed = ("blocks.1.qkv", "blocks.1.out", "blocks.1.ffn")
    assert all(k.startswith(allowed) for k in changed), changed
    assert any(k.startswith("blocks.1.ffn") for k in changed) and any(k.startswith("blocks.1.qkv") for k in changed)


def test_cut_batches_and_last_only_equal_the_full_window():
    m = small()
    seq = torch.tensor([[0, 0, 0, 0, 0, 3, 7, 9], [0, 0, 0, 0, 0, 0, 4, 2]])
    full = m.features(seq)
    assert torch.allclose(m.features(seq[:, -3:]), full[:, -3:], atol=1e-5)  # padding columns dropped
    assert torch.allclose(m.last_state(seq[:, -3:]), full[:, -1], atol=1e-5)
    assert torch.allclose(m.features(seq, last_only=True)[:, 0], full[:, -1], atol=1e-5)
