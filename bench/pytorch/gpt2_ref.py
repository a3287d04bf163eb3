"""GPT-2 in plain PyTorch: the math of Hugging Face's GPT2LMHeadModel, written afresh.

No `transformers` here, so this re-states what transformers/models/gpt2/modeling_gpt2.py
computes, for the reference fixtures (scripts/fixtures/make_gpt2_fixture.py) and the
benchmark (bench/pytorch/gpt2_bench.py):

    h = wte[ids] + wpe[past_len + arange(T)]                        (dropout embd_pdrop)
    per block:  a = ln_1(h)
                q, k, v = split(Conv1D c_attn(a), n_embd)          c_attn.weight is [in, 3*out]
                heads: [B, n_head, T, head_dim]; k, v appended to the cache
                w = q @ k^T / sqrt(head_dim); causal: w where allowed else finfo.min
                softmax (dropout attn_pdrop), @ v, merge heads, Conv1D c_proj (dropout)
                h = h + that
                m = c_proj(gelu_new(c_fc(ln_2(h))))                 (dropout resid_pdrop)
                h = h + m
    logits = ln_f(h) @ wte^T                                        lm_head tied to wte

Conv1D is y = x @ W + b with W stored [in, out] (the transpose of nn.Linear's).
gelu_new is the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
Parameter and buffer names are Hugging Face's (`transformer.h.0.attn.c_attn.weight`, ...),
including the buffers `transformer.h.N.attn.bias` (lower-triangular [1, 1, n_pos, n_pos])
and `transformer.h.N.attn.masked_bias` (-1e4) that older checkpoints carry.
"""

import math
from dataclasses import asdict, dataclass
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPT2Config:
    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: Optional[int] = None
    activation_function: str = "gelu_new"
    layer_norm_epsilon: float = 1e-5
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    initializer_range: float = 0.02
    bos_token_id: int = 50256
    eos_token_id: int = 50256

    def to_hf_dict(self):
        """The fields of a Hugging Face GPT2Config's config.json."""
        d = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}
        d.update(asdict(self))
        return d

    @classmethod
    def from_dict(cls, d):
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


def gelu_new(x):
    """GELU, tanh approximation (Hugging Face's "gelu_new", GPT-2's original)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(nn.Module):
    """y = x @ weight + bias, weight stored [n_in, n_out] (GPT-2's layout)."""

    def __init__(self, n_out, n_in):
        super().__init__()
        self.n_out = n_out
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        shape = x.shape[:-1] + (self.n_out,)
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(shape)


KV = Tuple[torch.Tensor, torch.Tensor]


class Attention(nn.Module):
    def __init__(self, cfg: GPT2Config, bias_dtype=torch.bool):
        super().__init__()
        n = cfg.n_positions
        self.register_buffer("bias", torch.tril(torch.ones(n, n)).to(bias_dtype).view(1, 1, n, n))
        self.register_buffer("masked_bias", torch.tensor(-1e4))
        self.n_head = cfg.n_head
        self.n_embd = cfg.n_embd
        self.head_dim = cfg.n_embd // cfg.n_head
        assert self.head_dim * cfg.n_head == cfg.n_embd
        self.c_attn = Conv1D(3 * cfg.n_embd, cfg.n_embd)
        self.c_proj = Conv1D(cfg.n_embd, cfg.n_embd)
        self.attn_dropout = nn.Dropout(cfg.attn_pdrop)
        self.resid_dropout = nn.Dropout(cfg.resid_pdrop)

    def _split(self, t):
        B, T, _ = t.shape
        return t.view(B, T, self.n_head, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, past: Optional[KV] = None):
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = self._split(q), self._split(k), self._split(v)
        if past is not None:
            k = torch.cat((past[0], k), dim=-2)
            v = torch.cat((past[1], v), dim=-2)
        present = (k, v)
        w = torch.matmul(q, k.transpose(-1, -2)) / (v.size(-1) ** 0.5)
        tq, tk = q.size(-2), k.size(-2)
        allowed = self.bias[:, :, tk - tq : tk, :tk].bool()
        w = torch.where(allowed, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        w = F.softmax(w, dim=-1)
        w = self.attn_dropout(w)
        out = torch.matmul(w, v)
        B, _, T, _ = out.shape
        out = out.permute(0, 2, 1, 3).contiguous().view(B, T, self.n_embd)
        return self.resid_dropout(self.c_proj(out)), present


class MLP(nn.Module):
    def __init__(self, cfg: GPT2Config):
        super().__init__()
        inner = cfg.n_inner if cfg.n_inner is not None else 4 * cfg.n_embd
        assert cfg.activation_function == "gelu_new", cfg.activation_function
        self.c_fc = Conv1D(inner, cfg.n_embd)
        self.c_proj = Conv1D(cfg.n_embd, inner)
        self.dropout = nn.Dropout(cfg.resid_pdrop)

    def forward(self, x):
        return self.dropout(self.c_proj(gelu_new(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, cfg: GPT2Config, bias_dtype=torch.bool):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.attn = Attention(cfg, bias_dtype)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.mlp = MLP(cfg)

    def forward(self, x, past: Optional[KV] = None):
        a, present = self.attn(self.ln_1(x), past)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, present


class GPT2Model(nn.Module):
    def __init__(self, cfg: GPT2Config, bias_dtype=torch.bool):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        self.drop = nn.Dropout(cfg.embd_pdrop)
        self.h = nn.ModuleList([Block(cfg, bias_dtype) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.n_positions = cfg.n_positions

    def forward(self, input_ids, past: Optional[List[KV]] = None):
        B, T = input_ids.shape
        past_len = 0 if past is None else past[0][0].size(-2)
        if past_len + T > self.n_positions:
            raise ValueError(f"sequence of {past_len + T} positions > n_positions {self.n_positions}")
        pos = torch.arange(past_len, past_len + T, dtype=torch.long).unsqueeze(0)
        x = self.drop(self.wte(input_ids) + self.wpe(pos))
        presents = []
        for i, block in enumerate(self.h):
            x, p = block(x, None if past is None else past[i])
            presents.append(p)
        return self.ln_f(x), presents


class GPT2LMHeadModel(nn.Module):
    """transformer + lm_head (weight tied to transformer.wte.weight, no bias)."""

    def __init__(self, cfg: GPT2Config, bias_dtype=torch.bool):
        super().__init__()
        self.config = cfg
        self.transformer = GPT2Model(cfg, bias_dtype)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, input_ids, past: Optional[List[KV]] = None):
        """(logits [B, T, vocab], presents: per layer (k, v) of [B, n_head, past+T, head_dim])."""
        h, presents = self.transformer(input_ids, past)
        return self.lm_head(h), presents

    def init_weights(self, generator: Optional[torch.Generator] = None):
        """Hugging Face's GPT-2 init: N(0, initializer_range) for Conv1D/Embedding weights,
        zero biases, LayerNorm (1, 0), and N(0, initializer_range / sqrt(2 n_layer)) for every
        `c_proj.weight` (the residual projections)."""
        std = self.config.initializer_range
        with torch.no_grad():
            for name, p in self.named_parameters():  # the tied lm_head appears once
                if name.endswith("c_proj.weight"):
                    p.normal_(0.0, std / math.sqrt(2 * self.config.n_layer), generator=generator)
                elif ".ln_" in name or name.startswith("transformer.ln_f"):
                    p.fill_(1.0 if name.endswith("weight") else 0.0)
                elif name.endswith("bias"):
                    p.zero_()
                else:
                    p.normal_(0.0, std, generator=generator)
        return self

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())  # tied weight counted once


def lm_loss(logits, labels):
    """Causal LM loss as GPT2LMHeadModel computes it: logits[:, :-1] against labels[:, 1:],
    mean cross-entropy (labels -100 ignored)."""
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1), ignore_index=-100)


def load_hf_state(model: GPT2LMHeadModel, tensors, dtype=torch.float32):
    """Load a Hugging Face-named mapping (numpy arrays or tensors), with or without the
    `transformer.` prefix, lm_head.weight optional (tied). Buffers (attn.bias,
    attn.masked_bias) are ignored. Weights are cast to `dtype`. Strict otherwise."""
    want = {k: v for k, v in model.state_dict().items() if not (k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"))}
    got = {}
    for k, v in tensors.items():
        if k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"):
            continue
        key = k if (k.startswith("transformer.") or k == "lm_head.weight") else "transformer." + k
        got[key] = torch.as_tensor(np.array(v) if isinstance(v, np.ndarray) else v).to(dtype)
    if "lm_head.weight" in got:
        if not torch.equal(got["lm_head.weight"], got["transformer.wte.weight"]):
            raise ValueError("lm_head.weight differs from wte.weight: this model ties them")
        del got["lm_head.weight"]
    want.pop("lm_head.weight")
    missing, extra = set(want) - set(got), set(got) - set(want)
    if missing or extra:
        raise ValueError(f"missing {sorted(missing)}, unexpected {sorted(extra)}")
    with torch.no_grad():
        sd = dict(model.named_parameters())
        for k, v in got.items():
            if tuple(v.shape) != tuple(sd[k].shape):
                raise ValueError(f"{k}: shape {tuple(v.shape)}, expected {tuple(sd[k].shape)}")
            sd[k].copy_(v)
    return model


@torch.no_grad()
def greedy_generate(model: GPT2LMHeadModel, prompt_ids, max_new_tokens, eos_token_id=None):
    """Greedy decoding with the KV cache: one forward over the prompt, then one token per
    step. Stops early at eos_token_id if given. Returns the new token ids."""
    model.eval()
    logits, past = model(torch.tensor([prompt_ids], dtype=torch.long))
    out = []
    for _ in range(max_new_tokens):
        nxt = int(logits[0, -1].argmax())
        out.append(nxt)
        if eos_token_id is not None and nxt == eos_token_id:
            break
        logits, past = model(torch.tensor([[nxt]], dtype=torch.long), past)
    return out
