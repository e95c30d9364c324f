"""The suite's models and how each is driven, deterministically, on CPU.

Imported only in a child process (torchsuite.child). PyTorch keys a PGO
profile by a hash of the file holding the frame's code and a precompile
entry by the forward's qualname and first line: editing this file changes
the pgo and precompile artifacts (rerun tools/make_torch_vectors.py).
Each module defines its own forward so each has its own code object.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")
Compile = Callable[[nn.Module], Callable[[torch.Tensor], torch.Tensor]]


@dataclass(frozen=True)
class Drive:
    outputs: list[torch.Tensor]
    compile_s: float  # The torch.compile(model) call itself.
    call_s: list[float]  # Each call (train: each optimizer step).


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


class ConvNet(nn.Module):
    """One convolution (an extern mkldnn call), a fused relu+mean kernel and
    a linear layer: a different graph from the MLP's at the cost of one
    C++ kernel (each kernel is a g++ run, cold and warm)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


class DynMLP(MLP):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.tanh(self.fc1(x)))


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run_inference(
    model_cls: type[nn.Module], shapes: list[tuple[int, ...]], compile_fn: Compile
) -> Drive:
    torch.manual_seed(0)
    model = model_cls().eval()
    compiled, compile_s = _timed(lambda: compile_fn(model))
    gen = torch.Generator().manual_seed(1)
    outputs, call_s = [], []
    with torch.no_grad():
        for shape in shapes:
            x = torch.randn(*shape, generator=gen)
            y, s = _timed(lambda: compiled(x))  # noqa: B023 (called at once)
            outputs.append(y)
            call_s.append(s)
    return Drive(outputs, compile_s, call_s)


def run_train(compile_fn: Compile, steps: int = 2) -> Drive:
    torch.manual_seed(0)
    model = MLP()
    compiled, compile_s = _timed(lambda: compile_fn(model))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 16, generator=gen)
    target = torch.randn(4, 8, generator=gen)

    def step() -> torch.Tensor:
        opt.zero_grad()
        loss = ((compiled(x) - target) ** 2).mean()
        loss.backward()  # The first step compiles the backward graph.
        opt.step()
        return loss.detach()

    outputs, call_s = [], []
    for _ in range(steps):
        loss, s = _timed(step)
        outputs.append(loss)
        call_s.append(s)
    outputs.extend(p.detach().clone() for p in model.parameters())
    return Drive(outputs, compile_s, call_s)


DRIVERS: dict[str, Callable[[Compile], Drive]] = {
    "mlp": lambda c: run_inference(MLP, [(4, 16)] * 3, c),
    "conv": lambda c: run_inference(ConvNet, [(2, 3, 16, 16)] * 3, c),
    "dynamic": lambda c: run_inference(DynMLP, [(b, 16) for b in (2, 3, 4, 5, 6)], c),
    "train": run_train,
    "precompile": lambda c: run_inference(MLP, [(4, 16)] * 3, c),
}
