"""Which Ray a study runs on, and whether that Ray can ever run one of its trials.

Without `--address` a study starts a Ray of its own (`address="local"`): it never attaches to a
cluster that Ray remembers in its temp folder (a stale address there, left by a `ray start` that
was killed, would otherwise make a plain study fail to connect). Inside a Ray job, where Ray sets
`RAY_ADDRESS`, it attaches to the job's cluster, as it must.

Before any trial starts, `infeasible` compares a trial's resources with every live node and, on
a cluster the study attached to, with every node type its autoscaler may add; a request nothing
can satisfy (a GPU on a CPU-only machine) would otherwise leave the trials PENDING forever. A Ray
the study started itself is this machine alone: no node will ever join it, whatever Ray's own
autoscaler reports, so there only the live node counts.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)


def attaching(address: str | None) -> bool:
    """Whether the study joins an existing cluster (which may span several nodes)."""
    return address is not None or bool(os.environ.get("RAY_ADDRESS"))


class ClusterError(ValueError):
    """No Ray cluster where the study was told to run; the message says what to do."""


def _unreachable(address: str) -> str | None:
    """Why nothing answers at a HOST:PORT address (Ray would retry it for minutes), or None."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return None  # `auto`, a ray:// client address, ...: Ray resolves those itself
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as err:
        return f"nothing answers at {address} ({err.strerror or err})"
    return None


def connect(address: str | None) -> None:
    """Starts a local Ray, or attaches to `address` (or to RAY_ADDRESS inside a Ray job);
    raises ClusterError when there is no cluster to attach to."""
    import ray

    common = {"log_to_driver": True, "configure_logging": False}
    target = address or os.environ.get("RAY_ADDRESS")
    if target is None:
        ray.init(address="local", include_dashboard=False, **common)
        return
    problem = _unreachable(target)
    if problem is None:
        if address is None:
            log.info("attaching to the Ray cluster at %s (RAY_ADDRESS)", target)
        try:
            ray.init(address=address, **common)
            return
        except ConnectionError as err:
            problem = str(err).splitlines()[0].rstrip(".")
    raise ClusterError(
        f"--address {target}: {problem}. Start the cluster first (`ray start --head`, or `ray up "
        "cluster/gpu.yaml`) and pass its address (`auto` on its head node), or leave out "
        "--address to run on a Ray of the study's own"
    )


def _fits(offer: dict[str, float], need: dict[str, float]) -> bool:
    return all(offer.get(k, 0) >= v for k, v in need.items())


def _config_node_types(config: dict[str, Any]) -> list[dict[str, float] | None]:
    """Each node type's resources; None for a type that leaves them to the cloud provider
    (an empty `resources` on AWS/GCP: filled in from the instance type at launch)."""
    types = config.get("available_node_types") or {}
    head = config.get("head_node_type")
    return [
        dict(t["resources"]) if t.get("resources") else None
        for name, t in types.items()
        if isinstance(t, dict) and (name == head or t.get("max_workers", 1) != 0)
    ]


def _v1_config_path(status: dict[str, Any]) -> Path | None:
    """Where the running v1 autoscaler read its config: from its command line when it runs on
    this machine (the usual case: the driver runs on the head), else the path `ray up` uses."""
    pid = status.get("monitor_pid")
    try:
        args = Path(f"/proc/{int(pid)}/cmdline").read_bytes().split(b"\0")
    except (OSError, TypeError, ValueError):
        args = []
    for arg in args:
        text = arg.decode(errors="replace")
        if text.startswith("--autoscaling-config="):
            return Path(text.partition("=")[2]).expanduser()
    bootstrap = Path("~/ray_bootstrap_config.yaml").expanduser()
    return bootstrap if bootstrap.exists() else None


def autoscaler_node_types(wait_s: float = 15.0) -> list[dict[str, float] | None] | None:
    """Resources of the node types the autoscaler can add (None for a type whose resources the
    provider fills in): [] without an autoscaler, None when its config cannot be read."""
    import ray._private.state
    from ray._private import ray_constants
    from ray.experimental.internal_kv import _internal_kv_get

    v2 = ray._private.state.state.get_cluster_config()
    if v2 is not None and v2.node_group_configs:
        return [
            {k: float(v) for k, v in group.resources.items()}
            for group in v2.node_group_configs
            if group.max_count != 0
        ]
    deadline = time.monotonic() + wait_s
    while True:
        raw = _internal_kv_get(ray_constants.DEBUG_AUTOSCALING_STATUS)
        if raw or _internal_kv_get(b"AutoscalerMetricsAddress") is None:
            break  # a status to read, or no autoscaler at all
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)  # the monitor runs but has not reported yet
    if not raw:
        return []
    path = _v1_config_path(json.loads(raw))
    if path is None:
        return None
    try:
        return _config_node_types(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError, AttributeError) as err:
        log.debug("cannot read the autoscaler config %s: %s", path, err)
        return None


def infeasible(resources: dict[str, float], *, attached: bool) -> str | None:
    """Why no node can ever run a trial that needs `resources` ({"cpu": .., "gpu": ..}), or
    None. `attached`: the study joined a cluster (whose autoscaler may add nodes) rather than
    starting a Ray of its own. Unknown autoscaler node types count as feasible (with a
    warning)."""
    import ray

    need = {k.upper(): v for k, v in resources.items() if v > 0}
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if any(_fits(n, need) for n in nodes):
        return None
    types = autoscaler_node_types() if attached else []
    if types is not None and any(t is not None and _fits(t, need) for t in types):
        return None
    if types is None or None in types:
        log.warning(
            "no node offers %s yet and the autoscaler's node types do not say whether they "
            "can; trials wait until a node that can run them joins",
            need,
        )
        return None
    have = sorted({json.dumps({k: v for k, v in n.items() if k in ("CPU", "GPU")}) for n in nodes})
    if not attached:
        extra = (
            " (the Ray this study started on this machine, which no other node joins; "
            "attach to a cluster that has such nodes with --address)"
        )
    elif types:
        extra = f"; the autoscaler can add {types}"
    else:
        extra = " and no autoscaler can add nodes"
    gpu_fix = (
        " Set resources.gpu: 0 to train on CPU, or run on a GPU cluster (cluster/gpu.yaml)."
        if need.get("GPU")
        else " Lower resources.cpu."
    )
    return (
        f"each trial needs {need} (the study's `resources`), but no node of this Ray can offer "
        f"it: its nodes have {', '.join(have) or 'nothing'}{extra}.{gpu_fix}"
    )
