"""Pretrained weights without network: one line in seconds naming the weights and the cache to
fill; cached weights load without a request; with network the library's own download runs.

No test touches the network: the socket connect of the reachability check is patched.
"""

from __future__ import annotations

import time

import pytest

from reassess.models import create_model, hub
from reassess.models.hub import WeightsUnavailable


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty Hugging Face hub cache, and no offline variables from the caller's shell."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    hub._reachable.cache_clear()
    yield cache
    hub._reachable.cache_clear()


@pytest.fixture
def unreachable(monkeypatch):
    """Every connect fails at once (DNS or a refused port), and nothing may download."""
    attempts = []

    def refuse(host, port, timeout):
        attempts.append((host, port))
        raise OSError(-2, "Name or service not known")

    monkeypatch.setattr(hub, "_connect", refuse)
    return attempts


def _no_download(*args, **kwargs):
    raise AssertionError("the library's download was called although the hub is unreachable")


def test_missing_timm_weights_offline_fail_in_seconds_with_one_line(
    hf_cache, unreachable, monkeypatch
):
    import timm

    monkeypatch.setattr(timm, "create_model", _no_download)
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable) as failed:
        create_model("timm:resnet18")
    seconds = time.perf_counter() - start
    message = str(failed.value)
    assert seconds < 10
    assert "\n" not in message
    assert "timm/resnet18.a1_in1k" in message  # the weights that are missing
    assert str(hf_cache) in message  # the cache folder to fill
    assert "HF_HOME" in message and "HF_ENDPOINT" in message
    assert "huggingface.co:443 cannot be reached" in message
    assert "timm:resnet18@/path/to/checkpoint.pth" in message
    assert unreachable == [("huggingface.co", 443)]


def test_a_hanging_connect_is_cut_at_the_timeout(hf_cache, monkeypatch):
    monkeypatch.setattr(hub, "_connect", lambda host, port, timeout: time.sleep(30))
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match="cannot be reached"):
        create_model("timm:resnet18")
    assert time.perf_counter() - start < 10


def test_hf_hub_offline_fails_without_trying_the_network(hf_cache, unreachable, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailable, match="HF_HUB_OFFLINE is set"):
        create_model("timm:resnet18.tv_in1k")
    assert unreachable == []


def test_hf_endpoint_and_proxies_are_where_the_check_connects(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example:8080/")
    assert hub.hub_endpoint() == "http://mirror.example:8080"
    assert hub._connect_target(hub.hub_endpoint()) == ("mirror.example", 8080)
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "")
    assert hub._connect_target("https://huggingface.co") == ("proxy.example", 3128)
    monkeypatch.setenv("no_proxy", "huggingface.co")
    assert hub._connect_target("https://huggingface.co") == ("huggingface.co", 443)


def _cache_timm_weights(cache, repo: str, state_dict) -> None:
    """Lay ``state_dict`` out as huggingface_hub caches ``repo``'s model.safetensors."""
    from safetensors.torch import save_file

    folder = cache / f"models--{repo.replace('/', '--')}"
    snapshot = folder / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("0" * 40)
    save_file({k: v.contiguous() for k, v in state_dict.items()}, snapshot / "model.safetensors")


def test_cached_weights_load_offline_without_a_request(hf_cache, unreachable):
    import timm
    import torch

    source = timm.create_model("test_resnet", pretrained=False)
    with torch.no_grad():
        for parameter in source.parameters():
            parameter.normal_()
    _cache_timm_weights(hf_cache, "timm/test_resnet.r160_in1k", source.state_dict())
    start = time.perf_counter()
    loaded = create_model("timm:test_resnet.r160_in1k")
    assert time.perf_counter() - start < 10
    assert torch.equal(loaded.module.fc.weight, source.fc.weight)
    from huggingface_hub import constants

    assert constants.HF_HUB_OFFLINE is False  # offline mode only while loading


def test_with_network_the_library_downloads(hf_cache, monkeypatch):
    import timm

    monkeypatch.setattr(hub, "_connect", lambda host, port, timeout: None)
    calls = []

    def download(name, pretrained, **kwargs):
        calls.append((name, pretrained))
        raise RuntimeError("stop here: the download path was reached")

    monkeypatch.setattr(timm, "create_model", download)
    with pytest.raises(RuntimeError, match="download path was reached"):
        create_model("timm:resnet18")
    assert calls == [("resnet18", True)]


@pytest.mark.parametrize(
    "spec,repo",
    [
        ("open_clip:ViT-B-32@openai", "timm/vit_base_patch32_clip_224.openai"),
        ("hf-clip:openai/clip-vit-base-patch32", "openai/clip-vit-base-patch32"),
    ],
)
def test_clip_weights_offline_fail_in_seconds(spec, repo, hf_cache, unreachable):
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable) as failed:
        create_model(spec)
    assert time.perf_counter() - start < 10
    message = str(failed.value)
    assert "\n" not in message and repo in message and str(hf_cache) in message
    assert message.startswith(f"{spec}: weights {repo} ")


def _handlers_reached(logger) -> list:
    """The handlers a record logged on ``logger`` is written by (logging's own walk), less the
    capture handlers pytest attaches (to loggers that do not propagate too)."""
    from _pytest.logging import LogCaptureHandler

    found = []
    while logger is not None:
        found += [h for h in logger.handlers if not isinstance(h, LogCaptureHandler)]
        if not logger.propagate:
            break
        logger = logger.parent
    return found


def test_hub_warnings_are_printed_once(monkeypatch):
    """A library's ``logging.info`` must not add a second handler that repeats hub warnings."""
    import logging

    import huggingface_hub.utils.logging as hf_logging

    from reassess.cli import main

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(logging.getLogger("huggingface_hub"), "propagate", True)
    http = hf_logging.get_logger("huggingface_hub.utils._http")  # adds hf's own handler
    assert len(_handlers_reached(http)) == 1
    main._log_warnings_once()
    logging.info("a library's info line")  # on a bare root this would call basicConfig
    assert len(root.handlers) == 1  # ours: library warnings as "warning: ..." lines
    assert len(_handlers_reached(http)) == 1  # the hub's warning: printed once
