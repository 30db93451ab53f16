"""Reinforcement learning with Stable-Baselines3 (SAC or PPO) on the domrand envs: the
config, the hyperparameter rules, expert demonstrations for SAC, and the training run."""
