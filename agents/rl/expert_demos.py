"""Scripted-expert demonstrations for SAC: fill the replay buffer with them (Vecerik et al.
2017), behaviour-clone the actor and warm the critic up on them, and keep a Q-filtered
behaviour-cloning term in the actor loss during RL (Nair et al. 2018), so that fine-tuning
improves on the clone instead of unlearning it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

DEMO_NOISE = 0.1
"""std of the Gaussian noise on expert demo actions (diverse demos train a better critic)"""


def add_expert_demos(
    model: Any, venv: Any, episodes: int, seed: int, progress: bool, demo_buffer: Any = None
) -> int:
    """Run the scripted expert (with :data:`DEMO_NOISE`) in ``venv`` for ``episodes``
    episodes and add every transition to ``model.replay_buffer`` (and ``demo_buffer``);
    returns the step count."""
    from tqdm import tqdm

    from agents.policies.experts import make_expert

    env_id = venv.get_attr("spec")[0].id
    n = venv.num_envs
    experts = [
        make_expert(env_id, noise=DEMO_NOISE, rng=np.random.default_rng([seed, 7, i]))
        for i in range(n)
    ]
    obs = venv.reset()
    done_episodes, steps = 0, 0
    bar = tqdm(total=episodes, unit="ep", desc="expert demos", disable=not progress)
    while done_episodes < episodes:
        states = venv.env_method("privileged_state")
        actions = np.stack([experts[i](states[i]) for i in range(n)])
        new_obs, rewards, dones, infos = venv.step(actions)
        next_obs = _real_next_obs(new_obs, dones, infos)
        model.replay_buffer.add(obs, next_obs, actions, rewards, dones, infos)
        if demo_buffer is not None:
            demo_buffer.add(obs, next_obs, actions, rewards, dones, infos)
        obs = new_obs
        steps += n
        for i in np.flatnonzero(dones).tolist():
            experts[i].reset()
            done_episodes += 1
            bar.update(1)
    bar.close()
    return steps


def pretrain_from_demos(model: Any, steps: int, progress: bool = True) -> dict[str, float]:
    """Behaviour-clone the SAC actor on the replay buffer (maximum likelihood of the demo
    actions), then fit the critics to that actor with TD steps, the actor held fixed.
    Returns the final losses."""
    import torch.nn.functional as F
    from stable_baselines3.common.utils import polyak_update
    from tqdm import trange

    actor, critic, buffer = model.actor, model.critic, model.replay_buffer
    batch = model.batch_size
    model.policy.set_training_mode(True)
    bc_loss = torch.zeros(())
    for _ in trange(steps, desc="pretrain actor (BC)", disable=not progress):
        data = buffer.sample(batch)
        mean, log_std, kwargs = actor.get_action_dist_params(data.observations)
        dist = actor.action_dist.proba_distribution(mean, log_std, **kwargs)
        target = torch.clamp(data.actions, -0.98, 0.98)  # atanh of a saturated action is inf
        bc_loss = -dist.log_prob(target).mean()
        actor.optimizer.zero_grad()
        bc_loss.backward()
        actor.optimizer.step()
    if model.log_ent_coef is not None:
        ent_coef = torch.exp(model.log_ent_coef.detach())
    else:
        ent_coef = model.ent_coef_tensor
    critic_loss = torch.zeros(())
    for _ in trange(steps, desc="pretrain critic (TD)", disable=not progress):
        data = buffer.sample(batch)
        with torch.no_grad():
            next_actions, next_log_prob = actor.action_log_prob(data.next_observations)
            next_q = torch.cat(model.critic_target(data.next_observations, next_actions), dim=1)
            next_q = next_q.min(dim=1, keepdim=True)[0] - ent_coef * next_log_prob.reshape(-1, 1)
            target_q = data.rewards + (1 - data.dones) * model.gamma * next_q
        current = critic(data.observations, data.actions)
        critic_loss = 0.5 * sum(F.mse_loss(q, target_q) for q in current)  # type: ignore[assignment]
        critic.optimizer.zero_grad()
        critic_loss.backward()
        critic.optimizer.step()
        polyak_update(critic.parameters(), model.critic_target.parameters(), model.tau)
    return {"bc_nll": float(bc_loss.detach()), "critic_loss": float(critic_loss.detach())}


def install_demo_regularizer(model: Any, demo_buffer: Any, weight: float) -> None:
    """Add ``weight`` x the Q-filtered behaviour-cloning loss on a demo batch to every SAC
    actor update: the actor optimizer's ``step`` backpropagates it before stepping, so
    SB3's own ``train`` needs no change."""
    actor, critic = model.actor, model.critic

    def bc_loss() -> Any:
        demo = demo_buffer.sample(model.batch_size)
        mean, _, _ = actor.get_action_dist_params(demo.observations)
        pi = torch.tanh(mean)
        with torch.no_grad():
            q_demo = torch.cat(critic(demo.observations, demo.actions), dim=1).min(dim=1)[0]
            q_pi = torch.cat(critic(demo.observations, pi), dim=1).min(dim=1)[0]
            keep = (q_demo > q_pi).float()  # the Q-filter
        return weight * (((pi - demo.actions) ** 2).sum(dim=1) * keep).mean()

    old = actor.optimizer
    new = RegularizedAdam(actor.parameters(), bc_loss, **old.defaults)
    new.load_state_dict(old.state_dict())
    actor.optimizer = new


class RegularizedAdam(torch.optim.Adam):
    """Adam whose ``step`` first backpropagates an extra loss into the gradients."""

    def __init__(self, params: Any, regularizer: Callable[[], torch.Tensor], **defaults: Any):
        super().__init__(params, **defaults)
        self.regularizer = regularizer

    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        """Add the regularizer's gradients, then take the Adam step."""
        self.regularizer().backward()
        return super().step(closure)


def _real_next_obs(new_obs: Any, dones: np.ndarray, infos: list[dict[str, Any]]) -> Any:
    """SB3 auto-resets: the true last observation of a finished episode is in its info."""
    if isinstance(new_obs, dict):
        out = {k: v.copy() for k, v in new_obs.items()}
        for i in np.flatnonzero(dones).tolist():
            for k in out:
                out[k][i] = infos[i]["terminal_observation"][k]
        return out
    out_arr = np.array(new_obs, copy=True)
    for i in np.flatnonzero(dones).tolist():
        out_arr[i] = infos[i]["terminal_observation"]
    return out_arr
