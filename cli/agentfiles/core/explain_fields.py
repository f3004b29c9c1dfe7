"""The pydantic forms of the field types of core/fields.py, for the models that explain a document the fast
path refused (core/explain.py): the same checks, run by pydantic, so that its errors name each problem."""

# No `from __future__ import annotations` here: pydantic would evaluate every string annotation when
# the classes are built, which triples the import time of this module.

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints

from agentfiles.core.fields import input_key, names, not_a_bool, repo_path, run_id, step_id, task_id

Count = Annotated[int, BeforeValidator(not_a_bool)]  # a number of things (calls, tokens), never true or false
Amount = Annotated[float, BeforeValidator(not_a_bool)]  # seconds, dollars: never true or false either
RoleNames = Annotated[str | list[str] | None, BeforeValidator(names)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False, defer_build=True)


RepoPath = Annotated[str, AfterValidator(repo_path)]
TaskId = Annotated[str, AfterValidator(task_id)]
StepId = Annotated[str, AfterValidator(step_id)]
RunId = Annotated[str, AfterValidator(run_id)]
Digest = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]
InputKey = Annotated[str, AfterValidator(input_key)]
