"""A model that fails while predicting: forward raises once the model is in eval mode, so the
ingestion program writes no predictions (and measures nothing)."""

from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(64, 10))

    def forward(self, x):
        if not self.training:
            raise RuntimeError("this example model fails on purpose in forward()")
        return self.layers(x)

    def fit(self, X, y):
        return self
