"""Neural suite: steps per second of the torch path's per-step direction programs.

One MLP (100 inputs, two hidden layers of 256, one shared head: 92k parameters, the size
MEASURED.md uses), a group-stratified batch of 1,024 rows, 10 and 100 groups. Each method
is timed over the same number of steps after a warm-up; every ratio is against the plain
average-loss step measured in the same run. Methods:

- a plain torch average-loss step (forward, mean loss, backward, Adam) — the baseline;
- a plain torch Group DRO loop (Sagawa et al. 2020): group losses, ``q <- q exp(eta L)``,
  backward of ``q @ L``, Adam;
- fairmtl's steps: ``minimax`` with Group DRO weights, ``pareto`` (MGDA min-norm by NNLS),
  ``minimax`` with the cvxpy proximal-linear direction, ``chebyshev`` (cvxpy preference
  program with common-descent constraints), each with per-group gradients from one
  ``torch.func.vmap`` pass; and ``pareto`` with the reference k backward passes and with
  MGDA-UB's representation gradients.

For the gradient programs the share of step time spent in the direction program (the
NNLS or cvxpy solve) and in forming the Gram matrix are reported. Timings use
``torch.set_num_threads(threads)`` (1 by default: on a machine with 2 cores shared with other work, a
second thread mostly waits).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fairmtl._optional import import_optional

BATCH = 1024
N_FEATURES, HIDDEN = 100, (256, 256)


def _data(torch, n_groups: int, n_rows: int, rng: np.random.Generator) -> dict[str, Any]:
    X = rng.normal(size=(n_rows, N_FEATURES))
    tasks = np.arange(n_rows) % n_groups
    score = X[:, :5].sum(axis=1) + 0.5 * tasks / n_groups
    y = np.where(rng.random(n_rows) < 1 / (1 + np.exp(-score)), 1.0, -1.0)
    return {
        "x": torch.as_tensor(X, dtype=torch.float32),
        "codes": torch.zeros((n_rows, 0), dtype=torch.long),
        "y": torch.as_tensor(y, dtype=torch.float32),
        "w": torch.ones(n_rows),
        "t": torch.as_tensor(tasks),
        "loss": "logistic",
    }


def _time_steps(step, n_steps: int, warmup: int) -> tuple[float, float]:
    """Median wall and CPU seconds per step."""
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(n_steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


def _plain_steps(torch, net, data, sampler, n_groups):
    """The two plain torch loops: average loss and Group DRO (eta_q = 0.01)."""
    F = torch.nn.functional
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    q = torch.full((n_groups,), 1.0 / n_groups)

    def outputs():
        idx, _ = sampler.draw()
        flat = torch.as_tensor(idx.reshape(-1))
        z = net(data["x"][flat], data["codes"][flat], data["t"][flat])[:, 0]
        return F.softplus(-data["y"][flat] * z), data["t"][flat]

    def average():
        losses, _ = outputs()
        optimizer.zero_grad()
        losses.mean().backward()
        optimizer.step()

    def group_dro():
        nonlocal q
        losses, t = outputs()
        group = torch.zeros(n_groups).scatter_add(0, t, losses) / torch.bincount(
            t, minlength=n_groups
        ).clamp_min(1)
        q = q * torch.exp(0.01 * group.detach())
        q = q / q.sum()
        optimizer.zero_grad()
        (q @ group).backward()
        optimizer.step()

    return average, group_dro


def _fairmtl_step(torch, net, data, sampler, n_groups, objective, direction, gradients):
    from fairmtl.neural import make_direction
    from fairmtl.neural._config import TrainConfig
    from fairmtl.neural._step import Stepper

    config = TrainConfig(objective=objective, direction=direction, group_gradients=gradients)
    shares = np.full(n_groups, 1.0 / n_groups)
    chosen = make_direction(objective, n_groups, shares, direction=direction)
    stepper = Stepper(net, data, chosen, config, torch.as_tensor(shares, dtype=torch.float32))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        idx, mask = sampler.draw()
        stepper.step(idx, mask, 1e-3)
        optimizer.step()

    return step, stepper, chosen


METHODS = [
    # label, objective, direction, group gradients
    ("fairmtl minimax (Group DRO weights)", "minimax", "group_dro", "vmap"),
    ("fairmtl pareto (MGDA: vmap + NNLS)", "pareto", "auto", "vmap"),
    ("fairmtl minimax (cvxpy direction, vmap)", "minimax", "cvxpy", "vmap"),
    ("fairmtl chebyshev (cvxpy preference program, vmap)", "chebyshev", "auto", "vmap"),
    ("fairmtl pareto, MGDA-UB (representation gradients)", "pareto", "auto", "representation"),
    ("fairmtl pareto, k backward passes (loop)", "pareto", "auto", "loop"),
]


def run(quick: bool = False, threads: int = 1) -> list[dict[str, Any]]:
    """Time each step for 10 and 100 groups; ratios are against the average-loss step.

    Parameters
    ----------
    quick : bool, default=False
        Fewer timed steps (5 instead of 20) and no k-backward-pass loop for 100 groups.
    threads : int, default=1
        torch's intra-op threads during the run (restored afterwards).

    Returns
    -------
    rows : list of dict
        ``dataset``, ``method``, ``seconds`` (median per step), ``cpu_seconds``,
        ``steps_per_second``, ``ratio`` (step time / average-loss step time),
        ``direction_share`` and ``gram_share`` (of the step time, gradient programs only),
        ``status``, ``groups``, ``batch_size``, ``parameters``, ``threads``.
    """
    torch = import_optional("torch", "The neural benchmark")
    from fairmtl.neural import GroupNetwork
    from fairmtl.neural._batches import Sampler

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    n_steps, warmup = (5, 2) if quick else (20, 3)
    rows: list[dict[str, Any]] = []
    try:
        for n_groups in (10, 100):
            rng = np.random.default_rng(0)
            data = _data(torch, n_groups, 20 * BATCH, rng)
            torch.manual_seed(0)
            net = GroupNetwork(N_FEATURES, n_groups, 1, hidden_layer_sizes=HIDDEN, heads="shared")
            n_params = sum(p.numel() for p in net.parameters())
            sampler = Sampler(data["t"].numpy(), n_groups, BATCH, rng)
            label = (
                f"MLP {N_FEATURES}-{HIDDEN[0]}-{HIDDEN[1]}-1 ({n_params:,} parameters), "
                f"batch {BATCH}, {n_groups} groups"
            )
            average, group_dro = _plain_steps(torch, net, data, sampler, n_groups)
            base, base_cpu = _time_steps(average, n_steps, warmup)
            common = {
                "dataset": label,
                "groups": n_groups,
                "batch_size": BATCH,
                "parameters": n_params,
                "threads": threads,
            }

            def row(method, seconds, cpu, common=common, base=base, **extra):
                return {
                    **common,
                    "method": method,
                    "seconds": seconds,
                    "cpu_seconds": cpu,
                    "steps_per_second": 1.0 / seconds,
                    "ratio": seconds / base,
                    "status": "-",
                    "direction_share": None,
                    "gram_share": None,
                    **extra,
                }

            rows.append(row("plain torch average loss (baseline)", base, base_cpu))
            seconds, cpu = _time_steps(group_dro, n_steps, warmup)
            rows.append(row("plain torch Group DRO (Sagawa et al. 2020)", seconds, cpu))
            for method, objective, direction, gradients in METHODS:
                if gradients == "loop" and quick and n_groups > 10:
                    continue
                step, stepper, chosen = _fairmtl_step(
                    torch, net, data, sampler, n_groups, objective, direction, gradients
                )
                reps = 3 if gradients == "loop" and n_groups > 10 else n_steps
                seconds, cpu = _time_steps(step, reps, 1 if gradients == "loop" else warmup)
                total = max(stepper.seconds, 1e-12)
                extra = {}
                if chosen.needs_gradients:
                    extra = {
                        "direction_share": chosen.seconds / total,
                        "gram_share": stepper.gram_seconds / total,
                        "status": f"{chosen.failures} failed solves",
                    }
                rows.append(row(method, seconds, cpu, **extra))
    finally:
        torch.set_num_threads(before)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of :func:`run`'s rows."""
    lines = [
        "| setting | method | ms / step | steps / s | x average step | direction program "
        "| Gram matrix |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]

    def share(v):
        return "-" if v is None else f"{100 * v:.1f}%"

    for r in rows:
        lines.append(
            f"| {r['groups']} groups | {r['method']} | {1e3 * r['seconds']:.1f} "
            f"| {r['steps_per_second']:.1f} | {r['ratio']:.2f}x | {share(r['direction_share'])} "
            f"| {share(r['gram_share'])} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - a manual entry point
    import sys

    print(table(run(quick="--quick" in sys.argv)))
