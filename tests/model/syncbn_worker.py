"""Run by test_norm under torchrun (2 CPU processes, gloo): each rank normalises its half of a fixed batch
with SyncBatchNormAct2d and saves outputs, input gradients, weight gradients and running statistics."""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist

from model.norm import SyncBatchNormAct2d

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
x_full = torch.randn(4, 3, 5, 6) * 2 + 1
weights = torch.randn(4, 3, 5, 6)
layer = SyncBatchNormAct2d(3)
with torch.no_grad():
    layer.weight.copy_(torch.tensor([0.5, -1.5, 2.0]))
    layer.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
layer.train()
x = x_full[2 * rank : 2 * rank + 2].clone().requires_grad_(True)
y = layer(x)
(y * weights[2 * rank : 2 * rank + 2]).sum().backward()
torch.save({"y": y.detach(), "x_grad": x.grad, "w_grad": layer.weight.grad, "b_grad": layer.bias.grad,
            "running_mean": layer.running_mean, "running_var": layer.running_var}, f"{sys.argv[1]}/rank{rank}.pt")
dist.destroy_process_group()
