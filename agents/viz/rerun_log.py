"""Rollout episodes and exported samples in the Rerun viewer (optional extra ``viz``).

Entities (OpenCV camera conventions, metres, quaternions x, y, z, w):

- ``world/camera``: the camera's pose (``Transform3D``) and intrinsics (``Pinhole``); below it
  ``rgb``, ``depth`` (metric), ``instances`` (instance mask, labelled by the annotation
  context at ``world``) and ``boxes`` (2D boxes, and the projected 3D box corners of exports).
- ``world/objects/<name>``: each labelled body's pose; ``world/boxes``: oriented 3D boxes;
  ``world/robot/ee``: the end-effector pose.
- ``action/<dim>``, ``reward``, ``return``: scalars; ``events``: a text log of what happened;
  ``episode/params``: the episode's seed and randomization params (JSON text).

Timelines: ``frame`` (everything in order), ``episode`` and ``step`` (rollouts) or
``sample`` (exports). A recording is spawned in a viewer or saved as an ``.rrd`` file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from agents.recording.steps import StepEvent
from envs.dataset.labels import labelled_objects, local_box, sample_labels

INSTALL = "pip install 'domrand[viz]'"
TESTED_RERUN = "0.26.2"
_BOX_EDGES = [(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 3), (2, 6), (3, 7), (4, 5), (4, 6),
              (5, 7), (6, 7)]  # fmt: skip
"""corners ``i`` and ``j`` joined by an edge of a box (corner bits: x, y, z sign)"""


def import_rerun() -> Any:
    """The ``rerun`` module; a one-line ImportError naming the install command without it."""
    try:
        import rerun
    except ImportError:
        raise ImportError(
            f"the Rerun viewer needs rerun-sdk {TESTED_RERUN}; install it with: {INSTALL}"
        ) from None
    return rerun


def check_rrd_path(path: str | None) -> None:
    """``--rerun-save``: an ``.rrd`` file in an existing folder (checked before any work)."""
    if path is None:
        return
    p = Path(path)
    if p.suffix != ".rrd":
        raise ValueError(f"--rerun-save must end in .rrd, got {path!r}")
    if p.is_dir():
        raise ValueError(f"--rerun-save {path!r} is a folder; give a file such as run.rrd")
    if not p.absolute().parent.is_dir():
        raise ValueError(f"--rerun-save {path!r}: folder {str(p.absolute().parent)!r} does not "
                         "exist; create it first")  # fmt: skip


def open_recording(*, save: str | None = None, spawn: bool = False, name: str = "domrand") -> Any:
    """A Rerun recording that streams to a spawned viewer and/or the ``.rrd`` file ``save``
    (neither: it stays in memory)."""
    rr = import_rerun()
    rec = rr.RecordingStream(application_id=name)
    sinks: list[Any] = []
    if save is not None:
        sinks.append(rr.FileSink(str(save)))
    if spawn:
        rec.spawn(connect=False)  # starts the viewer (needs a display); the sink connects
        sinks.append(rr.GrpcSink())
    if sinks:
        rec.set_sinks(*sinks)
    return rec


def log_camera(rec: Any, info: Mapping[str, Any], path: str = "world/camera") -> None:
    """The camera's intrinsics (``Pinhole``, OpenCV axes) and pose (``Transform3D``) from a
    ``camera.info()`` dict (``K``, ``extrinsics`` world -> camera, ``width``, ``height``)."""
    rr = import_rerun()
    T = np.asarray(info["extrinsics"], dtype=np.float64)
    R, t = T[:3, :3], T[:3, 3]
    rec.log(path, rr.Transform3D(translation=-R.T @ t, mat3x3=R.T))  # world <- camera
    rec.log(path, rr.Pinhole(image_from_camera=np.asarray(info["K"]), camera_xyz=rr.ViewCoordinates.RDF,
                             resolution=[info["width"], info["height"]]))  # fmt: skip


def log_annotations(rec: Any, names: list[str]) -> None:
    """Instance ids 1..n labelled with the body names (0: background), at ``world`` (per
    frame: the distractors, hence the numbering, change between episodes and samples)."""
    rr = import_rerun()
    rec.log("world", rr.AnnotationContext([(0, "background", (0, 0, 0)),
                                           *[(i, n) for i, n in enumerate(names, start=1)]]))  # fmt: skip


def log_scene(rec: Any, env: Any, shown: set[str] | None = None) -> None:
    """Render ``env``'s main camera and log everything of its current state: RGB, depth,
    instance mask, 2D and 3D boxes, the camera, object and end-effector poses. ``shown``:
    the objects logged last time; those gone (parked distractors) are cleared."""
    rr = import_rerun()
    _measure_boxes(env)
    frame = env.camera.render(rgb=True, depth=True, segmentation=True)
    labels = sample_labels(env, frame.segmentation, visibility=False)
    log_camera(rec, labels["camera"])
    log_annotations(rec, [o["name"] for o in labels["objects"]])
    rec.log("world/camera/rgb", rr.Image(env._filter(frame.rgb)))
    rec.log("world/camera/depth", rr.DepthImage(frame.depth, meter=1.0))
    instances = np.zeros(frame.segmentation.shape, dtype=np.uint16)
    for obj in labels["objects"]:
        instances[frame.segmentation == obj["body"]] = obj["instance"]
    rec.log("world/camera/instances", rr.SegmentationImage(instances))
    _log_objects(rec, labels["objects"])
    if shown is not None:
        now = {o["name"] for o in labels["objects"]}
        for name in sorted(shown - now):
            rec.log(f"world/objects/{name}", rr.Clear(recursive=False))
        shown.clear()
        shown.update(now)
    centers, halves, quats, names, ids = [], [], [], [], []
    for obj in labels["objects"]:
        box = local_box(env, obj["name"])
        if box is None:
            continue
        pos, quat = obj["world_pose"]["position"], obj["world_pose"]["quaternion"]
        R = np.array(env.scene.client.getMatrixFromQuaternion(quat)).reshape(3, 3)
        centers.append(R @ box[0] + np.asarray(pos))
        halves.append(box[1])
        quats.append(rr.Quaternion(xyzw=quat))
        names.append(obj["name"])
        ids.append(obj["instance"])
    if not centers:
        rec.log("world/boxes", rr.Clear(recursive=False))
    else:
        rec.log("world/boxes", rr.Boxes3D(centers=centers, half_sizes=halves, quaternions=quats,
                                          labels=names, class_ids=ids))  # fmt: skip
    pos, _, quat = env.robot._ee_pose()
    rec.log("world/robot/ee", rr.Transform3D(translation=pos, quaternion=rr.Quaternion(xyzw=quat),
                                             axis_length=0.08))  # fmt: skip


def _measure_boxes(env: Any) -> None:
    """Measure (once per body) the local boxes that labels read, with the simulation state
    saved and restored around it: measuring moves a body away and back, which would
    otherwise drop its contacts and change the rest of the episode."""
    cache = env.scene.store.get("labels/local_box", {})
    todo = [name for name, _ in labelled_objects(env) if name != "robot" and name not in cache]
    if not todo:
        return
    client = env.scene.client
    state = client.saveState()
    try:
        for name in todo:
            local_box(env, name)
    finally:
        client.restoreState(stateId=state)
        client.removeState(state)
        env.scene.sim.cache.clear()


def _log_objects(rec: Any, objects: list[dict[str, Any]]) -> None:
    """2D boxes on the image and each object's world pose."""
    rr = import_rerun()
    boxed = [o for o in objects if o.get("bbox")]
    if not boxed:  # none visible: last frame's boxes must not stay on screen
        rec.log("world/camera/boxes", rr.Clear(recursive=False))
    else:
        rec.log("world/camera/boxes", rr.Boxes2D(
            array=[o["bbox"] for o in boxed], array_format=rr.Box2DFormat.XYWH,
            labels=[o["name"] for o in boxed], class_ids=[o["instance"] for o in boxed]))  # fmt: skip
    for o in objects:
        pose = o["world_pose"]
        rec.log(f"world/objects/{o['name']}",
                rr.Transform3D(translation=pose["position"],
                               quaternion=rr.Quaternion(xyzw=pose["quaternion"]), axis_length=0.05))  # fmt: skip


def log_params(rec: Any, episode: int, seed: int, params: Mapping[str, Any]) -> None:
    """The episode's seed and randomization params, as JSON text."""
    rr = import_rerun()
    text = json.dumps({"episode": episode, "seed": seed, "randomization": params}, indent=2,
                      sort_keys=True, default=lambda v: np.asarray(v).tolist())  # fmt: skip
    rec.log("episode/params", rr.TextDocument(f"```json\n{text}\n```",
                                              media_type=rr.MediaType.MARKDOWN))  # fmt: skip


class RerunLogger:
    """A ``StepEvent`` consumer that logs a rollout (one env in this process) to Rerun."""

    def __init__(self, rec: Any, env_id: str) -> None:
        self.rec = rec
        self.env_id = env_id
        self.frame = 0
        self.returns: dict[int, float] = {}
        self._shown: set[str] = set()

    def __call__(self, event: StepEvent) -> None:
        """Log ``event`` at timeline positions frame, episode and step."""
        rr = import_rerun()
        rec, env = self.rec, event.env
        if env is None:
            raise ValueError("the Rerun viewer logs one env in this process; drop --num-envs")
        rec.set_time("frame", sequence=self.frame)
        rec.set_time("episode", sequence=event.episode)
        rec.set_time("step", sequence=event.t)
        self.frame += 1
        if event.t == 0:
            self.returns[event.episode] = 0.0
            log_params(rec, event.episode, event.seed, event.params)
            rec.log("events", rr.TextLog(f"episode {event.episode} starts (seed {event.seed})",
                                         level=rr.TextLogLevel.INFO))  # fmt: skip
        else:
            assert event.action is not None
            self.returns[event.episode] += event.reward
            for i, a in enumerate(np.asarray(event.action).tolist()):
                rec.log(f"action/{('dx', 'dy', 'dz', 'gripper')[i] if i < 4 else i}", rr.Scalars(a))
            rec.log("reward", rr.Scalars(event.reward))
            rec.log("return", rr.Scalars(self.returns[event.episode]))
            for name in event.events:
                level = rr.TextLogLevel.INFO if name == "success" else rr.TextLogLevel.WARN
                rec.log("events", rr.TextLog(f"episode {event.episode} step {event.t}: {name}",
                                             level=level))  # fmt: skip
            if event.terminated or event.truncated:
                end = "success" if event.success else ("timeout" if event.truncated else "ended")
                rec.log("events", rr.TextLog(f"episode {event.episode} ends: {end}, return "
                                             f"{self.returns[event.episode]:.3f}"))  # fmt: skip
        log_scene(rec, env, self._shown)


def log_export(rec: Any, folder: str | Path, num: int) -> int:
    """Log the first ``num`` samples of an exported dataset (main camera); returns how many."""
    rr = import_rerun()
    out = Path(folder)
    labels = sorted((out / "labels").glob("*.json"))[:num]
    if not labels:
        raise ValueError(f"{str(out)!r} holds no labels/*.json; is it an export folder?")
    names: list[str] = []
    for i, path in enumerate(labels):
        record = json.loads(path.read_text())
        rec.set_time("sample", sequence=int(record.get("index", i)))
        rec.set_time("frame", sequence=i)
        objects = record["objects"]
        for o in objects:
            while len(names) < o["instance"]:
                names.append(f"instance {len(names) + 1}")
            names[o["instance"] - 1] = o["name"]
        log_annotations(rec, names)
        log_params(rec, int(record.get("index", i)), int(record["seed"]), record["randomization"])
        log_camera(rec, record["camera"])
        rec.log("world/camera/rgb", rr.Image(np.asarray(Image.open(out / record["rgb"]))))
        rec.log("world/camera/instances",
                rr.SegmentationImage(np.asarray(Image.open(out / record["instances"]))))  # fmt: skip
        if record.get("depth"):
            mm = np.asarray(Image.open(out / record["depth"]))
            rec.log(
                "world/camera/depth", rr.DepthImage(mm, meter=1000.0 / record["depth_scale_mm"])
            )
        _log_objects(rec, objects)
        strips = [[c[a], c[b]] for o in objects if o.get("box3d_corners_px")
                  for c in [o["box3d_corners_px"]] for a, b in _BOX_EDGES]  # fmt: skip
        rec.log(
            "world/camera/boxes3d", rr.LineStrips2D(strips) if strips else rr.Clear(recursive=False)
        )
        if record.get("events"):
            rec.log("events", rr.TextLog(f"sample {record.get('index', i)}: "
                                         f"{', '.join(record['events'])}"))  # fmt: skip
    return len(labels)
