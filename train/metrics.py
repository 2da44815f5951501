"""The run folder's ``metrics.csv`` and its plots."""

from __future__ import annotations

import csv
from pathlib import Path

from train.losses import LOSS_KEYS

COLUMNS = ["epoch", "iteration", "lr", *LOSS_KEYS, "loss", "seconds", "pq", "sq", "rq", "pq_things", "pq_stuff", "miou"]


def append_metrics(path: Path, row: dict) -> None:
    """Append one row (missing columns stay empty); writes the header for a new file."""
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in COLUMNS})


def read_metrics(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def plot_metrics(csv_path: Path, png_path: Path) -> None:
    """Loss terms, the learning rate (of each epoch's last step) and PQ/SQ/RQ per epoch, side by side, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(csv_path)
    if not rows:
        return
    fig, (ax_loss, ax_lr, ax_pq) = plt.subplots(1, 3, figsize=(16, 4.5))
    epochs = [int(r["epoch"]) for r in rows]
    for key in [*LOSS_KEYS, "loss"]:
        values = [float(r[key]) for r in rows]
        if max(values) > 0:  # a term that is 0 throughout has no place on a log scale
            ax_loss.plot(epochs, values, label=key.removeprefix("loss_") or "total", linewidth=2.5 if key == "loss" else 1.2)
    ax_loss.set(xlabel="epoch", ylabel="mean loss", yscale="log", title="training losses")
    ax_loss.legend(fontsize=8)
    lrs = [float(r["lr"]) for r in rows]  # each epoch's last step, drawn over the epoch: (e - 1, e]
    ax_lr.plot([e - 1 for e in epochs] + [epochs[-1]], lrs + lrs[-1:], drawstyle="steps-post")
    ax_lr.set(xlabel="epoch", ylabel="lr (of each epoch's last step)", yscale="log", title="learning rate")
    evals = [r for r in rows if r["pq"]]
    for key in ("pq", "sq", "rq", "pq_things", "pq_stuff"):
        ax_pq.plot([int(r["epoch"]) for r in evals], [100 * float(r[key]) for r in evals], marker="o", label=key)
    ax_pq.set(xlabel="epoch", ylabel="%", title="validation", ylim=(0, 100), xlim=(0, max(epochs) + 0.5))
    ax_pq.legend(fontsize=8)
    fig.tight_layout()
    tmp = png_path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(png_path)
