"""A fake plugin with a task whose dataset nobody registers."""

from mammobench.api import Capability, TaskSpec, hookimpl


@hookimpl
def mammobench_register_tasks():
    return [
        TaskSpec(
            name="orphan-task",
            description="Task without a dataset.",
            loader="os:getcwd",
            version="1",
            dataset="no-such-dataset",
            kind="classification",
            capabilities=[Capability.GLOBAL],
            protocols=["linear-probe"],
            main_metric="auc",
        )
    ]
