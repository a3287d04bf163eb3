#!/usr/bin/python3
"""PyTorch on CUDA, the reference for bench/gpu.mjs: Mini-GPT training tokens/s in the seed's shapes
(minigpt_seed.py's model and step: forward, loss, backward, clip 1.0, AdamW) on random batches of
64 x 26, and GPT-2 (gpt2_ref.py, random weights) greedy decode tokens/s with the KV cache after a
prompt of --context tokens. CUDA is synchronised before every clock read; loss.item() and the
argmax on the host end each step, as in the TypeScript benchmark.

Without a CUDA device it prints {"device": "cpu", ...} and measures nothing: the CPU references
are bench/pytorch/minigpt_seed.py and gpt2_bench.py.

  /usr/bin/python3 bench/pytorch/gpu_bench.py --config gpt2 --context 64 --decode-steps 16
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpt2_ref import GPT2Config, GPT2LMHeadModel  # noqa: E402
from minigpt_seed import TransformerDecoder  # noqa: E402

CONFIGS = {
    "gpt2": GPT2Config(),
    "tiny": GPT2Config(vocab_size=337, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=336, eos_token_id=336),
}


def clock(device):
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def bench_train(device, steps, warmup, gen):
    model = TransformerDecoder(vocab_size=81, embed_dim=64, num_heads=4, num_layers=3, max_len=27, ff_dim=256, dropout=0.1, pad_idx=0).to(device)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss(ignore_index=0)
    times = []
    for i in range(warmup + steps):
        ids = torch.randint(3, 81, (64, 26), generator=gen).to(device)
        targets = torch.randint(3, 81, (64, 26), generator=gen).to(device)
        t = clock(device)
        opt.zero_grad()
        logits = model(ids)
        loss = criterion(logits.view(-1, logits.size(-1)), targets.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
        dt = clock(device) - t
        if i >= warmup:
            times.append(dt)
    return {"train_tokens_per_s": 64 * 26 / statistics.median(times), "train_step_ms_median": 1000 * statistics.median(times)}


@torch.no_grad()
def bench_decode(device, cfg, context, steps, gen):
    model = GPT2LMHeadModel(cfg).to(device).eval()
    prompt = torch.randint(0, cfg.vocab_size, (1, context), generator=gen).to(device)
    t = clock(device)
    logits, past = model(prompt)
    prefill = clock(device) - t
    nxt = logits[:, -1:].argmax(-1)
    logits, past = model(nxt, past)  # warm-up step, untimed
    times = []
    for _ in range(steps):
        nxt = torch.tensor([[int(logits[0, -1].argmax())]], device=device)  # the token on the host, as a sampler has it
        t = clock(device)
        logits, past = model(nxt, past)
        logits[0, -1].cpu()
        times.append(clock(device) - t)
    return {"prefill_tokens_per_s": context / prefill, "decode_tokens_per_s": steps / sum(times), "decode_step_ms_median": 1000 * statistics.median(times)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=sorted(CONFIGS), default="gpt2")
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--decode-steps", type=int, default=16)
    p.add_argument("--train-steps", type=int, default=10)
    p.add_argument("--train-warmup", type=int, default=2)
    args = p.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"device": "cpu", "torch": torch.__version__}))
        return
    gen = torch.Generator().manual_seed(0)
    out = {"device": "cuda", "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda}
    out.update(bench_train("cuda", args.train_steps, args.train_warmup, gen))
    out.update(bench_decode("cuda", CONFIGS[args.config], args.context, args.decode_steps, gen))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
