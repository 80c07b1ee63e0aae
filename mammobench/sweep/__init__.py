"""Sweeps: every (encoder, task, protocol, label fraction, seed) cell of a TOML file.

- :mod:`mammobench.sweep.config`: the validated sweep file and command-line overrides.
- :mod:`mammobench.sweep.plan`: expansion into cells, shards, and work items for executors.
- :mod:`mammobench.sweep.worker`: what runs one work item, in any process.
- :mod:`mammobench.sweep.local` and :mod:`mammobench.sweep.ray_executor`: the executors.
- :mod:`mammobench.sweep.run`: :func:`run_sweep`, which ties them together.
"""
