"""The reference MLP of `npm run bench:train` in PyTorch, on one thread, for a side-by-side figure.

The same shapes (32 -> 64 -> 64 -> 3, ReLU, softmax cross-entropy), optimizer (Adam, 0.001), batch
and a fresh shuffle per epoch, on synthetic rows like the benchmark's own. Run by bench/train.ts
with Debian's python3-torch:

    /usr/bin/python3 bench/train-reference.py ROWS EPOCHS BATCH

It prints one line of JSON: samples per second of wall time and of CPU time, and the process's
peak RSS in bytes.
"""
import json
import resource
import sys
import time

import torch


def main(rows, epochs, batch):
    torch.set_num_threads(1)
    torch.manual_seed(7)
    x = torch.rand(rows, 32) * 2 - 1
    y = (x[:, :3] + 0.5 * x[:, 3:6]).argmax(1)
    net = torch.nn.Sequential(
        torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 3)
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=0.001)
    loss = torch.nn.CrossEntropyLoss()
    began, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        order = torch.randperm(rows)
        for start in range(0, rows, batch):
            picked = order[start : start + batch]
            optimizer.zero_grad()
            loss(net(x[picked]), y[picked]).backward()
            optimizer.step()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    samples = rows * epochs
    print(json.dumps({"samplesPerSecond": samples / seconds, "samplesPerCpuSecond": samples / cpu, "rss": rss, "torch": torch.__version__}))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
