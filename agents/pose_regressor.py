"""Vision pose regressor (Tobin et al. 2017): a CNN from one RGB image to the target
object's 3D position in the robot's base frame, trained from scratch on an exported dataset.

Checkpoints are plain tensors and numbers (``torch.load(..., weights_only=True)``) and
record what the model was trained on (env id, preset, image size, object).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from agents.checkpoints import read_checkpoint, save_checkpoint

CHECKPOINT_FORMAT = "domrand-pose-regressor"
CHECKPOINT_VERSION = 1


# --------------------------------------------------------------------------- data


def object_position_in_robot_frame(record: dict[str, Any], object_name: str) -> np.ndarray:
    """The named object's position (metres) in the robot base frame of one sample record."""
    objects = {o["name"]: o for o in record["objects"]}
    if object_name not in objects:
        raise KeyError(
            f"sample {record.get('index')} has no object named {object_name!r}; "
            f"objects: {sorted(objects)}"
        )
    robot = objects.get("robot")
    p = np.asarray(objects[object_name]["world_pose"]["position"], dtype=np.float64)
    if robot is None:
        return p
    t = np.asarray(robot["world_pose"]["position"], dtype=np.float64)
    x, y, z, w = robot["world_pose"]["quaternion"]
    # rotation matrix of the base quaternion; the position goes through its transpose
    r = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    return r.T @ (p - t)


def projected_centre(record: dict[str, Any], object_name: str) -> np.ndarray:
    """Where the object's origin projects in the image, as (u, v) scaled to [-1, 1]."""
    obj = next(o for o in record["objects"] if o["name"] == object_name)
    cam = record["camera"]
    p = np.asarray(obj["camera_pose"]["position"], dtype=np.float64)
    uv = (np.asarray(cam["K"], dtype=np.float64) @ p)[:2] / max(p[2], 1e-6)
    size = np.array([cam["width"], cam["height"]], dtype=np.float64)
    return uv / size * 2.0 - 1.0


@dataclass
class PoseData:
    """A whole exported dataset in memory: uint8 images (N, 3, H, W), targets (N, 3) in
    metres, and each sample's target visible fraction."""

    images: torch.Tensor
    targets: torch.Tensor
    visible_fraction: np.ndarray
    root: str
    manifest: dict[str, Any]
    pixels: torch.Tensor | None = None  # (N, 2) projected object centre in [-1, 1]
    index: np.ndarray | None = None  # positions in samples.jsonl after subset(); None: all

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, keep: np.ndarray) -> PoseData:
        """The samples where ``keep`` (bool mask or indices) holds."""
        idx = torch.as_tensor(np.flatnonzero(keep) if keep.dtype == bool else keep)
        pixels = None if self.pixels is None else self.pixels[idx]
        index = (np.arange(len(self)) if self.index is None else self.index)[idx.numpy()]
        return PoseData(self.images[idx], self.targets[idx], self.visible_fraction[idx.numpy()],
                        self.root, self.manifest, pixels, index)  # fmt: skip


def load_pose_data(root: str | Path, object_name: str = "cube") -> PoseData:
    """Read an exported dataset (native format) into memory for regression.

    A damaged ``samples.jsonl`` line, a record without the fields a sample needs, or an
    image that is missing or does not decode is a ``ValueError`` naming the file (and the
    line) and how to repair the export."""
    root = Path(root)
    index = root / "samples.jsonl"
    if not index.exists():
        raise FileNotFoundError(
            f"{str(index)!r} not found: export a dataset first "
            "(python scripts/export_dataset.py --env domrand/Lift-v0 --out DIR ...)"
        )
    repair = (
        f"repair the dataset: rerun the export command that made {str(root)!r} with --resume "
        "(same settings; it rewrites samples.jsonl and redoes damaged samples)"
    )
    records = _read_records(index, repair)
    if not records:
        raise ValueError(f"{str(index)!r} holds no samples; export at least one image")
    manifest_path = root / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_bytes()) if manifest_path.exists() else {}
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(
            f"{str(manifest_path)!r} is not valid JSON ({_one_line(exc)}); {repair}"
        ) from None
    images, targets, visible, pixels = [], [], [], []
    for line, r in records:
        rel = r["rgb"]
        image = root / rel
        try:
            with Image.open(image) as im:
                images.append(np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            why = "does not exist" if isinstance(exc, FileNotFoundError) else (
                f"does not decode as an image ({type(exc).__name__})"
            )  # fmt: skip
            raise ValueError(
                f"{str(image)!r} (the image of sample {r.get('index')}, {index.name} line "
                f"{line}) {why}; {repair}"
            ) from None
        try:
            targets.append(object_position_in_robot_frame(r, object_name))
            pixels.append(projected_centre(r, object_name))
            obj = next(o for o in r["objects"] if o["name"] == object_name)
            vf = obj.get("visible_fraction")
            visible.append(np.nan if vf is None else float(vf))
        except KeyError as exc:
            if " has no object named " in str(exc.args[0]):  # a wrong --object, not damage
                raise ValueError(f"{index}: {exc.args[0]}") from None
            raise ValueError(
                f"{str(index)!r} line {line}: the record of sample {r.get('index')} lacks "
                f"{exc.args[0]!r} or holds it in another shape; {repair}"
            ) from None
        except (TypeError, ValueError, IndexError, StopIteration) as exc:
            raise ValueError(
                f"{str(index)!r} line {line}: the record of sample {r.get('index')} is damaged "
                f"({type(exc).__name__}: {exc}); {repair}"
            ) from None
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ValueError(f"{root}: images of different sizes {sorted(shapes)}; export one size")
    return PoseData(
        images=torch.from_numpy(np.stack(images)),
        targets=torch.from_numpy(np.stack(targets).astype(np.float32)),
        visible_fraction=np.asarray(visible, dtype=np.float64),
        root=str(root),
        manifest=manifest,
        pixels=torch.from_numpy(np.stack(pixels).astype(np.float32)),
    )


def _read_records(index: Path, repair: str) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` of each non-empty line of ``samples.jsonl``."""
    try:
        text = index.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{str(index)!r} is not UTF-8 text (byte {exc.start}); {repair}") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:  # JSONDecodeError, or an int past str()'s digit limit
            raise ValueError(
                f"{str(index)!r} line {number} is not valid JSON ({_one_line(exc)}); {repair}"
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("rgb"), str):
            raise ValueError(
                f"{str(index)!r} line {number} is not a sample record (a JSON object with an "
                f"'rgb' image path); {repair}"
            )
        records.append((number, record))
    return records


def _one_line(exc: Exception) -> str:
    text = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
    if isinstance(exc, json.JSONDecodeError):
        text += f" at column {exc.colno}"
    return " ".join(text.split())[:200]


# -------------------------------------------------------------------------- model


class PoseNet(nn.Module):
    """A small CoordConv CNN: image plus pixel-coordinate channels, strided conv blocks, and
    an MLP head on the flattened feature map (keeps where things are, unlike pooling)."""

    coords: torch.Tensor

    def __init__(self, image_size: int = 64, width: int = 32) -> None:
        super().__init__()
        if image_size < 32 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 32, got {image_size}")
        g = torch.linspace(-1.0, 1.0, image_size)
        yy, xx = torch.meshgrid(g, g, indexing="ij")
        self.register_buffer("coords", torch.stack([xx, yy])[None], persistent=False)
        chans = [5, width, width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = []
        for i in range(len(chans) - 1):
            stride = 1 if i == 0 else 2
            layers += [
                nn.Conv2d(chans[i], chans[i + 1], 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(chans[i + 1]),
                nn.ReLU(inplace=True),
            ]
        self.features = nn.Sequential(*layers)
        side = image_size // 16
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(chans[-1] * side * side, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized position from images in [0, 1], shape (B, 3, H, W)."""
        x = torch.cat([x * 2.0 - 1.0, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1)
        return self.head(self.features(x))


class SpatialSoftmax(nn.Module):
    """Expected image coordinates of each channel's softmax (Levine et al. 2016)."""

    grid: torch.Tensor

    def __init__(self, size: int) -> None:
        super().__init__()
        g = torch.linspace(-1.0, 1.0, size)
        yy, xx = torch.meshgrid(g, g, indexing="ij")
        self.register_buffer("grid", torch.stack([xx.flatten(), yy.flatten()], 1), persistent=False)
        # a sharp start (temperature 0.1): from a flat softmax the keypoints barely move
        # and training can sit at the mean prediction for many epochs
        self.log_temperature = nn.Parameter(torch.full((), float(np.log(0.1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, 2C) keypoints."""
        b, c = x.shape[:2]
        attn = torch.softmax(x.flatten(2) / self.log_temperature.exp(), dim=-1)
        return (attn @ self.grid).reshape(b, 2 * c)


class KeypointPoseNet(nn.Module):
    """Conv trunk at half resolution, spatial soft-argmax keypoints plus max-pooled
    features, and an MLP: a localization prior that learns from fewer images (on the
    ``tobin`` domain, 9.8 vs 13.8 cm target-domain error for :class:`PoseNet` at 3-6k
    images) at the same CPU cost."""

    coords: torch.Tensor

    def __init__(self, image_size: int = 64, width: int = 32, keypoints: int = 32) -> None:
        super().__init__()
        if image_size < 32 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 32, got {image_size}")
        g = torch.linspace(-1.0, 1.0, image_size)
        yy, xx = torch.meshgrid(g, g, indexing="ij")
        self.register_buffer("coords", torch.stack([xx, yy])[None], persistent=False)

        def block(i: int, o: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False),
                    nn.BatchNorm2d(o), nn.ReLU(inplace=True)]  # fmt: skip

        self.features = nn.Sequential(
            *block(5, width, 2), *block(width, width, 1), *block(width, 2 * width, 1),
            *block(2 * width, 2 * width, 1), nn.Conv2d(2 * width, keypoints, 1),
        )  # fmt: skip
        self.softargmax = SpatialSoftmax(image_size // 2)
        self.head = nn.Sequential(
            nn.Linear(2 * keypoints + keypoints, 256), nn.ReLU(inplace=True),
            nn.Linear(256, 256), nn.ReLU(inplace=True), nn.Linear(256, 3),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized position from images in [0, 1], shape (B, 3, H, W)."""
        return self.forward_with_keypoint(x)[0]

    def forward_with_keypoint(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Position and the first keypoint (B, 2), which training can tie to the object."""
        x = torch.cat([x * 2.0 - 1.0, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1)
        f = self.features(x)
        keypoints = self.softargmax(f)
        return self.head(torch.cat([keypoints, f.amax(dim=(2, 3))], dim=1)), keypoints[:, :2]


ARCHITECTURES = {"coordconv": PoseNet, "keypoints": KeypointPoseNet}


def image_size_of(model: nn.Module) -> int:
    """The input size a network was built for."""
    return int(cast(torch.Tensor, model.coords).shape[-1])


def build_network(arch: str, image_size: int, width: int) -> nn.Module:
    """One of :data:`ARCHITECTURES`."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; allowed: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](image_size, width)


# ----------------------------------------------------------------------- training


@dataclass(frozen=True)
class RegressorConfig:
    """How to train."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 32
    arch: str = "keypoints"
    keypoint_weight: float = 1.0  # auxiliary loss tying keypoint 0 to the object's pixel
    seed: int = 0
    object_name: str = "cube"
    threads: int = 0  # torch threads; 0 keeps torch's default
    device: str = "cpu"

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "width"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.arch not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {self.arch!r}; allowed: {', '.join(ARCHITECTURES)}"
            )
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0 (0: torch's default), got {self.threads}")


def check_training_data(train: PoseData, val: PoseData | None = None) -> None:
    """Refuse, before any training, data the network cannot take (images that are not
    square powers of two >= 32 px) and validation data that does not match the training
    data (another env or another image size): the run would fail or mean nothing after
    all its epochs."""
    h, w = int(train.images.shape[-2]), int(train.images.shape[-1])
    if h != w or w < 32 or w & (w - 1):
        raise ValueError(
            f"{train.root!r} holds {w}x{h} px images; the regressor needs square images whose "
            f"side is a power of two >= 32: export the data with --size 64 (or 32, 128)"
        )
    if val is None:
        return
    vh, vw = int(val.images.shape[-2]), int(val.images.shape[-1])
    if (vh, vw) != (h, w):
        raise ValueError(
            f"--val {val.root!r} holds {vw} px images but --train {train.root!r} holds {w} px "
            f"images; export the validation data with --size {w}"
        )
    env_t, env_v = train.manifest.get("env_id"), val.manifest.get("env_id")
    if env_t and env_v and env_t != env_v:
        raise ValueError(
            f"--val {val.root!r} was exported from {env_v} but --train {train.root!r} from "
            f"{env_t}; export the validation data from {env_t}"
        )


@dataclass
class TrainResult:
    """What training produced: the model, normalization, and per-epoch curves."""

    model: nn.Module
    mean: torch.Tensor
    std: torch.Tensor
    config: RegressorConfig
    train_loss: list[float] = field(default_factory=list)
    val_error_cm: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _to_float(images: torch.Tensor) -> torch.Tensor:
    return images.float().div_(255.0)


def train_regressor(
    train: PoseData,
    val: PoseData | None = None,
    config: RegressorConfig | None = None,
    *,
    progress: bool = True,
    on_epoch: Callable[[int, float, float | None], None] | None = None,
) -> TrainResult:
    """Train a :class:`PoseNet` with Adam and a cosine schedule on MSE of normalized targets."""
    config = config or RegressorConfig()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    size = int(train.images.shape[-1])
    # channels-last convolutions run about 1.3x faster on CPU (oneDNN)
    model = build_network(config.arch, size, config.width).to(config.device)
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    mean, std = train.targets.mean(0), train.targets.std(0).clamp_min(1e-3)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    n = len(train)
    steps_per_epoch = max(1, (n + config.batch_size - 1) // config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
    )
    result = TrainResult(model, mean, std, config)
    aux = (config.keypoint_weight > 0 and train.pixels is not None
           and hasattr(model, "forward_with_keypoint"))  # fmt: skip
    t0 = time.perf_counter()
    bar = tqdm(total=config.epochs * n, unit="img", unit_scale=True, disable=not progress,
               desc="train regressor")  # fmt: skip
    try:
        for epoch in range(config.epochs):
            model.train()
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for b in range(steps_per_epoch):
                idx = order[b * config.batch_size : (b + 1) * config.batch_size]
                x = _to_float(train.images[idx].to(config.device)).contiguous(
                    memory_format=torch.channels_last
                )
                y = ((train.targets[idx] - mean) / std).to(config.device)
                if aux:
                    pred, keypoint = model.forward_with_keypoint(x)  # type: ignore[operator]
                    loss = nn.functional.smooth_l1_loss(pred, y, beta=0.1)
                    pix = train.pixels[idx].to(config.device)  # type: ignore[index]
                    loss = loss + config.keypoint_weight * nn.functional.smooth_l1_loss(
                        keypoint, pix, beta=0.05
                    )
                else:
                    loss = nn.functional.smooth_l1_loss(model(x), y, beta=0.1)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
                bar.update(len(idx))
            result.train_loss.append(total / n)
            val_cm = None
            if val is not None:
                val_cm = float(np.mean(position_errors(result, val))) * 100.0
                result.val_error_cm.append(val_cm)
            bar.set_postfix(loss=f"{total / n:.4f}", val_cm="-" if val_cm is None else f"{val_cm:.2f}")
            if on_epoch is not None:
                on_epoch(epoch, total / n, val_cm)
    finally:
        bar.close()
    result.seconds = time.perf_counter() - t0
    model.eval()
    result.model = model.cpu().to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    return result


@torch.no_grad()
def predict(result: TrainResult | LoadedRegressor, images: torch.Tensor) -> np.ndarray:
    """Positions (N, 3) in metres, robot frame, from uint8 images (N, 3, H, W)."""
    model = result.model
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for b in range(0, images.shape[0], 256):
        y = model(_to_float(images[b : b + 256].to(device))).cpu()
        out.append(y * result.std + result.mean)
    model.train(was_training)
    return torch.cat(out).numpy().astype(np.float64)


def position_errors(result: TrainResult | LoadedRegressor, data: PoseData) -> np.ndarray:
    """Euclidean position error per sample, metres."""
    return np.linalg.norm(predict(result, data.images) - data.targets.numpy(), axis=1)


# --------------------------------------------------------------------- checkpoint


@dataclass
class LoadedRegressor:
    """A regressor read back from a checkpoint."""

    model: nn.Module
    mean: torch.Tensor
    std: torch.Tensor
    meta: dict[str, Any]


def save_regressor(result: TrainResult, path: str | Path, meta: dict[str, Any]) -> Path:
    """Write weights, normalization, config and provenance (env id, preset, size)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "image_size": image_size_of(result.model),
        "config": asdict(result.config),
        "meta": json.dumps(meta, sort_keys=True),
        "mean": result.mean.clone(),
        "std": result.std.clone(),
        "state_dict": result.model.state_dict(),
        "train_loss": list(result.train_loss),
        "val_error_cm": list(result.val_error_cm),
    }
    return save_checkpoint(path, payload)


def load_regressor(path: str | Path) -> LoadedRegressor:
    """Read a checkpoint written by :func:`save_regressor` (safe: ``weights_only=True``)."""
    path = Path(path)
    payload = read_checkpoint(
        path, fmt=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION, what="pose-regressor",
        train_hint="scripts/train_regressor.py --train DIR --val DIR --out CKPT",
    )  # fmt: skip
    try:
        config = RegressorConfig(**payload["config"])
        model = build_network(config.arch, int(payload["image_size"]), config.width)
    except (KeyError, TypeError, ValueError) as exc:
        what = f"lacks {exc}" if isinstance(exc, KeyError) else " ".join(str(exc).split())[:300]
        raise ValueError(
            f"{str(path)!r} is a damaged pose-regressor checkpoint ({type(exc).__name__}: "
            f"{what}); train it again with scripts/train_regressor.py"
        ) from None
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ValueError(f"{str(path)!r}: weights do not fit the network: {detail}") from None
    model.eval()
    try:
        meta = json.loads(payload["meta"])
        mean, std = torch.as_tensor(payload["mean"]), torch.as_tensor(payload["std"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{str(path)!r} is a damaged pose-regressor checkpoint ({type(exc).__name__}: "
            f"{exc}); train it again with scripts/train_regressor.py"
        ) from None
    if not isinstance(meta, dict) or mean.shape != (3,) or std.shape != (3,):
        raise ValueError(
            f"{str(path)!r} is a damaged pose-regressor checkpoint (meta or normalization of "
            f"the wrong form); train it again with scripts/train_regressor.py"
        )
    return LoadedRegressor(model, mean, std, meta)


def check_compatible(model: LoadedRegressor, data: PoseData, path: str | Path) -> None:
    """Refuse to evaluate on images of another size than the model was trained on."""
    size = image_size_of(model.model)
    if int(data.images.shape[-1]) != size:
        raise ValueError(
            f"{str(path)!r} was trained on {size} px images but {data.root!r} holds "
            f"{int(data.images.shape[-1])} px images; export the data with --size {size}"
        )


def error_summary(errors_m: np.ndarray) -> dict[str, float]:
    """Mean, std, median and 90th percentile of position errors, in centimetres."""
    cm = np.asarray(errors_m) * 100.0
    return {
        "mean_cm": float(cm.mean()),
        "std_cm": float(cm.std()),
        "median_cm": float(np.median(cm)),
        "p90_cm": float(np.percentile(cm, 90)),
        "n": int(cm.size),
    }
