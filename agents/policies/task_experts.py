"""Scripted experts for PickPlace and Stack, added to ``EXPERTS`` the way a user's are
(docs/TASKS.md, "Experts"): grasp like the Lift expert, carry, put down, let go."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from agents.policies.experts import EXPERTS, LiftExpert


class PlaceExpert(LiftExpert):
    """Grasp at ``grasp_pos`` (the Lift expert's approach, descent and close), lift, carry
    the hand over ``place_pos``, lower the object straight down onto it, open, rise.

    A parallel gripper whose fingers close with equal force holds the object anywhere along
    its closing axis, and a sideways move throws it to one end of the fingers' free travel.
    So the hand, not the object, is centred over the place along that axis (the x and z
    offsets, rigid, are read after the lift); with ``recentre`` the expert then lets go,
    closes the fingers to just wider than the object where it rests (a position, not a
    squeeze: the fingers push it to the hand's centre, over the place, and stop there) and
    lets go again.
    """

    clearance = 0.08  # m above place_pos while carrying
    align = 0.004  # m: hand error at which the descent starts
    slow = 0.3  # speed of the descent
    settle = 0.004  # m: vertical error at which the gripper opens
    open_steps = 4
    recentre = False
    play = 0.004  # m the recentring fingers stay wider than the object (no squeeze, no slide)

    def reset(self) -> None:
        super().reset()
        self.offset = np.zeros(3)
        self.hold = np.zeros(3)

    def act(self, state: Mapping[str, np.ndarray]) -> np.ndarray:
        if self.phase < 3:  # approach, descend, close: exactly the Lift expert
            action = super().act(state)
            if self.phase == 3:
                self.counter = 0
            return action
        ee, grasp, place = state["ee_pos"], state["grasp_pos"], state["place_pos"]
        carry_z = float(place[2]) + self.clearance
        speed, grip = 1.0, -1.0
        if self.phase == 3:  # lift clear
            self.offset = ee - grasp
            target = np.array([ee[0], ee[1], carry_z + self.offset[2]])
            if grasp[2] > carry_z - 0.01:
                self.phase = 4
        elif self.phase == 4:  # carry the hand over the place, wait until it is still
            target = np.array([place[0] + self.offset[0], place[1], carry_z + self.offset[2]])
            near = np.linalg.norm(ee[:2] - target[:2]) < self.align
            if near and np.linalg.norm(state["ee_vel"]) < 0.02:
                self.phase = 5
                self.hold = np.array([target[0], target[1], place[2] + self.offset[2]])
        elif self.phase == 5:  # straight down
            target, speed = self.hold, self.slow
            self.counter += 1
            if abs(float(grasp[2] - place[2])) < self.settle or self.counter > 20:
                self.phase, self.counter = 6, 0
        elif self.phase in (6, 8):  # let go
            target, grip = self.hold, 1.0
            self.counter += 1
            if self.counter >= self.open_steps:
                self.phase = self.phase + 1 if self.recentre or self.phase == 8 else 9
                self.counter = 0
        elif self.phase == 7:  # close to just wider than the object: pushes it to the centre
            target = self.hold
            width = float(state["object_extent"][1]) + self.play
            grip = 2.0 * width / float(state["max_finger_width"][0]) - 1.0
            self.counter += 1
            if self.counter >= self.close_steps:
                self.phase, self.counter = 8, 0
        else:  # rise away
            target, grip = np.array([ee[0], ee[1], carry_z + 0.05]), 1.0
        return np.append(self.move(ee, target, speed=speed), grip)


class PickPlaceExpert(PlaceExpert):
    """Pick the object and set it down on the tray floor's centre."""


class StackExpert(PlaceExpert):
    """Pick cube A and set it down on cube B, centred by a second close."""

    recentre = True


EXPERTS["domrand/PickPlace-v0"] = PickPlaceExpert
EXPERTS["domrand/Stack-v0"] = StackExpert
