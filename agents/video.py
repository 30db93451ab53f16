"""Write rendered frames as a video: an animated GIF (Pillow) or an MP4 (imageio)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np


def save_video(frames: list[np.ndarray], path: str | Path, fps: int = 24) -> Path:
    """Write frames as an animated GIF (Pillow) or MP4 (needs ``pip install domrand[video]``)."""
    path = Path(path)
    if not frames:
        raise ValueError("no frames to write; record at least one episode (video_episodes >= 1)")
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        images[0].save(
            path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0
        )
    elif suffix == ".mp4":
        try:
            import imageio.v2 as imageio
        except ImportError:
            raise ImportError(
                "writing .mp4 needs imageio and imageio-ffmpeg: pip install 'domrand[video]' "
                "(or write a .gif, which needs nothing extra)"
            ) from None
        imageio.mimwrite(path, cast(Any, frames), fps=fps, macro_block_size=1)
    else:
        raise ValueError(f"unsupported video format {suffix!r} for {path}; use .gif or .mp4")
    return path
