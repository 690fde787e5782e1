#!/usr/bin/python3
"""Trains the two example networks of docs/ml.md and saves them as TorchScript:

  stamp-cnn-cutouts-63.pt      real/bogus on the three ZTF stamps (3 x 63 x 63): two 3x3
                               convolutions of 16 and 32 channels, each with 2x2 max pooling, one
                               dense layer of 64, a sigmoid. Labels: the alerts' own drb >= 0.5
                               on the 86 real ZTF alerts of the shared data. A toy: 86 alerts.
  lc-gru-lightcurve-30.pt      transient vs variable on the latest 30 detections: a GRU of 16
                               units over (dt, mag, error, band), read at the last real point, a
                               sigmoid. Trained on `ebs-flow model synthetic --feature-set
                               lightcurve/30` (the simulator's classes, the rows torch-score gives).

Each module carries `ebs_inputs` (cutouts/63, lightcurve/30): `ebs-flow model register` and
torch-score read it. Deterministic (seeded, one thread, PYTHONHASHSEED=0): rerunning reproduces the
committed files byte for byte.

  /usr/bin/python3 models/train_models.py --data ../shared/data --ebs-flow build/ebs-flow [--out models]
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch import nn

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ztf_inputs  # noqa: E402


class StampCnn(nn.Module):
    ebs_inputs: str

    def __init__(self):
        super().__init__()
        self.ebs_inputs = "cutouts/63"
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3), nn.ReLU(), nn.MaxPool2d(2),   # 63 -> 61 -> 30
            nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),  # 30 -> 28 -> 14
        )
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(32 * 14 * 14, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.dense(self.features(x))).squeeze(1)


class LightCurveGru(nn.Module):
    ebs_inputs: str

    def __init__(self):
        super().__init__()
        self.ebs_inputs = "lightcurve/30"
        self.gru = nn.GRU(6, 16, batch_first=True)
        self.out = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # Magnitudes about the curve's own mean, times in tens of days: the network sees shapes.
        count = mask.sum(1).clamp(min=1.0)
        mean_mag = (x[:, :, 1] * mask).sum(1) / count
        mag = (x[:, :, 1] - mean_mag.unsqueeze(1)) * mask
        scaled = torch.stack([x[:, :, 0] / 10.0, mag, x[:, :, 2], x[:, :, 3], x[:, :, 4], x[:, :, 5]], dim=2)
        states, _ = self.gru(scaled)
        last = (mask.sum(1).long() - 1).clamp(min=0)
        final = states[torch.arange(states.shape[0]), last]
        return torch.sigmoid(self.out(final)).squeeze(1)


def fit(model, inputs, labels, epochs, lr):
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loss = nn.BCELoss()
    generator = torch.Generator().manual_seed(0)
    n = labels.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, 32):
            batch = order[start:start + 32]
            optimiser.zero_grad()
            value = loss(model(*[t[batch] for t in inputs]), labels[batch])
            value.backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        scores = model(*inputs)
    return float(((scores >= 0.5).float() == labels).float().mean())


def train_cnn(data_dir):
    alerts = ztf_inputs.read_alerts(data_dir)
    x = torch.from_numpy(np.stack([ztf_inputs.cutout_tensor(a) for a in alerts]))
    y = torch.tensor([1.0 if (a["candidate"].get("drb") or a["candidate"]["rb"]) >= 0.5 else 0.0 for a in alerts])
    model = StampCnn()
    accuracy = fit(model, [x], y, epochs=15, lr=1e-3)
    return model, {"alerts": len(alerts), "real": int(y.sum()), "training_accuracy": accuracy}


def train_gru(ebs_flow):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sequences.csv")
        subprocess.run([ebs_flow, "model", "synthetic", "--out", path, "--feature-set", "lightcurve/30",
                        "--objects", "800", "--alerts-per-object", "2", "--seed", "3"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(path) as f:
            rows = list(csv.reader(f))[1:]
    values = np.array([[float(v) for v in r[3:]] for r in rows], dtype=np.float32)
    x = torch.from_numpy(values[:, :30 * 6].reshape(-1, 30, 6).copy())
    mask = torch.from_numpy(values[:, 30 * 6:].copy())
    y = torch.tensor([float(r[2]) for r in rows])
    model = LightCurveGru()
    accuracy = fit(model, [x, mask], y, epochs=20, lr=3e-3)
    return model, {"sequences": len(rows), "training_accuracy": accuracy}


def main():
    # TorchScript writes a module's constants in set order: string hashing must not be randomised
    # for the archives to come out byte for byte the same.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, PYTHONHASHSEED="0"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    parser.add_argument("--ebs-flow", default="build/ebs-flow")
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cnn, cnn_info = train_cnn(args.data)
    torch.jit.save(torch.jit.script(cnn), os.path.join(args.out, "stamp-cnn-cutouts-63.pt"))
    print("stamp-cnn-cutouts-63.pt", cnn_info)
    torch.manual_seed(0)
    gru, gru_info = train_gru(args.ebs_flow)
    torch.jit.save(torch.jit.script(gru), os.path.join(args.out, "lc-gru-lightcurve-30.pt"))
    print("lc-gru-lightcurve-30.pt", gru_info)


if __name__ == "__main__":
    main()
