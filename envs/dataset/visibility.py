"""Visible fractions: the pixels each labelled body covers when rendered alone, counted with
as few extra renders as the scene allows.

A body's alone count is the pixels it covers with every other body transparent. Hidden
pixels (covered alone, not visible in the main render) can only lie where one of its links
may be occluded: a link reaching down to the table top (the table and floor may cover it)
or one whose projected bounds another drawn body overlaps at a nearer depth. Outside those
"hazard" rectangles the main render's mask is exact; inside them it is counted from an
alone-render of just the links that reach in. Renders of bodies whose bounds are disjoint
are shared (none can cover a pixel of another). A body with no hazard needs no render.
Inside a hazard, too, the main render tells most pixels (a body shows alone wherever it
shows in the main render, and nowhere the main render shows nothing): each alone-render
draws only the window holding the hazard pixels where another body shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.camera import Camera
from envs.dataset.bounds import PAD_M, link_parts
from envs.panda_env import PandaTaskEnv

_SUPPORTS = ("table", "floor")  # wholly below ``scene.table_top``


@dataclass
class AloneJob:
    """Render ``links`` of ``body`` alone; count its pixels inside the ``hazard`` rectangles
    there and outside them in the main render."""

    body: int
    links: list[int]
    hazard: np.ndarray  # (k, 4) pixel rectangles
    rects: np.ndarray  # (n, 4) pixel rectangles of the rendered links


def alone_pixel_counts(env: PandaTaskEnv, bodies: list[int]) -> dict[int, int]:
    """Pixels each body covers when rendered alone (every other body made transparent:
    TinyRenderer skips fully transparent shapes), for visible fractions."""
    c = env.scene.client
    all_bodies = [c.getBodyUniqueId(i) for i in range(c.getNumBodies())]
    colours = {b: [(v[1], v[7]) for v in c.getVisualShapeData(b)] for b in all_bodies}
    counts: dict[int, int] = {}
    try:
        for b in all_bodies:
            for link, rgba in colours[b]:
                c.changeVisualShape(b, link, rgbaColor=[*rgba[:3], 0.0])
        for body in bodies:
            for link, rgba in colours[body]:
                c.changeVisualShape(body, link, rgbaColor=list(rgba))
            seg = env.camera.render(rgb=False, segmentation=True).segmentation
            assert seg is not None
            counts[body] = int((seg == body).sum())
            for link, rgba in colours[body]:
                c.changeVisualShape(body, link, rgbaColor=[*rgba[:3], 0.0])
    finally:
        for b in all_bodies:
            for link, rgba in colours[b]:
                c.changeVisualShape(b, link, rgbaColor=list(rgba))
    return counts


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)): whether pixel rectangles of ``a`` and ``b`` intersect."""
    return (
        (a[:, None, 0] <= b[None, :, 2])
        & (b[None, :, 0] <= a[:, None, 2])
        & (a[:, None, 1] <= b[None, :, 3])
        & (b[None, :, 1] <= a[:, None, 3])
    )


def _meet(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersections of pixel rectangles (empty ones overlap nothing)."""
    lo, hi = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:])
    return np.concatenate([lo, hi], axis=-1)


def plan_alone_renders(
    env: PandaTaskEnv,
    bodies: list[int],
    rows: dict[int, list[Any]],
    camera: Camera | None = None,
) -> tuple[list[int], list[list[AloneJob]]]:
    """Bodies whose main-render count is their alone count, and alone-render jobs grouped
    into shared renders of ``camera`` (default: the env's main camera). ``rows`` holds
    ``getVisualShapeData`` of every body."""
    names = {b: n for n, b in env.scene.sim.bodies.items()}
    drawn = {
        b: r for b, r in rows.items()
        if names.get(b) not in _SUPPORTS and any(s[7][3] > 0 for s in r)
    }  # fmt: skip
    parts = link_parts(env, drawn, camera)
    nearer = parts.depth[:, None, 0] <= parts.depth[None, :, 1] + PAD_M  # [o, l]: o may hide l
    other = parts.body[:, None] != parts.body[None, :]
    hider, hidden = np.nonzero(_overlap(parts.rect, parts.rect) & nearer & other)
    # pixels where a link may be hidden: its low part (by the table) and where a nearer
    # link of another body overlaps it
    hazard = np.concatenate([parts.low, _meet(parts.rect[hidden], parts.rect[hider])])
    owner = np.concatenate([parts.body, parts.body[hidden]])
    keep = (hazard[:, 0] <= hazard[:, 2]) & (hazard[:, 1] <= hazard[:, 3])
    hazard, owner = hazard[keep], owner[keep]
    # a body's alone-render needs the links that reach into its own hazards
    reach = (_overlap(parts.rect, hazard) & (parts.body[:, None] == owner[None, :])).any(axis=1)
    at_risk = set(owner.tolist())
    jobs = []
    for b in bodies:
        if b in at_risk:
            render = reach & (parts.body == b)
            jobs.append(AloneJob(b, parts.link[render].tolist(), hazard[owner == b],
                                 parts.rect[render]))  # fmt: skip
    return [b for b in bodies if b not in at_risk], _group(jobs)


def _group(jobs: list[AloneJob]) -> list[list[AloneJob]]:
    """Jobs in shared renders (greedy, in order): no job's rendered links may cover pixels
    that another job of the same render counts."""
    if not jobs:
        return []
    rects = np.concatenate([j.rects for j in jobs])
    hazard = np.concatenate([j.hazard for j in jobs])
    of_rect = np.repeat(np.arange(len(jobs)), [len(j.rects) for j in jobs])
    of_hazard = np.repeat(np.arange(len(jobs)), [len(j.hazard) for j in jobs])
    hits = np.zeros((len(jobs), len(jobs)), dtype=bool)
    r, h = np.nonzero(_overlap(rects, hazard))
    hits[of_rect[r], of_hazard[h]] = True
    conflict = hits | hits.T
    groups: list[list[int]] = []
    for i in range(len(jobs)):
        for group in groups:
            if not conflict[i, group].any():
                group.append(i)
                break
        else:
            groups.append([i])
    return [[jobs[i] for i in group] for group in groups]


def _pixel_spans(shape: tuple[int, ...], rects: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(u0, v0, u1, v1) pixel index ranges (u1, v1 exclusive) of the non-empty ones of
    ``rects`` (k, 4): the pixels whose centres lie in each."""
    height, width = shape[0], shape[1]
    spans = []
    for x0, y0, x1, y1 in rects.tolist():  # a few rectangles: plain floats beat NumPy here
        # pixel (col, row) has its centre at (col + 0.5, row + 0.5)
        c0, r0 = math.ceil(min(max(x0 - 0.5, 0), width)), math.ceil(min(max(y0 - 0.5, 0), height))
        c1 = math.floor(min(max(x1 - 0.5, -1), width - 1)) + 1
        r1 = math.floor(min(max(y1 - 0.5, -1), height - 1)) + 1
        if c0 < c1 and r0 < r1:
            spans.append((c0, r0, c1, r1))
    return spans


def _in_spans(shape: tuple[int, ...], spans: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Boolean (H, W) mask of the pixels in any of ``spans``."""
    mask = np.zeros(shape, dtype=bool)
    for c0, r0, c1, r1 in spans:
        mask[r0:r1, c0:c1] = True
    return mask


Window = tuple[int, int, int, int]  # (u0, v0, u1, v1): pixels [v0:v1, u0:u1]


def unseen_pixels(
    groups: list[list[AloneJob]], segmentation: np.ndarray
) -> list[tuple[Window | None, list[np.ndarray]]]:
    """Per shared render, the pixels whose alone value is not known from the main render
    (one mask per job) and the window holding them (None: no render needed). A body shows
    alone wherever it shows in the main render and nowhere the main render shows nothing,
    so only its hazard pixels where the main render shows another body are unknown."""
    out: list[tuple[Window | None, list[np.ndarray]]] = []
    drawn = segmentation >= 0
    for group in groups:
        masks = [
            _in_spans(segmentation.shape, _pixel_spans(segmentation.shape, job.hazard))
            & drawn & (segmentation != job.body)
            for job in group
        ]  # fmt: skip
        union = np.logical_or.reduce(masks)
        rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
        window = None
        if rows.size:
            window = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        out.append((window, masks))
    return out


def window_renders(
    env: PandaTaskEnv, bodies: list[int], segmentation: np.ndarray, camera: Camera | None = None
) -> tuple[dict[int, list[Any]], list[tuple[list[AloneJob], Window, list[np.ndarray]]]]:
    """The renders that visible fractions of ``bodies`` need beyond ``camera``'s main render
    (its body-id ``segmentation``): every body's visual-shape rows, and per render the jobs it
    serves, its window and each job's unseen pixels (:func:`unseen_pixels`)."""
    c = env.scene.client
    rows = {b: list(c.getVisualShapeData(b))
            for b in (c.getBodyUniqueId(i) for i in range(c.getNumBodies()))}  # fmt: skip
    _, groups = plan_alone_renders(env, bodies, rows, camera or env.camera)
    renders = [(g, w, m) for g, (w, m) in zip(groups, unseen_pixels(groups, segmentation),
                                              strict=True) if w is not None]  # fmt: skip
    return rows, renders


def grouped_alone_counts(
    env: PandaTaskEnv,
    bodies: list[int],
    segmentation: np.ndarray,
    camera: Camera | None = None,
    visible: list[int] | None = None,
) -> dict[int, int]:
    """The counts of :func:`alone_pixel_counts` with fewer renders (see the module docstring);
    ``segmentation`` is the body-id mask of ``camera``'s render (default: the main camera),
    ``visible`` each body's pixels in it when already counted."""
    c = env.scene.client
    cam = camera or env.camera
    rows, renders = window_renders(env, bodies, segmentation, cam)
    if visible is None:
        visible = [int(np.count_nonzero(segmentation == b)) for b in bodies]
    counts = dict(zip(bodies, visible, strict=True))
    if not renders:
        return counts
    drawn = [(b, r[1], r[7]) for b, shapes in rows.items() for r in shapes if r[7][3] > 0]
    shown = {(b, link) for b, link, _ in drawn}

    def show(wanted: set[tuple[int, int]]) -> None:
        for b, link, rgba in drawn:
            if (b, link) in shown and (b, link) not in wanted:
                c.changeVisualShape(b, link, rgbaColor=[*rgba[:3], 0.0])
            elif (b, link) in wanted and (b, link) not in shown:
                c.changeVisualShape(b, link, rgbaColor=list(rgba))
        shown.clear()
        shown.update(wanted)

    try:
        for group, (u0, v0, u1, v1), masks in renders:
            show({(job.body, link) for job in group for link in job.links})
            seg = cam.render(rgb=False, segmentation=True, window=(u0, v0, u1, v1)).segmentation
            assert seg is not None
            for job, unseen in zip(group, masks, strict=True):
                counts[job.body] += int(np.count_nonzero((seg == job.body) & unseen[v0:v1, u0:u1]))
    finally:
        show({(b, link) for b, link, _ in drawn})
    return counts
