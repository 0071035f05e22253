"""SASRec (Kang & McAuley 2018), after pmixer's SASRec.pytorch, with a correct mask.

The reference code passed a float 0/1 causal mask, which attention *adds* to its logits,
so the future was not blocked. Here the mask is boolean (True = may attend) and also hides
padding keys.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def attention_mask(seqs: torch.Tensor) -> torch.Tensor:
    """(B, 1, L, L) boolean, True = query i may attend to key j: j <= i and j is not padding.
    A padded query row would see no key at all (NaN), so it sees itself; its output is zeroed."""
    n = seqs.shape[1]
    causal = torch.ones(n, n, dtype=torch.bool, device=seqs.device).tril()
    eye = torch.eye(n, dtype=torch.bool, device=seqs.device)
    return (causal & ((seqs != 0)[:, None, :] | eye)).unsqueeze(1)


class Block(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.attn_norm = nn.LayerNorm(d, eps=1e-8)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ffn_norm = nn.LayerNorm(d, eps=1e-8)
        self.ffn = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d, d), nn.Dropout(dropout))

    def attention_params(self):
        return [*self.qkv.parameters(), *self.out.parameters()]

    def forward(self, x, mask, last_only: bool = False):
        """last_only: outputs for the last position only (all keys still attended): inference."""
        b, n, d = x.shape
        q_in = self.attn_norm(x[:, -1:] if last_only else x)
        m = q_in.shape[1]
        # pmixer/SASRec: queries are normalised, keys/values are the raw sequence
        q = F.linear(q_in, self.qkv.weight[:d], self.qkv.bias[:d])
        kv = F.linear(x, self.qkv.weight[d:], self.qkv.bias[d:])
        k, v = kv.split(d, dim=-1)
        q = q.view(b, m, self.heads, d // self.heads).transpose(1, 2)
        k, v = (t.view(b, n, self.heads, d // self.heads).transpose(1, 2) for t in (k, v))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, :, -m:],
                                           dropout_p=self.dropout if self.training else 0.0)
        x = q_in + self.out(a.transpose(1, 2).reshape(b, m, d))
        x = self.ffn_norm(x)
        return x + self.ffn(x)


class SASRec(nn.Module):
    def __init__(self, n_items: int, hidden_units: int = 512, num_blocks: int = 2, num_heads: int = 2,
                 maxlen: int = 100, dropout_rate: float = 0.2):
        super().__init__()
        if hidden_units % num_heads:
            raise ValueError(f"hidden_units ({hidden_units}) must be divisible by num_heads ({num_heads})")
        self.n_items, self.maxlen = n_items, maxlen
        self.item_emb = nn.Embedding(n_items + 1, hidden_units, padding_idx=0)
        self.pos_emb = nn.Embedding(maxlen, hidden_units)
        self.emb_dropout = nn.Dropout(dropout_rate)
        self.blocks = nn.ModuleList(Block(hidden_units, num_heads, dropout_rate) for _ in range(num_blocks))
        self.last_norm = nn.LayerNorm(hidden_units, eps=1e-8)
        for name, p in self.named_parameters():  # as SASRec.pytorch: Xavier for every matrix
            if p.dim() > 1:
                nn.init.xavier_normal_(p)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def features(self, seqs: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """(B, L) left-padded item ids -> (B, L, d) hidden states; position t sees items <= t.

        L may be shorter than maxlen (batches cut to their longest history): the columns are
        the last L of the maxlen window, so they keep their position embeddings and the
        result equals that of the full-width input. last_only: (B, 1, d), the last position.
        """
        seqs = seqs[:, -self.maxlen:]
        n = seqs.shape[1]
        valid = (seqs != 0).unsqueeze(-1)
        x = self.item_emb(seqs) * self.item_emb.embedding_dim ** 0.5
        x = x + self.pos_emb(torch.arange(self.maxlen - n, self.maxlen, device=seqs.device))
        x = self.emb_dropout(x) * valid
        mask = attention_mask(seqs)
        for i, block in enumerate(self.blocks):
            last = last_only and i == len(self.blocks) - 1
            x = block(x, mask, last) * (valid[:, -1:] if last else valid)
        return self.last_norm(x)

    def last_state(self, seqs: torch.Tensor) -> torch.Tensor:
        return self.features(seqs, last_only=True)[:, -1]

    def score_all(self, seqs: torch.Tensor) -> torch.Tensor:
        """(B, n_items + 1) scores of every item after the last position (column 0 = padding)."""
        return self.last_state(seqs) @ self.item_emb.weight.T

    def score_items(self, seqs: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(B, C) scores of the given candidate ids."""
        return torch.einsum("bd,bcd->bc", self.last_state(seqs), self.item_emb(items))

    def finetune_parameters(self):
        """What serendipity fine-tuning trains: the last block's attention and feed-forward."""
        last = self.blocks[-1]
        return [*last.attention_params(), *last.ffn.parameters()]

    def freeze_for_finetune(self):
        keep = {id(p) for p in self.finetune_parameters()}
        for p in self.parameters():
            p.requires_grad_(id(p) in keep)
