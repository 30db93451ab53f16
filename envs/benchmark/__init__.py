"""Benchmarks of the envs, split by what they measure: ``frames`` (steps/s, frames/s and
reset time next to the ``raw`` PyBullet replay of the same scene), ``scaling`` (randomized
frames/s across processes), ``export`` (dataset-export images/s next to bare rendering);
``tables`` holds the rows and Markdown tables, ``checks`` the up-front argument checks."""
