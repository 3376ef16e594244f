"""Tiny models the tests build and save as real checkpoints (module-level: picklable)."""

import torch


class TinySeqModel(torch.nn.Module):
    """Embedding + a ModuleList of blocks; called as model(input_ids=…, attention_mask=…)."""

    def __init__(self, vocab=50, dim=12, n_blocks=3, context=32):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(dim, dim) for _ in range(n_blocks))
        self.block_size = context

    def forward(self, input_ids, attention_mask=None):
        h = self.embed(input_ids)
        h = h + torch.cumsum(h, dim=1) / torch.arange(1, h.shape[1] + 1).view(1, -1, 1)
        for block in self.blocks:
            h = torch.tanh(block(h))
        return h


def mlp():
    return torch.nn.Sequential(
        torch.nn.Linear(6, 24),
        torch.nn.Tanh(),
        torch.nn.Linear(24, 24),
        torch.nn.Tanh(),
        torch.nn.Linear(24, 3),
    )


def save_mlp_checkpoints(folder, steps, *, seed=0):
    """One mlp() state per step, weights drifting with the step; returns the state dicts."""
    torch.manual_seed(seed)
    base = mlp().state_dict()
    states = {}
    for step in steps:
        g = torch.Generator().manual_seed(1000 + step)
        state = {
            k: v + 0.05 * (step**0.5) * torch.randn(v.shape, generator=g) for k, v in base.items()
        }
        torch.save(state, folder / f"step_{step}.pt")
        states[step] = state
    return states


def slow_mlp():
    """mlp(), built slowly: lets a test kill a scan between checkpoints."""
    import time

    time.sleep(0.4)
    return mlp()
