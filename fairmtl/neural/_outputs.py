"""Outputs of a trained network, rebuilt from its plain-data form (:class:`NeuralFit`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fairmtl._optional import import_optional
from fairmtl.neural._batches import encode_categories
from fairmtl.neural._config import FEATURE, resolve_device

torch = import_optional("torch", FEATURE)

from fairmtl.neural._network import GroupNetwork  # noqa: E402

__all__ = ["network_outputs"]


def network_outputs(spec: dict[str, Any], state: dict[str, np.ndarray], X, tasks, device="cpu"):
    """Outputs (n, n_outputs) of a trained network for rows ``X`` of groups ``tasks``.

    Parameters
    ----------
    spec : dict
        :attr:`NeuralFit.spec`.
    state : dict of ndarray
        :attr:`NeuralFit.state`.
    X : ndarray of shape (n_samples, n_features)
    tasks : ndarray of shape (n_samples,)
        Task ids; -1 for groups unseen in fit (the shared part predicts them).
    device : str, default="cpu"

    Returns
    -------
    outputs : ndarray of shape (n_samples, n_outputs)
    """
    import_optional("torch", FEATURE)
    device = resolve_device(device)
    keys = ("n_numeric", "n_groups", "n_outputs", "hidden_layer_sizes", "heads", "dropout")
    net = GroupNetwork(**{k: spec[k] for k in keys}, cardinalities=spec["cardinalities"])
    net.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    # predict in float64 (where the device has it): a row's output must not depend on
    # which other rows share its batch (float32 matrix products differ in the last bits)
    dtype = torch.float32 if device == "mps" else torch.float64
    net.to(device=device, dtype=dtype).eval()
    categories = [np.asarray(c) for c in spec["categories"]]
    numeric, codes, _ = encode_categories(np.asarray(X), spec["categorical_features"], categories)
    numeric = np.array(numeric, dtype=np.float64)  # writable (torch warns on read-only arrays)
    out = []
    with torch.no_grad():
        for start in range(0, numeric.shape[0], 16_384):
            part = slice(start, start + 16_384)
            z = net(
                torch.as_tensor(numeric[part], dtype=dtype, device=device),
                torch.as_tensor(codes[part], device=device),
                torch.as_tensor(np.asarray(tasks)[part], dtype=torch.long, device=device),
            )
            out.append(z.double().cpu().numpy())
    if not out:
        return np.empty((0, spec["n_outputs"]))
    return np.concatenate(out)
