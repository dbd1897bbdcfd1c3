"""The cheapest model: one linear layer (64-10, 650 parameters, multinomial logistic regression),
trained with Adam, full batch, 150 steps. Fewer parameters, MACs and less time than the
reference, for a lower accuracy: a point on the Pareto front of accuracy versus cost."""

import torch
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        return self.linear(x)

    def fit(self, X, y, steps=150):
        optimiser = torch.optim.Adam(self.parameters(), lr=0.05)
        for _ in range(steps):
            optimiser.zero_grad()
            nn.functional.cross_entropy(self(X), y).backward()
            optimiser.step()
        return self
