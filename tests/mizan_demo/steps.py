"""Steps of the test-only "demo" task (imported inside the sandbox via ``--import``)."""

from __future__ import annotations

import json

from grader.run.step_api import StepContext, step


class _Param:
    def __init__(self, shape, trainable):
        self.shape = tuple(shape)
        self.requires_grad = trainable

    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


class FakeModel:
    """Just enough of ``torch.nn.Module`` for ``count_parameters``."""

    def __init__(self, shapes, trainable):
        self._params = [(f"p{i}", _Param(s, t)) for i, (s, t) in enumerate(zip(shapes, trainable))]

    def named_parameters(self):
        return iter(self._params)

    def parameters(self):
        return (p for _, p in self._params)


@step("demo.count", task="demo", timeout_s=20, visible=True)
def demo_count(ctx: StepContext) -> None:
    spec = json.loads((ctx.inputs / "demo" / "model.json").read_text())
    nli = ctx.module("nli")
    trainable, total = nli.count_parameters(FakeModel(spec["shapes"], spec["trainable"]))
    ctx.write_json("demo/count.json", {"trainable": trainable, "total": total})


@step("demo.adasyn", task="demo", timeout_s=20, visible=False)
def demo_adasyn(ctx: StepContext) -> None:
    import numpy as np

    data = np.load(ctx.inputs / "demo" / "adasyn.npz")
    adasyn = ctx.module("adasyn")
    X_res, y_res = adasyn.ADASYN(k=2, random_state=0).fit_resample(data["X"], data["y"])
    ctx.write_npz("demo/adasyn.npz", X_res=X_res, y_res=y_res)
