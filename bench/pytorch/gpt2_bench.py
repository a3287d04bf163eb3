#!/usr/bin/python3
"""GPT-2 124M shapes with random weights, in plain PyTorch (bench/pytorch/gpt2_ref.py): the
reference figures for the TypeScript GPT-2 benchmarks.

Measurements (pick with --measure, default both, in this order):
  decode    one untimed prefill of other ids first (the process's first: one-time costs; its
            time reported as cold_prefill_seconds), then for each --contexts C: --prefill-reps
            random prompts of C tokens prefilled (one forward each, no grad, timed on its own;
            the figure is their median), one untimed decode step after the last, then
            --decode-steps greedy steps
            with the KV cache, one token each; tokens/s = steps / their time.
            Peak RSS (ru_maxrss) is read right after, before any fine-tuning.
  finetune  batch --ft-batch x block --ft-block random ids, model.train() (dropout on, as
            HF's Trainer): forward, causal LM loss (shifted, as GPT2LMHeadModel), backward,
            clip_grad_norm_ --ft-clip (1.0, HF Trainer's default; 0 = off), AdamW
            (lr 5e-5, weight decay 0, HF Trainer's defaults), zero_grad. --ft-warmup
            untimed steps, then --ft-steps timed ones.

The prefill computes the last position's logits only (what a generator needs; minigpt-fp's
decoder and the ONNX export do the same). The BLAS the process really runs on is read from
it (blas_info.py) and reported as `blas`: on the reference BLAS (netlib libblas3) expect
~7 tokens/s decoding and ~55 s per fine-tuning step; with OpenBLAS (libopenblas0-pthread)
a few times faster. Those reference-BLAS figures are not a comparison to quote.

Examples:
  /usr/bin/python3 bench/pytorch/gpt2_bench.py --json
  /usr/bin/python3 bench/pytorch/gpt2_bench.py --measure decode --contexts 64 --decode-steps 16 --json
  /usr/bin/python3 bench/pytorch/gpt2_bench.py --config tiny --json     # a seconds-long smoke test
"""

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blas_info import blas_info  # noqa: E402
from gpt2_ref import GPT2Config, GPT2LMHeadModel, lm_loss  # noqa: E402

CONFIGS = {
    "gpt2": GPT2Config(),  # vocab 50257, n_positions 1024, n_embd 768, 12 layers, 12 heads
    "tiny": GPT2Config(vocab_size=337, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=336, eos_token_id=336),
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


@torch.no_grad()
def bench_decode(model, cfg, context, steps, gen, prefill_reps=3):
    model.eval()
    prefills = []
    for _ in range(prefill_reps):  # the last prompt's cache is decoded; the figure is the median
        prompt = torch.randint(0, cfg.vocab_size, (1, context), generator=gen)
        t0 = time.perf_counter()
        h, past = model.transformer(prompt)
        logits = model.lm_head(h[:, -1:])  # the last position's logits only
        prefills.append(time.perf_counter() - t0)
    prefill = statistics.median(prefills)
    nxt = logits[:, -1:].argmax(-1)
    logits, past = model(nxt, past)  # warm-up step, untimed
    times = []
    for _ in range(steps):
        nxt = logits[:, -1:].argmax(-1)
        t = time.perf_counter()
        logits, past = model(nxt, past)
        times.append(time.perf_counter() - t)
    total = sum(times)
    return {
        "context": context,
        "prefill_seconds": prefill,
        "prefill_tokens_per_s": context / prefill,
        "decode_steps": steps,
        "decode_seconds": total,
        "decode_tokens_per_s": steps / total,
        "decode_step_ms_median": 1000 * statistics.median(times),
        "final_length": past[0][0].size(-2),
    }


def bench_finetune(model, cfg, batch, block, warmup, steps, clip, gen):
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.0)
    times, losses = [], []
    for i in range(warmup + steps):
        ids = torch.randint(0, cfg.vocab_size, (batch, block), generator=gen)
        t = time.perf_counter()
        logits, _ = model(ids)
        loss = lm_loss(logits, ids)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        opt.zero_grad()
        lv = loss.item()
        dt = time.perf_counter() - t
        log(f"  fine-tune step {i + 1}/{warmup + steps}{' (warm-up)' if i < warmup else ''}: {dt:.2f} s, loss {lv:.4f}")
        if i >= warmup:
            times.append(dt)
            losses.append(lv)
    return {
        "batch": batch,
        "block": block,
        "warmup_steps": warmup,
        "steps": steps,
        "clip": clip,
        "optimizer": "AdamW(lr=5e-5, weight_decay=0)",
        "step_seconds": times,
        "step_seconds_mean": sum(times) / len(times) if times else None,
        "tokens_per_s": batch * block * len(times) / sum(times) if times else None,
        "losses": losses,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=sorted(CONFIGS), default="gpt2")
    p.add_argument("--measure", default="decode,finetune", help="comma list of: decode, finetune")
    p.add_argument("--contexts", default="64,512", help="prompt lengths for decode")
    p.add_argument("--decode-steps", type=int, default=16)
    p.add_argument("--prefill-reps", type=int, default=3, help="prefills per context, the figure their median")
    p.add_argument("--ft-batch", type=int, default=8)
    p.add_argument("--ft-block", type=int, default=32)
    p.add_argument("--ft-warmup", type=int, default=1)
    p.add_argument("--ft-steps", type=int, default=2)
    p.add_argument("--ft-clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = p.parse_args()

    measures = [m.strip() for m in args.measure.split(",") if m.strip()]
    for m in measures:
        if m not in ("decode", "finetune"):
            raise SystemExit(f"unknown measurement {m!r}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = CONFIGS[args.config]
    torch.manual_seed(args.seed)  # dropout in the fine-tuning step
    gen = torch.Generator().manual_seed(args.seed)

    t0 = time.perf_counter()
    model = GPT2LMHeadModel(cfg).init_weights(gen)
    init_s = time.perf_counter() - t0
    result = {
        "script": "bench/pytorch/gpt2_bench.py",
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas_info(),
        "config_name": args.config,
        "config": cfg.to_hf_dict(),
        "params": model.num_parameters(),
        "init_seconds": init_s,
        "rss_mb_after_init": rss_mb(),
    }
    log(f"{args.config}: {result['params']:,} params, init {init_s:.1f} s, RSS {result['rss_mb_after_init']:.0f} MB, {result['threads']} thread(s), BLAS {result['blas']['blas']} ({result['blas']['blas_threads']} thread(s))")

    if "decode" in measures:
        # The process's first prefill (other ids, the first context's length), timed apart and not
        # part of the figures, as bench/gpt2.mjs does for all three: one-time costs (allocator warm-up).
        contexts = [int(x) for x in args.contexts.split(",") if x.strip()]
        with torch.no_grad():
            model.eval()
            warm = torch.randint(0, cfg.vocab_size, (1, contexts[0]), generator=torch.Generator().manual_seed(args.seed + 7))
            t0 = time.perf_counter()
            h, _ = model.transformer(warm)
            model.lm_head(h[:, -1:])
            result["cold_prefill_seconds"] = time.perf_counter() - t0
        log(f"first prefill of {contexts[0]} tokens (cold, untimed for the figures): {result['cold_prefill_seconds']:.2f} s")
        result["decode"] = []
        for c in [int(x) for x in args.contexts.split(",") if x.strip()]:
            if c + args.decode_steps + 1 > cfg.n_positions:
                raise SystemExit(f"context {c} + {args.decode_steps + 1} steps > n_positions {cfg.n_positions}")
            r = bench_decode(model, cfg, c, args.decode_steps, gen, args.prefill_reps)
            result["decode"].append(r)
            log(f"decode @ {c}: prefill {r['prefill_seconds']:.2f} s, {r['decode_tokens_per_s']:.2f} tok/s ({r['decode_step_ms_median']:.0f} ms/step median)")
        result["peak_rss_mb_after_decode"] = rss_mb()
        log(f"peak RSS after decoding {result['peak_rss_mb_after_decode']:.0f} MB")

    if "finetune" in measures:
        r = bench_finetune(model, cfg, args.ft_batch, args.ft_block, args.ft_warmup, args.ft_steps, args.ft_clip, gen)
        result["finetune"] = r
        result["peak_rss_mb_after_finetune"] = rss_mb()
        if r["step_seconds_mean"] is not None:
            log(f"fine-tune {args.ft_batch}x{args.ft_block}: {r['step_seconds_mean']:.2f} s/step, peak RSS {result['peak_rss_mb_after_finetune']:.0f} MB")

    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
