#!/usr/bin/python3
"""Export the reference GPT-2 (bench/pytorch/gpt2_ref.py, random weights) to ONNX with past
key/values, for ONNX Runtime in bench/gpt2.mjs. Written at bench time into a temporary
directory; nothing is committed and nothing is downloaded.

  /usr/bin/python3 bench/pytorch/gpt2_onnx.py --config tiny --out /tmp/gpt2-tiny.onnx

One graph serves prefill and decoding:
  inputs   input_ids int64 [1, T]; past_key_i, past_value_i float32 [1, n_head, P, head_dim]
           for each layer i (P = 0 for a prefill)
  outputs  logits float32 [1, vocab] of the last position (what a generator needs, as
           minigpt-fp's decoder computes); present_key_i, present_value_i [1, n_head, P + T, head_dim]
T and P are dynamic axes. The weights are Hugging Face's init drawn from --seed, as
gpt2_bench.py draws them; timings do not depend on their values.
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpt2_bench import CONFIGS  # noqa: E402
from gpt2_ref import GPT2LMHeadModel  # noqa: E402


class WithPast(torch.nn.Module):
    """GPT2LMHeadModel over flat past tensors, returning last-position logits and the presents."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        h, presents = self.model.transformer(input_ids, past)
        logits = self.model.lm_head(h[:, -1, :])
        return (logits, *[t for kv in presents for t in kv])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=sorted(CONFIGS), default="gpt2")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--opset", type=int, default=17)
    args = p.parse_args()
    cfg = CONFIGS[args.config]
    model = GPT2LMHeadModel(cfg).init_weights(torch.Generator().manual_seed(args.seed)).eval()
    wrapped = WithPast(model).eval()
    head_dim = cfg.n_embd // cfg.n_head
    ids = torch.zeros(1, 3, dtype=torch.long)
    past = [torch.zeros(1, cfg.n_head, 2, head_dim) for _ in range(2 * cfg.n_layer)]
    past_names = [f"past_{kv}_{i}" for i in range(cfg.n_layer) for kv in ("key", "value")]
    present_names = [f"present_{kv}_{i}" for i in range(cfg.n_layer) for kv in ("key", "value")]
    dynamic = {"input_ids": {1: "T"}, **{n: {2: "P"} for n in past_names}, **{n: {2: "P_plus_T"} for n in present_names}}
    with torch.no_grad():
        torch.onnx.export(
            wrapped, (ids, *past), args.out, input_names=["input_ids", *past_names], output_names=["logits", *present_names],
            dynamic_axes=dynamic, opset_version=args.opset, do_constant_folding=True,
        )
    print(f"gpt2_onnx: {args.config} ({model.num_parameters():,} params) -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
