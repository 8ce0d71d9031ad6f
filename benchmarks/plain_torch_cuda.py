"""The peer (../shared/peers/plain_torch_cnn.py) on a GPU: the conventional PyTorch loop, moved
to CUDA the way a PyTorch user would (model and each batch `.to("cuda")`, pinned host memory).

Its data set class is the peer's own, imported from the peer file; the network, optimiser, batch
size and printed lines are the peer's. Usage, as the peer's (gpu.py runs it):
FMNIST_PEER=path/to/plain_torch_cnn.py plain_torch_cuda.py EPOCHS SEED
"""

import time

T0 = time.time()  # wall time from process start, as the peer measures it

import importlib.util  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

PEER = Path(os.environ["FMNIST_PEER"])  # set by gpu.py: the path of plain_torch_cnn.py


def peer_module():
    spec = importlib.util.spec_from_file_location("plain_torch_cnn", PEER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(epochs: int, seed: int, device: str = "cuda") -> None:
    torch.manual_seed(seed)
    dataset = peer_module().FashionMNIST
    pin = device == "cuda"  # page-locked host memory: faster copies to the GPU
    train = DataLoader(dataset("train"), batch_size=64, shuffle=True, pin_memory=pin)
    test = DataLoader(dataset("t10k"), batch_size=1000, pin_memory=pin)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Dropout(0.4), nn.Linear(1024, 10),
    ).to(device)  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, epochs + 1):
        model.train()
        for x, y in train:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in test:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                correct += (model(x).argmax(1) == y).sum().item()
        print(
            f"epoch {epoch} elapsed {time.time() - T0:.1f} test_accuracy {correct / 10000:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    device = os.environ.get("FMNIST_PEER_DEVICE", "cuda")  # cpu: a check of this script only
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    main(epochs, seed, device)
