#!/usr/bin/python3
"""The seed notebook's Part 1 (Mini-GPT on fantasy names), run faithfully in PyTorch.

The given classes (MultiHeadAttention, FeedForward, PositionalEncoding, DecoderBlock) are
copied as the notebook writes them; its TODOs (create_causal_mask, TransformerDecoder,
generate) are completed in the obvious way. Two deliberate choices (docs/guide.md explains
the first):

- create_causal_mask fills -inf above the diagonal and 0 elsewhere. The notebook's hint,
  `torch.triu(torch.ones(n, n)) * -inf`, gives 0 * -inf = NaN below the diagonal.
- The recipe keeps PyTorch's AdamW default weight decay (0.01).

By default the notebook's random-number draws are replayed in its order (torch.manual_seed,
the 5x5 randn of section 2, model init, the (2, 10) test forward in train mode, then the
DataLoader shuffles), so that `--seed 42` on the full file is the notebook's own run on CPU.
`--no-notebook-rng` skips the two extra draws.

This file is also imported by scripts/fixtures/make_minigpt_fixture.py for the model classes.

Examples (see bench/pytorch/README.md):
    /usr/bin/python3 bench/pytorch/minigpt_seed.py --epochs 1 --json
    /usr/bin/python3 bench/pytorch/minigpt_seed.py --train ../shared/data/fantasy_names.train.txt \
        --val ../shared/data/fantasy_names.val.txt --epochs 50 --generate 1000 --forward-bench --json
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

PAD_TOKEN = "<PAD>"
SOS_TOKEN = "<SOS>"  # Start of sequence
EOS_TOKEN = "<EOS>"  # End of sequence


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Section 2: the causal mask (the notebook's exercise 1, completed)
# ---------------------------------------------------------------------------------------


def create_causal_mask(seq_len):
    """(seq_len, seq_len): 0 where a query may attend (j <= i), -inf above the diagonal.

    Not `torch.triu(torch.ones(n, n)) * -inf`: that multiplies the zeros below the
    diagonal by -inf and gives NaN there.
    """
    mask = torch.zeros(seq_len, seq_len)
    mask = mask.masked_fill(torch.triu(torch.ones(seq_len, seq_len, dtype=torch.bool), diagonal=1), float("-inf"))
    return mask


# ---------------------------------------------------------------------------------------
# Section 3: the data set (as in the notebook)
# ---------------------------------------------------------------------------------------


def load_names(path):
    """The notebook's loader: strip each line, skip blank lines and lines starting with '#'."""
    with open(path, "r", encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def build_vocab(names):
    """[<PAD>, <SOS>, <EOS>] + the sorted distinct characters of `names`."""
    chars = set()
    for name in names:
        chars.update(name)
    chars = sorted(list(chars))
    vocab = [PAD_TOKEN, SOS_TOKEN, EOS_TOKEN] + chars
    char2idx = {ch: i for i, ch in enumerate(vocab)}
    idx2char = {i: ch for ch, i in char2idx.items()}
    return vocab, char2idx, idx2char


class NameDataset(Dataset):
    def __init__(self, names, char2idx, max_len=25):
        self.names = names
        self.char2idx = char2idx
        self.max_len = max_len
        self.pad_idx = char2idx[PAD_TOKEN]
        self.sos_idx = char2idx[SOS_TOKEN]
        self.eos_idx = char2idx[EOS_TOKEN]

    def __len__(self):
        return len(self.names)

    def __getitem__(self, idx):
        name = self.names[idx]

        # Encoder: SOS + nom + EOS
        encoded = [self.sos_idx] + [self.char2idx[c] for c in name] + [self.eos_idx]

        # Padding
        if len(encoded) < self.max_len + 2:  # +2 pour SOS et EOS
            encoded += [self.pad_idx] * (self.max_len + 2 - len(encoded))
        else:
            encoded = encoded[: self.max_len + 2]

        # Input: tout sauf le dernier token
        # Target: tout sauf le premier token (décalé de 1)
        input_ids = torch.tensor(encoded[:-1], dtype=torch.long)
        target_ids = torch.tensor(encoded[1:], dtype=torch.long)

        return input_ids, target_ids


# ---------------------------------------------------------------------------------------
# Section 4: the given components, as written in the notebook
# ---------------------------------------------------------------------------------------


class MultiHeadAttention(nn.Module):
    """Multi-Head Attention avec support du masque causal."""

    def __init__(self, embed_dim, num_heads):
        super().__init__()
        assert embed_dim % num_heads == 0
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.d_k = embed_dim // num_heads

        self.W_q = nn.Linear(embed_dim, embed_dim)
        self.W_k = nn.Linear(embed_dim, embed_dim)
        self.W_v = nn.Linear(embed_dim, embed_dim)
        self.W_o = nn.Linear(embed_dim, embed_dim)

    def forward(self, x, mask=None):
        B, S, _ = x.shape

        Q = self.W_q(x).view(B, S, self.num_heads, self.d_k).transpose(1, 2)
        K = self.W_k(x).view(B, S, self.num_heads, self.d_k).transpose(1, 2)
        V = self.W_v(x).view(B, S, self.num_heads, self.d_k).transpose(1, 2)

        scores = Q @ K.transpose(-2, -1) / math.sqrt(self.d_k)

        # Appliquer le masque causal si fourni
        if mask is not None:
            scores = scores + mask

        attn = F.softmax(scores, dim=-1)
        out = (attn @ V).transpose(1, 2).contiguous().view(B, S, self.embed_dim)

        return self.W_o(out)


class FeedForward(nn.Module):
    """Feed-Forward Network."""

    def __init__(self, embed_dim, ff_dim=None, dropout=0.1):
        super().__init__()
        ff_dim = ff_dim or 4 * embed_dim
        self.net = nn.Sequential(
            nn.Linear(embed_dim, ff_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(ff_dim, embed_dim),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        return self.net(x)


class PositionalEncoding(nn.Module):
    """Positional Encoding sinusoïdal."""

    def __init__(self, embed_dim, max_len=5000, dropout=0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

        pe = torch.zeros(max_len, embed_dim)
        position = torch.arange(0, max_len).unsqueeze(1).float()
        div_term = torch.exp(torch.arange(0, embed_dim, 2).float() * (-math.log(10000.0) / embed_dim))

        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)

        self.register_buffer("pe", pe.unsqueeze(0))

    def forward(self, x):
        return self.dropout(x + self.pe[:, : x.size(1)])


class DecoderBlock(nn.Module):
    """Un bloc du décodeur Transformer."""

    def __init__(self, embed_dim, num_heads, ff_dim=None, dropout=0.1):
        super().__init__()
        self.attn = MultiHeadAttention(embed_dim, num_heads)
        self.ff = FeedForward(embed_dim, ff_dim, dropout)
        self.norm1 = nn.LayerNorm(embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        # Pre-norm architecture
        attn_out = self.attn(self.norm1(x), mask)
        x = x + self.dropout(attn_out)
        x = x + self.dropout(self.ff(self.norm2(x)))
        return x


# ---------------------------------------------------------------------------------------
# The notebook's exercise 2, completed
# ---------------------------------------------------------------------------------------


class TransformerDecoder(nn.Module):
    """
    Mini-GPT : Décodeur Transformer pour la génération de texte.
    """

    def __init__(self, vocab_size, embed_dim, num_heads, num_layers, max_len=100, ff_dim=None, dropout=0.1, pad_idx=0):
        super().__init__()

        self.embed_dim = embed_dim
        self.pad_idx = pad_idx

        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_idx)
        self.pos_encoding = PositionalEncoding(embed_dim, max_len, dropout)
        self.layers = nn.ModuleList([DecoderBlock(embed_dim, num_heads, ff_dim, dropout) for _ in range(num_layers)])
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, vocab_size)

    def forward(self, x):
        B, S = x.shape

        h = self.embedding(x) * math.sqrt(self.embed_dim)
        h = self.pos_encoding(h)
        mask = create_causal_mask(S).to(x.device)
        for layer in self.layers:
            h = layer(h, mask)
        h = self.norm(h)
        logits = self.head(h)

        return logits


def count_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------------------
# Section 5: training (as in the notebook, with timing)
# ---------------------------------------------------------------------------------------


def train_epoch(model, dataloader, optimizer, criterion, device, limit_batches=None):
    """The notebook's train_epoch (mean of batch means), plus step timing and token counts.

    Returns (mean loss, seconds spent in steps, positions seen). A step is forward, loss,
    backward, clip, AdamW and loss.item(); loading the batch is outside it.
    """
    model.train()
    total_loss = 0
    step_seconds = 0.0
    positions = 0
    n = 0

    for input_ids, target_ids in dataloader:
        if limit_batches is not None and n >= limit_batches:
            break
        input_ids = input_ids.to(device)
        target_ids = target_ids.to(device)
        t0 = time.perf_counter()

        optimizer.zero_grad()

        # Forward
        logits = model(input_ids)

        # Loss (reshape pour CrossEntropy)
        loss = criterion(logits.view(-1, logits.size(-1)), target_ids.view(-1))

        # Backward
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

        total_loss += loss.item()
        step_seconds += time.perf_counter() - t0
        positions += input_ids.numel()
        n += 1

    return total_loss / n, step_seconds, positions


@torch.no_grad()
def evaluate(model, dataset, pad_idx, batch_size=64):
    """Mean cross-entropy in nats per predicted token (PAD targets excluded, EOS included),
    eval mode, summed in Python floats batch by batch. Returns (loss, token count)."""
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    total = 0.0
    count = 0
    for input_ids, target_ids in loader:
        logits = model(input_ids)
        s = F.cross_entropy(logits.view(-1, logits.size(-1)), target_ids.view(-1), ignore_index=pad_idx, reduction="sum")
        total += s.item()
        count += int((target_ids != pad_idx).sum().item())
    return total / count, count


# ---------------------------------------------------------------------------------------
# Section 6: generation (the notebook's exercise 3, completed)
# ---------------------------------------------------------------------------------------


@torch.no_grad()
def generate(model, char2idx, idx2char, prompt="", max_len=25, temperature=1.0, device="cpu"):
    """The notebook's generate(): SOS + prompt, then sample one token at a time (full
    forward each step, last position's logits / temperature, softmax, torch.multinomial)
    until EOS or max_len sampled tokens. Returns prompt + sampled characters."""
    model.eval()

    # Initialiser avec SOS + prompt
    tokens = [char2idx[SOS_TOKEN]]
    for c in prompt:
        if c in char2idx:
            tokens.append(char2idx[c])

    eos = char2idx[EOS_TOKEN]
    for _ in range(max_len):
        x = torch.tensor([tokens], dtype=torch.long, device=device)
        logits = model(x)[0, -1, :]
        logits = logits / temperature
        probs = F.softmax(logits, dim=-1)
        next_token = torch.multinomial(probs, num_samples=1).item()
        if next_token == eos:
            break
        tokens.append(next_token)

    generated = "".join(idx2char[t] for t in tokens[1:])
    return generated


@torch.no_grad()
def forward_bench(model, dataset, batch_size=64, min_seconds=2.0, min_reps=5):
    """Eval-mode, no-grad forward tokens/s at (batch_size, 26) on the first names."""
    model.eval()
    x = torch.stack([dataset[i][0] for i in range(min(batch_size, len(dataset)))])
    model(x)  # warm-up
    reps = 0
    t0 = time.perf_counter()
    while True:
        model(x)
        reps += 1
        dt = time.perf_counter() - t0
        if reps >= min_reps and dt >= min_seconds:
            break
    return x.numel() * reps / dt, reps, list(x.shape)


def _blas_info():
    """The BLAS this process really runs on (blas_info.py): a reference-BLAS run is labelled so."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from blas_info import blas_info

    return blas_info()


def save_checkpoint(model, out_dir, config, vocab):
    """model.state_dict() (float32, PyTorch layouts, pos_encoding.pe included) as
    model.safetensors, plus config.json and vocab.json."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from safetensors_io import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    save_file(sd, out_dir / "model.safetensors", metadata={"format": "pt"})
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n", encoding="utf-8")


def default_data_dir():
    """The shared data folder: $MINIGPT_DATA, else ../shared/data (or ../../shared/data)
    from the repository root."""
    env = os.environ.get("MINIGPT_DATA")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[2]
    for cand in (root.parent / "shared" / "data", root.parent.parent / "shared" / "data"):
        if cand.is_dir():
            return cand
    return root.parent / "shared" / "data"


def main():
    data = default_data_dir()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", default=str(data / "fantasy_names.txt"), help="names to train on (default: the full file)")
    p.add_argument("--val", default=None, help="names for the validation loss after each epoch")
    p.add_argument("--vocab-from", default=str(data / "fantasy_names.txt"), help="names the vocabulary is built from")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--generate", type=int, default=0, metavar="N", help="sample N names at T=1.0 after training")
    p.add_argument("--forward-bench", action="store_true", help="eval forward tokens/s at 64x26")
    p.add_argument("--train-eval", action="store_true", help="also the eval-mode loss on the training names at the end")
    p.add_argument("--save", default=None, metavar="DIR")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--limit-batches", type=int, default=None, help="development: stop each epoch after N batches")
    p.add_argument("--no-notebook-rng", action="store_true", help="skip the notebook's extra random draws")
    # The notebook's hyper-parameters.
    p.add_argument("--embed-dim", type=int, default=64)
    p.add_argument("--num-heads", type=int, default=4)
    p.add_argument("--num-layers", type=int, default=3)
    p.add_argument("--ff-dim", type=int, default=256)
    p.add_argument("--max-len", type=int, default=25)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    args = p.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    torch.manual_seed(args.seed)
    if not args.no_notebook_rng:
        torch.randn(5, 5)  # section 2: attn_scores = torch.randn(seq_len, seq_len)

    vocab_names = load_names(args.vocab_from)
    vocab, char2idx, idx2char = build_vocab(vocab_names)
    train_names = load_names(args.train)
    val_names = load_names(args.val) if args.val else None
    for nm in train_names + (val_names or []):
        missing = set(nm) - set(char2idx)
        if missing:
            raise SystemExit(f"name {nm!r} has characters outside the vocabulary: {sorted(missing)}")
    pad_idx = char2idx[PAD_TOKEN]
    log(f"vocab {len(vocab)} tokens from {len(vocab_names)} names; train {len(train_names)} names" + (f", val {len(val_names)}" if val_names else ""))

    dataset = NameDataset(train_names, char2idx, args.max_len)
    dataloader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True)

    config = {
        "vocab_size": len(vocab),
        "embed_dim": args.embed_dim,
        "num_heads": args.num_heads,
        "num_layers": args.num_layers,
        "ff_dim": args.ff_dim,
        "max_len": args.max_len,
        "dropout": args.dropout,
        "pad_idx": pad_idx,
    }
    model = TransformerDecoder(
        vocab_size=len(vocab),
        embed_dim=args.embed_dim,
        num_heads=args.num_heads,
        num_layers=args.num_layers,
        max_len=args.max_len + 2,
        ff_dim=args.ff_dim,
        dropout=args.dropout,
        pad_idx=pad_idx,
    ).to(device)
    num_params = count_params(model)
    log(f"params {num_params:,}")

    if not args.no_notebook_rng:
        # section 4: test_input = torch.randint(0, vocab_size, (2, 10)); model(test_input), train mode
        test_input = torch.randint(0, len(vocab), (2, 10))
        test_output = model(test_input)
        assert test_output.shape == (2, 10, len(vocab))

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss(ignore_index=pad_idx)

    val_set = NameDataset(val_names, char2idx, args.max_len) if val_names else None
    epoch_seconds, epoch_loss, epoch_step_seconds, val_loss = [], [], [], []
    total_positions, total_step_seconds = 0, 0.0
    val_tokens = None
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        loss, step_s, positions = train_epoch(model, dataloader, optimizer, criterion, device, args.limit_batches)
        dt = time.perf_counter() - t0
        epoch_seconds.append(dt)
        epoch_step_seconds.append(step_s)
        epoch_loss.append(loss)
        total_positions += positions
        total_step_seconds += step_s
        msg = f"epoch {epoch + 1}/{args.epochs} loss {loss:.4f} {dt:.1f}s ({positions / step_s:.0f} tok/s)"
        if val_set is not None:
            vl, val_tokens = evaluate(model, val_set, pad_idx)
            val_loss.append(vl)
            msg += f" val {vl:.4f}"
        log(msg)

    result = {
        "script": "bench/pytorch/minigpt_seed.py",
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": _blas_info(),
        "seed": args.seed,
        "notebook_rng": not args.no_notebook_rng,
        "config": config,
        "params": num_params,
        "vocab_size": len(vocab),
        "train_names": len(train_names),
        "batches_per_epoch": math.ceil(len(train_names) / args.batch_size) if args.limit_batches is None else min(args.limit_batches, math.ceil(len(train_names) / args.batch_size)),
        "epochs": args.epochs,
        "epoch_seconds": epoch_seconds,
        "epoch_step_seconds": epoch_step_seconds,
        "train_loss": epoch_loss,
        "train_tokens_per_s": total_positions / total_step_seconds if total_step_seconds > 0 else None,
    }
    if val_set is not None:
        result["val_loss"] = val_loss
        result["val_tokens"] = val_tokens
        result["val_names"] = len(val_names)
    if args.train_eval:
        tl, tt = evaluate(model, dataset, pad_idx)
        result["train_eval_loss"] = tl
        result["train_eval_tokens"] = tt
        log(f"eval-mode loss on the training names {tl:.4f} ({tt} tokens)")

    if args.forward_bench:
        tps, reps, shape = forward_bench(model, dataset, args.batch_size)
        result["forward_tokens_per_s"] = tps
        result["forward_shape"] = shape
        log(f"forward {tps:.0f} tok/s ({reps} reps of {shape})")

    if args.generate > 0:
        train_set = set(train_names)
        samples = []
        t0 = time.perf_counter()
        for _ in range(args.generate):
            samples.append(generate(model, char2idx, idx2char, prompt="", max_len=args.max_len, temperature=1.0, device=device))
        dt = time.perf_counter() - t0
        result["generate"] = {
            "n": args.generate,
            "temperature": 1.0,
            "seconds": dt,
            "names_per_s": args.generate / dt,
            "not_in_train": sum(s not in train_set for s in samples) / len(samples),
            "distinct": len(set(samples)) / len(samples),
            "mean_length": sum(len(s) for s in samples) / len(samples),
            "examples": samples[:10],
        }
        g = result["generate"]
        log(f"generate {g['names_per_s']:.1f} names/s; not in train {g['not_in_train']:.3f}, distinct {g['distinct']:.3f}, mean length {g['mean_length']:.2f}")

    if args.save:
        save_checkpoint(model, args.save, config, vocab)
        result["saved_to"] = args.save
        log(f"saved to {args.save}")

    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
