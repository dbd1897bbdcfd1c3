"""The good model made about twice as slow: the same MLP (same weights, same predictions), whose
forward runs the network twice and returns the second result. Parameters and MACs per layer call
are unchanged; the time ratio to the reference should read about twice the good model's."""

import torch
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        self.layers(x)  # the same work done twice
        return self.layers(x)

    def fit(self, X, y, steps=150):
        optimiser = torch.optim.Adam(self.parameters(), lr=0.01)
        for _ in range(steps):
            optimiser.zero_grad()
            nn.functional.cross_entropy(self.layers(X), y).backward()
            optimiser.step()
        return self
