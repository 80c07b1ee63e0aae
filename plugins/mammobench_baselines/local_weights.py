"""Find pretrained weights that are already on this machine, without any download.

Two caches are searched, both read-only and offline:

- the Hugging Face hub cache (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else huggingface_hub's
  default, ``~/.cache/huggingface/hub``), where ``hf download timm/<model>.<tag>`` puts timm
  weights;
- torch hub's checkpoint folder (``torch.hub.get_dir()/checkpoints``), where older timm
  versions saved weights downloaded from a release URL.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

# File names timm publishes on the Hugging Face hub, preferred first.
HUB_FILENAMES = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")


def hf_cache_dir() -> Path:
    """Return the Hugging Face hub cache folder that huggingface_hub would use."""
    configured = os.environ.get("HF_HUB_CACHE")
    if configured:
        return Path(configured).expanduser()
    hf_home = os.environ.get("HF_HOME")
    if hf_home:
        return Path(hf_home).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def find_in_hf_cache(repo_id: str, filenames: tuple[str, ...] = HUB_FILENAMES) -> Path | None:
    """Return the first of ``filenames`` cached for ``repo_id`` at its ``main`` revision, or None."""
    from huggingface_hub import try_to_load_from_cache

    cache_dir = hf_cache_dir()
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
        if isinstance(found, str) and Path(found).is_file():
            logger.debug(
                "found '%s' of '%s' in the Hugging Face cache: %s", filename, repo_id, found
            )
            return Path(found)
    return None


def find_in_torch_hub(url: str | None) -> Path | None:
    """Return the file torch hub would have saved for ``url``, or None when it is absent."""
    if not url:
        return None
    import torch

    candidate = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    return candidate if candidate.is_file() else None


def hub_download_hint(repo_id: str) -> str:
    """Return the instructions printed when the weights of ``repo_id`` are not on this machine."""
    return (
        f"Nothing is downloaded at run time. On a machine with network access run "
        f"'hf download {repo_id}' and copy the Hugging Face cache to {hf_cache_dir()} (or set "
        f"HF_HUB_CACHE), or download model.safetensors from https://huggingface.co/{repo_id} "
        "and pass it with --weights PATH"
    )
