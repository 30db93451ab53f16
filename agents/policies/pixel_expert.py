"""Modular pixel policy, as in Tobin et al. (2017): localizers find the cube (and, for Push,
the goal disc) in the first RGB frame of an episode, the calibrated camera turns those
pixels into table positions, and the task's scripted controller acts on the estimates and
on proprioception. It never reads the simulator's object state.

Lift needs no more vision: the cube does not move until it is grasped. A grasp that closes
the fingers on nothing (proprioception: the opening falls below :data:`MISS_WIDTH`) means
the localizer picked a look-alike spot: the policy rises, rules that spot out of the first
frame's heatmap, takes the next-best peak and tries again (at most :data:`MAX_RETRIES`
times). A pushed cube moves: by default (:data:`TRACK`) its position is dead-reckoned from
the end effector: once the fingertips reach it, the cube stays :data:`PUSH_LEAD` ahead of
them along the push direction (measured with the privileged expert: 4.0 +- 0.7 cm). With
``track`` it is localized again in every frame instead, by a localizer trained on frames
captured mid-push (``export_dataset.py --policy expert --steps 0:60``); on randomized
validation that did worse (0.27 vs 0.37 success over 60 episodes). When a dead-reckoned push
is over (:data:`CHECK_PUSHES`), the policy rises and localizes the cube in that frame before
pushing again; a cube still where the push began was a look-alike (a real one would have
moved), so that spot is ruled out (0.50 vs 0.43 on the same 60 validation episodes).

Push also uses what the task itself says (2026-12-01; 120 validation episodes of
``tobin_photos_calibrated``, 106 -> 111 successes): the first frame's cube and goal are the
most likely pair of heatmap peaks that lie as far apart as the task puts them
(:data:`envs.tasks.push.GOAL_DISTANCE`); a look after a push skips peaks on the goal disc
(the episode would have ended) and peaks outside the hand's reach; a hand stuck on its way
to a push (resting on a cube it took to be elsewhere) rises and looks again; up to
:data:`MAX_CHECKS` looks. Looking from the starting pose instead of from above did worse
(107 of the 120).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.perception.ensemble import SEPARATOR, load_localizer_spec
from agents.perception.localizer import Localizer
from agents.policies.bc import PROPRIO_NAMES
from agents.policies.experts import Expert, LiftExpert, PushExpert, make_expert
from envs.scene import Workspace
from envs.tasks.push import GOAL_DISTANCE
from randomizers.assets import asset_dir

MODELS_DIR = asset_dir() / "models"
"""where the shipped localizer checkpoints live (installed package or source checkout)"""
ROLES: dict[str, tuple[str, ...]] = {
    "domrand/Lift-v0": ("object",),
    "domrand/Push-v0": ("object", "goal"),
}
"""the localizers a pixel expert needs, per env"""
SHIPPED: dict[str, dict[str, str]] = {
    "domrand/Lift-v0": {
        "object": "lift_cube128_photos_mirror.pt+lift_cube128_pool_photos_mirror.pt"
        "+lift_cube128_verifier_photos_mirror.pt"
    },
    "domrand/Push-v0": {"object": "push_cube128.pt", "goal": "push_goal128.pt"},
}
"""the localizer specs (file names in :data:`MODELS_DIR`, ``+`` for an ensemble and its
verifier) ``--policy pixel-expert`` uses when none is given"""
OBJECTS = {"object": "cube", "goal": "goal"}
"""the labelled body each role's localizer must have been trained on"""
TRACK: dict[str, bool] = {"domrand/Lift-v0": False, "domrand/Push-v0": False}
"""whether the cube is localized again in every frame (else only in the first)"""
CHECK_PUSHES = True
"""Push: once a dead-reckoned push is over (the controller would rise and start again), rise
and localize the cube in the new frame before the next push (at most MAX_CHECKS times)"""
MAX_CHECKS = 5
GOAL_CLEAR = 0.035
"""metres: Push: after a push, a cube estimate this close to the goal estimate is the goal
disc taken for the cube (a cube inside the goal disc would have ended the episode)"""
STUCK_STEPS = 6
STUCK_MOVE = 0.003
"""Push: the hand moved less than this (metres) over STUCK_STEPS steps on its way to a push:
it rests on a cube it took to be elsewhere, so it rises and looks again"""
PUSH_LEAD = 0.04
MISS_WIDTH = 0.02  # metres: closed on a 4 cm cube the fingers stay >= 4 cm apart
MAX_RETRIES = 3
RETRY_CLEARANCE = 0.06  # rise this far above the cube's plane before trying elsewhere
PUSH_CHECK_CLEARANCE = 0.15  # Push: look from higher, where the hand is not taken for the cube
RETRIES = ("look-again", "first-frame")
"""after a missed grasp: go back to the starting pose and localize in a new frame (the cube
may have been knocked), or take the next-best peak of the first frame"""
SAME_SPOT = 0.015  # metres: a new estimate this close to a missed spot is that spot again
PAIR_PEAKS = 5
"""Push: heatmap peaks per localizer among which the first frame's cube-goal pair is chosen"""
PAIR_SLACK = (0.04, 0.05)
"""metres below and above the task's goal distance (:data:`envs.tasks.push.GOAL_DISTANCE`)
that a chosen pair may lie: room for the localizers' own errors"""
PAIR_MARGIN = 2.0
"""nats: a pair that fits is taken over the two best peaks only when its summed
log-probability falls at most this far below theirs (else both best peaks stand)"""


def _check(loc: Localizer, role: str, env_id: str, where: str) -> None:
    """Refuse a localizer trained for another env or object, naming both sides."""
    if loc.meta["env_id"] != env_id:
        raise ValueError(f"{where} was trained on {loc.meta['env_id']}; the pixel expert runs "
                         f"{env_id}: train one on {env_id} images")  # fmt: skip
    if loc.meta["object"] != OBJECTS[role]:
        raise ValueError(f"{where} localizes {loc.meta['object']!r}; the {role} localizer of "
                         f"{env_id} must localize {OBJECTS[role]!r}")  # fmt: skip


def shipped_spec(env_id: str, role: str) -> str:
    """The shipped localizer spec of ``role`` for ``env_id``, every part a path in
    :data:`MODELS_DIR`."""
    names = SHIPPED[env_id][role].split(SEPARATOR)
    return SEPARATOR.join(str(MODELS_DIR / name) for name in names)


def load_localizers(env_id: str, paths: Mapping[str, str | Path] | None = None
                    ) -> dict[str, Localizer]:  # fmt: skip
    """The localizers a pixel expert for ``env_id`` needs: ``paths`` (role -> checkpoint),
    else the shipped ones in :data:`MODELS_DIR`; each is checked against env and object."""
    if env_id not in ROLES:
        raise ValueError(f"no pixel expert for {env_id!r}; it exists for: {', '.join(ROLES)}")
    paths = dict(paths or {})
    unknown = sorted(set(paths) - set(ROLES[env_id]))
    if unknown:
        raise ValueError(f"{env_id}'s pixel expert has localizer roles "
                         f"{', '.join(ROLES[env_id])}; got {', '.join(unknown)}")  # fmt: skip
    missing = [r for r in ROLES[env_id] if r not in paths and r not in SHIPPED.get(env_id, {})]
    if missing:
        raise ValueError(f"no localizer for {env_id}'s {', '.join(missing)} ships with the "
                         f"package; train them (assets/models/README.md) and pass "
                         + " ".join(f"--localizer {r}=CKPT" for r in missing))  # fmt: skip
    out = {}
    for role in ROLES[env_id]:
        path = paths.get(role) or shipped_spec(env_id, role)
        loc = load_localizer_spec(path)  # CKPT, an ensemble CKPT+CKPT, a verifier +V.pt, +R.pt
        _check(loc, role, env_id, repr(str(path)))
        out[role] = loc
    sizes = {loc.image_size for loc in out.values()}
    if len(sizes) > 1:
        raise ValueError(f"{env_id}'s localizers expect different image sizes {sorted(sizes)}; "
                         "train them at one size")  # fmt: skip
    return out


class PixelExpert:
    """A stateful policy over ``state+rgb`` observations that reads only the image and the
    proprioceptive entries (:data:`agents.policies.bc.PROPRIO_NAMES`, plus Lift's constant target
    height); call :meth:`reset` at the start of every episode."""

    def __init__(self, env_id: str, localizers: Mapping[str, Localizer],
                 state_names: Sequence[str], *, track: bool | None = None,
                 retry: str = "look-again", check_pushes: bool | None = None,
                 goal_distance: tuple[float, float] | None = GOAL_DISTANCE,
                 workspace: Workspace | Mapping[str, Any] | None = None) -> None:  # fmt: skip
        missing = sorted(set(ROLES.get(env_id, ())) - set(localizers))
        if env_id not in ROLES or missing:
            raise ValueError(f"a pixel expert for {env_id!r} needs localizers for "
                             f"{', '.join(ROLES.get(env_id, ('?',)))}; missing {missing}")  # fmt: skip
        self.env_id = env_id
        self.localizers = dict(localizers)
        self.image_size = next(iter(self.localizers.values())).image_size
        names = list(state_names)
        self._proprio = [names.index(n) for n in PROPRIO_NAMES]
        self._target_z = names.index("lift_target_z") if "lift_target_z" in names else None
        self.expert: Expert = make_expert(env_id)
        self.track = TRACK[env_id] if track is None else track
        if retry not in RETRIES:
            raise ValueError(f"unknown retry {retry!r}; allowed: {', '.join(RETRIES)}")
        self.retry = retry
        self.check_pushes = CHECK_PUSHES if check_pushes is None else check_pushes
        self.goal_distance = goal_distance
        ws = Workspace(**workspace) if isinstance(workspace, Mapping) else workspace or Workspace()
        self.reach = (np.asarray(ws.ee_low[:2]), np.asarray(ws.ee_high[:2]))
        self.reset()

    def reset(self) -> None:
        """Forget the previous episode: the next call localizes again."""
        self.expert.reset()
        self.estimates: dict[str, np.ndarray] = {}
        self.frame: torch.Tensor | None = None
        self.rejected: list[np.ndarray] = []  # object pixels where a grasp closed on nothing
        self.retrying = 0  # 1: rising after a miss, 2: returning to the starting pose
        self.home: np.ndarray | None = None
        self.pushes = 0  # Push: pushes checked by looking again
        self.push_start: np.ndarray | None = None  # Push: the cube estimate a push began from
        self.trail: list[np.ndarray] = []  # Push: the latest hand positions

    def _tensor(self, rgb: np.ndarray) -> torch.Tensor:
        if rgb.shape != (self.image_size, self.image_size, 3):
            raise ValueError(f"the localizers were trained on {self.image_size} px images; "
                             f"the observation is {rgb.shape[1]} x {rgb.shape[0]} px: run the "
                             f"env with image_size={self.image_size}")  # fmt: skip
        return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]

    def localize(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        """World positions (x, y, z) of every role, from one (H, W, 3) uint8 frame."""
        self.frame = self._tensor(rgb)
        if "goal" in self.localizers:
            return self._pair(self.frame, self.goal_distance)
        return {role: loc.positions(self.frame)[0] for role, loc in self.localizers.items()}

    def _pair(self, frame: torch.Tensor, distance: tuple[float, float] | None
              ) -> dict[str, np.ndarray]:  # fmt: skip
        """Push: the most likely cube and goal peaks that lie as far apart as the task puts
        them: the two localizers cannot both be right when they name one spot (in 120
        validation episodes the cube's best peak missed the cube in 14 first frames, 2 of
        them on the goal disc; the goal's missed the goal in 6, 2 on the cube)."""
        cube, goal = self.localizers["object"], self.localizers["goal"]
        (cu, cs), (gu, gs) = cube.peaks(frame, PAIR_PEAKS), goal.peaks(frame, PAIR_PEAKS)
        cw, gw = cube.to_world(cu), goal.to_world(gu)
        d = np.linalg.norm(cw[:, None, :2] - gw[None, :, :2], axis=2)
        fits = np.ones_like(d, dtype=bool)
        if distance is not None:
            fits = (d >= distance[0] - PAIR_SLACK[0]) & (d <= distance[1] + PAIR_SLACK[1])
        fits &= self._reachable(cw)[:, None] & self._reachable(gw)[None, :]
        score = np.where(fits, cs[:, None] + gs[None, :], -np.inf)
        i, j = (int(v) for v in np.unravel_index(int(np.argmax(score)), score.shape))
        if score[i, j] < cs[0] + gs[0] - PAIR_MARGIN:
            i, j = 0, 0
        return {"object": cw[i], "goal": gw[j]}

    def _missed(self, finger_width: float) -> bool:
        """A Lift grasp closed on nothing (and retries are left)."""
        return (isinstance(self.expert, LiftExpert) and self.expert.phase == 3
                and finger_width < MISS_WIDTH and len(self.rejected) < MAX_RETRIES)  # fmt: skip

    def _look_again(self, frame: torch.Tensor) -> None:
        """Localize the object again, ruling out the spots where grasps closed on nothing
        when the best peak falls on one of them."""
        loc = self.localizers["object"]
        pos = loc.positions(frame)[0]
        missed = loc.to_world(np.array(self.rejected))
        if np.min(np.linalg.norm(missed[:, :2] - pos[:2], axis=1)) < SAME_SPOT:
            pos = self._best_elsewhere(frame)
        self.estimates["object"] = pos

    def _best_elsewhere(self, frame: torch.Tensor) -> np.ndarray:
        """The object's position from the best heatmap peak away from every rejected spot."""
        loc = self.localizers["object"]
        return loc.to_world(loc.pixels(frame, np.array(self.rejected)))[0]  # type: ignore[no-any-return]

    def _check_push(self, frame: torch.Tensor) -> None:
        """Push: localize the cube again after a push; if it sits where the push began, the
        push went through a look-alike (a real cube would have moved): rule that spot out.
        Peaks on a ruled-out spot or on the goal disc give way to the next-best one."""
        loc = self.localizers["object"]
        u, _ = loc.peaks(frame, PAIR_PEAKS)
        world = loc.to_world(u)
        start = self.push_start
        if start is not None and np.linalg.norm(world[0, :2] - start[:2]) < SAME_SPOT:
            self.rejected.append(loc.world_to_pixels(start[None])[0])
        ruled_out = list(loc.to_world(np.array(self.rejected))) if self.rejected else []
        goal = self.estimates.get("goal")
        for pos in world[self._reachable(world)]:
            if (all(np.linalg.norm(pos[:2] - r[:2]) >= SAME_SPOT for r in ruled_out)
                    and (goal is None or np.linalg.norm(pos[:2] - goal[:2]) >= GOAL_CLEAR)):  # fmt: skip
                break
        else:
            pos = world[0]
        self.estimates["object"] = pos
        self.push_start = pos.copy()

    def _reachable(self, world: np.ndarray) -> np.ndarray:
        """Which positions (N, 3) lie within the hand's reach in the table plane (a peak
        outside it is background: nothing there could be pushed or grasped)."""
        lo, hi = self.reach
        return np.all((world[:, :2] >= lo) & (world[:, :2] <= hi), axis=1)  # type: ignore[no-any-return]

    def _stuck(self, ee: np.ndarray) -> bool:
        """Push: the hand has barely moved for STUCK_STEPS steps before reaching the push."""
        if not isinstance(self.expert, PushExpert):
            return False
        self.trail.append(ee.copy())
        del self.trail[:-STUCK_STEPS]
        return (self.expert.phase in (0, 1) and len(self.trail) == STUCK_STEPS
                and float(np.linalg.norm(self.trail[-1] - self.trail[0])) < STUCK_MOVE)  # fmt: skip

    def _retry_action(self, rgb: np.ndarray, ee: np.ndarray) -> np.ndarray | None:
        """Rise, (return to the starting pose,) localize again; None once ready to act (grasp
        or push) on the new estimate."""
        assert self.frame is not None and self.home is not None
        open_hand = [1.0] * (self.expert.action_dim - 3)  # Lift: the gripper stays open
        if self.retrying == 1:
            rise = PUSH_CHECK_CLEARANCE if isinstance(self.expert, PushExpert) else RETRY_CLEARANCE
            if ee[2] < self.estimates["object"][2] + rise:
                return np.array([0.0, 0.0, 1.0, *open_hand], dtype=np.float32)
            if isinstance(self.expert, PushExpert):  # risen clear: look from here
                self._check_push(self._tensor(rgb))
                self.retrying = 0
                return None
            if self.retry == "first-frame":
                self._look_again(self.frame)
                self.retrying = 0
                return None
            self.retrying = 2
        if np.linalg.norm(self.home - ee) > 0.02:
            return np.append(self.expert.move(ee, self.home), open_hand).astype(np.float32)
        self._look_again(self._tensor(rgb))
        self.retrying = 0
        return None

    def __call__(self, obs: Mapping[str, Any]) -> np.ndarray:
        """The action for one ``state+rgb`` observation."""
        if not isinstance(obs, Mapping) or "rgb" not in obs or "state" not in obs:
            raise ValueError("the pixel expert needs 'state+rgb' observations "
                             "(a dict with 'rgb' and 'state')")  # fmt: skip
        if not self.estimates:
            self.estimates = self.localize(np.asarray(obs["rgb"]))
            self.home = np.asarray(obs["state"], dtype=np.float64)[self._proprio][:3]
            self.push_start = self.estimates["object"].copy()
        elif self.track:
            now = self.localizers["object"].positions(self._tensor(np.asarray(obs["rgb"])))
            self.estimates["object"] = now[0]
        p = np.asarray(obs["state"], dtype=np.float64)[self._proprio]
        ee = p[:3]
        if not self.retrying and self._missed(float(p[6])):
            loc = self.localizers["object"]
            self.rejected.append(loc.world_to_pixels(self.estimates["object"][None])[0])
            self.retrying = 1
        if self.retrying:
            action = self._retry_action(np.asarray(obs["rgb"]), ee)
            if action is not None:
                return action
            self.expert.reset()
        cube = self.estimates["object"].copy()
        state = {"ee_pos": ee, "ee_vel": p[3:6], "finger_width": p[6:7], "object_pos": cube}
        if self._target_z is not None:
            state["goal_pos"] = np.array([cube[0], cube[1], obs["state"][self._target_z]])
        if "goal" in self.estimates:
            goal = self.estimates["goal"]
            state["goal_pos"] = goal
            if not self.track and isinstance(self.expert, PushExpert) and self.expert.phase == 2:
                cube = self._pushed(cube, goal, ee)
                self.estimates["object"] = state["object_pos"] = cube
        action = self.expert(state)
        stuck = self._stuck(ee)
        if (self.check_pushes and not self.track and isinstance(self.expert, PushExpert)
                and (self.expert.phase == 3 or stuck) and self.pushes < MAX_CHECKS):  # fmt: skip
            self.pushes += 1  # the push is over by dead reckoning: look before the next one
            self.retrying = 1
            self.trail.clear()
            if stuck:  # no push happened: an unmoved cube proves nothing
                self.push_start = None
            step = self._retry_action(np.asarray(obs["rgb"]), ee)
            return action if step is None else step
        return action

    @staticmethod
    def _pushed(cube: np.ndarray, goal: np.ndarray, ee: np.ndarray) -> np.ndarray:
        """Dead reckoning: the cube is at least PUSH_LEAD ahead of the fingertips."""
        d = goal[:2] - cube[:2]
        d = d / max(float(np.linalg.norm(d)), 1e-6)
        lead = float((cube[:2] - ee[:2]) @ d)
        if lead >= PUSH_LEAD:
            return cube
        out = cube.copy()
        out[:2] = cube[:2] + d * (PUSH_LEAD - lead)
        return out
