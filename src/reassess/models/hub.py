"""Pretrained weights from the Hugging Face hub or a URL: found in the local cache, or fetched.

timm, open_clip and transformers retry an unreachable hub for about a minute before they fail.
:func:`hub_weights` asks the cache first; weights that are missing there are fetched only when a
socket connect to the hub (or its proxy) succeeds within :data:`CONNECT_TIMEOUT_S`, otherwise the
error names the missing weights, the cache folder to fill and the variables that move it. Cached
weights on a machine without network load with the hub's offline mode on, so nobody retries.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from reassess.models.registry import ModelSpecError

CONNECT_TIMEOUT_S = 3.0
DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "on", "yes", "true"}


class WeightsUnavailable(ModelSpecError):
    """Pretrained weights that are not in the local cache while their source is unreachable."""


@dataclass(frozen=True)
class Weights:
    """Where one model's weights come from: a hub repo (any one of ``filenames`` will do; all of
    ``required`` are needed too) or a plain URL that downloads into ``url_cache``."""

    spec: str
    repo_id: str | None = None
    filenames: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    url: str | None = None
    url_cache: Path | None = None
    hint: str = ""  # the family's own way round, e.g. "or pass a local checkpoint: ..."


def hub_offline() -> bool:
    """True when the user turned the hub off (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    values = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(v.strip().lower() in _TRUE for v in values)


def hub_endpoint() -> str:
    """The hub's address: ``HF_ENDPOINT`` (a mirror) or huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_cache_dir() -> Path:
    """The folder hub downloads go to (``HF_HUB_CACHE``, else ``HF_HOME``/hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _connect_target(url: str) -> tuple[str, int]:
    """(host, port) a request to ``url`` opens first: its proxy where one applies, else the host."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return proxy_parts.hostname or host, proxy_parts.port or 8080
    return host, port


def _connect(host: str, port: int, timeout: float) -> None:
    """Open and close one TCP connection (raises OSError when that fails)."""
    socket.create_connection((host, port), timeout=timeout).close()


@lru_cache(maxsize=16)
def _reachable(host: str, port: int, timeout: float) -> bool:
    # The connect runs in a thread so a hanging DNS lookup cannot outlast the timeout.
    outcome: list[bool] = []

    def attempt() -> None:
        try:
            _connect(host, port, timeout)
            outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=attempt, daemon=True, name=f"reach {host}:{port}")
    thread.start()
    thread.join(timeout)
    return bool(outcome and outcome[0])


def reachable(url: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url``'s host (or its proxy) opens within ``timeout`` seconds.

    Answered once per process and host.
    """
    host, port = _connect_target(url)
    return bool(host) and _reachable(host, port, timeout)


def cached_hub_file(repo_id: str, filename: str) -> str | None:
    """The local path of ``repo_id``/``filename`` in the hub cache, None if it is not there."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=hub_cache_dir())
    return found if isinstance(found, str) else None


def is_cached(weights: Weights) -> bool:
    """Whether the local cache already holds everything ``weights`` needs."""
    if weights.repo_id is not None:
        files = all(cached_hub_file(weights.repo_id, f) for f in weights.required)
        return files and any(cached_hub_file(weights.repo_id, f) for f in weights.filenames)
    return weights.url_cache is not None and weights.url_cache.is_file()


def missing_weights_message(weights: Weights, why: str) -> str:
    """One line: which weights are missing, why they cannot be fetched, which folder to fill."""
    hint = f", {weights.hint}" if weights.hint else ""
    if weights.repo_id is not None:
        files = " + ".join([*weights.required, " or ".join(weights.filenames[:2])])
        return (
            f"{weights.spec}: weights {weights.repo_id} ({files}) are not in the cache "
            f"{hub_cache_dir()} and {why}; fill that cache where there is network "
            f"(`hf download {weights.repo_id}`, then copy it here or point HF_HOME at it), "
            f"set HF_ENDPOINT to a reachable mirror{hint}"
        )
    target = weights.url_cache or Path("?")
    return (
        f"{weights.spec}: weights {weights.url} are not in the cache ({target}) and {why}; "
        f"download that file where there is network into {target.parent} "
        f"(TORCH_HOME moves torch's cache){hint}"
    )


@contextmanager
def hub_offline_mode() -> Iterator[None]:
    """Turn huggingface_hub's offline mode on inside the block (cached files load, no request)."""
    from huggingface_hub import constants

    before_env, before = os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before
        if before_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = before_env


@contextmanager
def hub_weights(weights: Weights | None) -> Iterator[None]:
    """Around a library's own download: fail in seconds when the weights cannot be fetched.

    Missing weights with the hub offline or unreachable raise :class:`WeightsUnavailable` (one
    line); cached weights without network load in offline mode; otherwise the library downloads.
    """
    if weights is None:
        yield
        return
    url = hub_endpoint() if weights.repo_id is not None else weights.url or ""
    if is_cached(weights):
        if weights.repo_id is not None and (hub_offline() or not reachable(url)):
            with hub_offline_mode():
                yield
        else:
            yield
        return
    if weights.repo_id is not None and hub_offline():
        raise WeightsUnavailable(missing_weights_message(weights, "HF_HUB_OFFLINE is set"))
    if not reachable(url):
        where = "{}:{}".format(*_connect_target(url))
        why = f"{where} cannot be reached ({CONNECT_TIMEOUT_S:.0f} s connect timeout)"
        raise WeightsUnavailable(missing_weights_message(weights, why))
    yield
